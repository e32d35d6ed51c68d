import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { writeBrokerConfig, type BrokerConfigFiles } from './broker-config.js';
import { LauncherError } from './errors.js';
import { resolveBrokerJars } from './jars.js';
import { DATA_DIR_PREFIX, removeOrphanedBrokers, writeOwner } from './orphans.js';
import { isProcessAlive, terminateProcess } from './process.js';
import { waitUntilReady } from './readiness.js';
import { readSettings, type LauncherSettings, type SettingsOverrides } from './settings.js';
import { findJava, runCommand } from './tools.js';

const JVM_OPTIONS = ['-Xmx512m', '-Xms128m', '-XX:+UseG1GC', '-Djava.awt.headless=true'];
const LOG_TAIL_LINES = 15;
const READINESS_HINTS = {
  timeout: ', or raise TICKBUS_KAFKA_START_TIMEOUT_MS on a slow machine',
  aborted: '',
  'other-broker': ', and set TICKBUS_KAFKA_PORT and TICKBUS_KAFKA_CONTROLLER_PORT to free ports',
} as const;

export interface StartBrokerOptions extends SettingsOverrides {
  /** Environment to read the settings from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /**
   * Runs the broker in its own session so it outlives this process, as
   * `kafka.ts start` needs. Otherwise the broker is killed when this process exits.
   */
  detached?: boolean;
  /** Receiver of progress messages (default: none). */
  log?: (message: string) => void;
  /** Broker log path (default: broker-<port>.log in the state folder). */
  logFile?: string;
  /** Called with the pid right after the JVM is spawned, before the broker is ready. */
  onSpawn?: (broker: BrokerProcessInfo) => void | Promise<void>;
}

export interface BrokerProcessInfo {
  pid: number;
  port: number;
  controllerPort: number;
  bootstrapServers: string;
  /** Temporary folder with the configuration and the KRaft storage, removed on stop. */
  dataDir: string;
  /** Broker log with the JVM's stdout and stderr, kept after stop. */
  logFile: string;
  kafkaVersion: string;
}

export interface RunningBroker extends BrokerProcessInfo {
  /** Milliseconds from spawning the JVM until the first successful metadata request. */
  startupMs: number;
  /** Stops the broker (SIGTERM, then SIGKILL after 30 s) and removes its data folder. */
  stop(): Promise<void>;
  /**
   * Stops the broker process and keeps its data folder, so that the returned handle can start
   * the same broker again with its topics, records and committed offsets. `SIGTERM` (default)
   * is a controlled shutdown. `SIGKILL` ends the JVM at once, as a crash would. After the call,
   * use the returned handle instead of this one.
   */
  stopKeepingData(options?: { signal?: 'SIGTERM' | 'SIGKILL' }): Promise<StoppedBroker>;
}

/** A broker whose process was stopped while its data folder was kept. */
export interface StoppedBroker extends Omit<BrokerProcessInfo, 'pid'> {
  /**
   * Starts the broker again on the same ports and storage, appending to the same log, and
   * resolves once it responds to a metadata request. Throws a LauncherError like startBroker().
   */
  restart(): Promise<RunningBroker>;
  /** Removes the data folder. Also done when this process exits while the broker is stopped. */
  removeData(): Promise<void>;
}

/**
 * Starts a single-node Kafka broker (KRaft, combined broker and controller)
 * on 127.0.0.1 and resolves once a metadata request to it succeeds.
 * Throws a LauncherError that names the fix when Java or Maven is missing,
 * a port is in use, or the broker does not come up within the timeout.
 */
export async function startBroker(options: StartBrokerOptions = {}): Promise<RunningBroker> {
  const log = options.log ?? (() => {});
  const settings = readSettings(options.env ?? process.env, options);

  const java = await findJava(options.env ?? process.env);
  const libsDir = await resolveBrokerJars(settings, log);
  await removeOrphanedBrokers(log);
  await assertPortFree(settings.port, 'TICKBUS_KAFKA_PORT', 'Kafka client');
  await assertPortFree(settings.controllerPort, 'TICKBUS_KAFKA_CONTROLLER_PORT', 'KRaft controller');

  await mkdir(settings.stateDir, { recursive: true });
  const logFile = options.logFile ?? join(settings.stateDir, `broker-${settings.port}.log`);
  const dataDir = await mkdtemp(join(tmpdir(), `${DATA_DIR_PREFIX}${settings.port}-`));

  try {
    const config = await writeBrokerConfig(dataDir, settings);
    await formatStorage(java, libsDir, config);
    return await launch(java, libsDir, config, settings, { dataDir, logFile }, options);
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}

async function launch(
  java: string,
  libsDir: string,
  config: BrokerConfigFiles,
  settings: LauncherSettings,
  paths: { dataDir: string; logFile: string; appendLog?: boolean },
  options: StartBrokerOptions,
): Promise<RunningBroker> {
  const log = options.log ?? (() => {});
  const detached = options.detached ?? false;
  const bootstrapServers = `127.0.0.1:${settings.port}`;

  const logFd = openSync(paths.logFile, paths.appendLog === true ? 'a' : 'w');
  let child: ChildProcess;
  try {
    child = spawn(
      java,
      [
        ...JVM_OPTIONS,
        `-Dlog4j.configuration=file:${config.log4jProperties}`,
        '-cp',
        join(libsDir, '*'),
        'kafka.Kafka',
        config.serverProperties,
      ],
      { cwd: paths.dataDir, detached, stdio: ['ignore', logFd, logFd] },
    );
  } finally {
    closeSync(logFd);
  }

  const spawnError = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', resolve);
  });
  if (spawnError !== undefined || child.pid === undefined) {
    throw new LauncherError(`Failed to start ${java}: ${spawnError?.message ?? 'no process id'}`);
  }
  const pid = child.pid;

  let exitDescription: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitDescription = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      resolve();
    });
  });
  const killOnExit = (): void => {
    if (isProcessAlive(pid)) {
      process.kill(pid, 'SIGKILL');
    }
    rmSync(paths.dataDir, { recursive: true, force: true });
  };
  if (!detached) {
    process.once('exit', killOnExit);
  }

  const info: BrokerProcessInfo = {
    pid,
    port: settings.port,
    controllerPort: settings.controllerPort,
    bootstrapServers,
    dataDir: paths.dataDir,
    logFile: paths.logFile,
    kafkaVersion: settings.kafkaVersion,
  };
  const stop = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    await terminateProcess(pid);
    await rm(paths.dataDir, { recursive: true, force: true });
  };
  const stopKeepingData = async (stopOptions: { signal?: 'SIGTERM' | 'SIGKILL' } = {}): Promise<StoppedBroker> => {
    process.removeListener('exit', killOnExit);
    const removeOnExit = (): void => rmSync(paths.dataDir, { recursive: true, force: true });
    process.once('exit', removeOnExit);
    if (stopOptions.signal === 'SIGKILL') {
      if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
      await exited;
    } else {
      await terminateProcess(pid);
    }
    log(`Stopped Kafka on ${bootstrapServers} (pid ${pid}). Its data stays in ${paths.dataDir}`);
    const { pid: _stoppedPid, ...location } = info;
    return {
      ...location,
      restart: () => {
        process.removeListener('exit', removeOnExit);
        return launch(java, libsDir, config, settings, { ...paths, appendLog: true }, options);
      },
      removeData: async () => {
        process.removeListener('exit', removeOnExit);
        await rm(paths.dataDir, { recursive: true, force: true });
      },
    };
  };

  log(`Starting Kafka ${settings.kafkaVersion} on ${bootstrapServers} (pid ${pid}), log: ${paths.logFile}`);
  try {
    if (!detached) {
      // Lets a later launcher stop this broker if this process dies by SIGKILL, when no 'exit' handler runs.
      await writeOwner(paths.dataDir, { ownerPid: process.pid, brokerPid: pid });
    }
    await options.onSpawn?.(info);
    const readiness = await waitUntilReady(bootstrapServers, {
      timeoutMs: settings.startTimeoutMs,
      checkAborted: () => (exitDescription ? `the broker process ${exitDescription}` : undefined),
      expectedClusterId: config.clusterId,
    });
    if (!readiness.ready) {
      throw new LauncherError(
        `Kafka broker on ${bootstrapServers} did not start: ${readiness.reason}. ` +
          `Read the broker log at ${paths.logFile}${READINESS_HINTS[readiness.cause]}.` +
          (await formatLogTail(paths.logFile)),
      );
    }
    if (detached) {
      child.unref();
    }
    return { ...info, startupMs: readiness.elapsedMs, stop, stopKeepingData };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function formatStorage(java: string, libsDir: string, config: BrokerConfigFiles): Promise<void> {
  const result = await runCommand(java, [
    ...JVM_OPTIONS,
    `-Dlog4j.configuration=file:${config.log4jProperties}`,
    '-cp',
    join(libsDir, '*'),
    'kafka.tools.StorageTool',
    'format',
    '--cluster-id',
    config.clusterId,
    '--config',
    config.serverProperties,
  ]);
  if (result.exitCode !== 0) {
    throw new LauncherError(
      `Formatting the KRaft storage failed (kafka.tools.StorageTool exit code ${result.exitCode}):\n${result.output.trim()}`,
    );
  }
}

/**
 * Returns `count` distinct TCP ports that were free on 127.0.0.1 a moment ago.
 * Another process may still take one before the broker binds it.
 */
export async function findFreePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (server) =>
          new Promise<number>((resolve, reject) => {
            server.once('error', reject);
            server.listen({ host: '127.0.0.1', port: 0 }, () => {
              const address = server.address();
              if (address !== null && typeof address === 'object') {
                resolve(address.port);
              } else {
                reject(new Error('The port probe socket has no TCP address.'));
              }
            });
          }),
      ),
    );
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/** Binds the port on 127.0.0.1 for a moment to find out whether another process is bound to it. */
export async function assertPortFree(port: number, variable: string, purpose: string): Promise<void> {
  const inUse = await new Promise<boolean>((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') {
        resolve(true);
      } else {
        reject(error);
      }
    });
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      server.close(() => resolve(false));
    });
  });
  if (inUse) {
    throw new LauncherError(
      `Port ${port} on 127.0.0.1 (${purpose} listener) is in use. ` +
        `If it is a broker from "npm run kafka:start", run "npm run kafka:stop"; ` +
        `otherwise set ${variable} to a free port.`,
    );
  }
}

async function formatLogTail(logFile: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(logFile, 'utf8');
  } catch {
    return '';
  }
  const lines = text.trimEnd().split('\n').slice(-LOG_TAIL_LINES);
  return lines.length > 0 && lines[0] !== '' ? `\nLast ${lines.length} lines of the log:\n${lines.join('\n')}` : '';
}
