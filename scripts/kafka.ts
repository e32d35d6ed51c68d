/**
 * Local Kafka broker for development and tests.
 *
 *   tsx scripts/kafka.ts start    start a broker in the background (pid file in the state folder)
 *   tsx scripts/kafka.ts stop     stop every broker that `start` recorded
 *   tsx scripts/kafka.ts status   list recorded brokers
 *   tsx scripts/kafka.ts resolve  download the broker jars with Maven, start nothing
 *
 * Importing this module runs no command; it exports the launcher API.
 */
import { rm } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { startBroker } from './kafka/broker.js';
import { LauncherError } from './kafka/errors.js';
import { resolveBrokerJars } from './kafka/jars.js';
import { terminateProcess } from './kafka/process.js';
import { waitUntilReady } from './kafka/readiness.js';
import { isRecordedBrokerRunning, readRecord, readRecords, removeRecord, writeRecord } from './kafka/records.js';
import { readSettings } from './kafka/settings.js';

export { acquireBroker, type AcquiredBroker } from './kafka/acquire.js';
export { startBroker, type RunningBroker, type StartBrokerOptions, type StoppedBroker } from './kafka/broker.js';
export { LauncherError } from './kafka/errors.js';
export { resolveBrokerJars } from './kafka/jars.js';
export { readSettings, DEFAULT_KAFKA_VERSION, DEFAULT_PORT } from './kafka/settings.js';

const USAGE = `Usage: tsx scripts/kafka.ts <start|stop|status|resolve>

  start    Start a single-node Kafka broker on 127.0.0.1 in the background.
  stop     Stop the brokers started by "start" and remove their storage.
  status   List the brokers started by "start".
  resolve  Download the Kafka broker jars with Maven into the cache.

Environment:
  TICKBUS_KAFKA_PORT              client listener port (default 19092)
  TICKBUS_KAFKA_CONTROLLER_PORT   KRaft controller port (default: client port + 1)
  TICKBUS_KAFKA_START_TIMEOUT_MS  time the broker gets to answer requests (default 90000)
  TICKBUS_KAFKA_VERSION           Kafka 3.x release to run (default 3.9.1)
  KAFKA_BOOTSTRAP_SERVERS         use this broker instead; "start" then starts nothing
  XDG_CACHE_HOME                  cache root for the jars, pid files and logs (default ~/.cache)`;

function print(message: string): void {
  process.stdout.write(`${message}\n`);
}

async function startCommand(): Promise<void> {
  const external = process.env.KAFKA_BOOTSTRAP_SERVERS?.trim();
  if (external) {
    print(`KAFKA_BOOTSTRAP_SERVERS is set to ${external}, so no local broker is started.`);
    return;
  }

  const settings = readSettings();
  const existing = await readRecord(settings.stateDir, settings.port);
  if (existing) {
    if (await isRecordedBrokerRunning(existing)) {
      const readiness = await waitUntilReady(existing.bootstrapServers, { timeoutMs: settings.startTimeoutMs });
      if (!readiness.ready) {
        throw new LauncherError(
          `A broker from an earlier "start" is running on ${existing.bootstrapServers} (pid ${existing.pid}) ` +
            `but does not answer: ${readiness.reason}. Run "npm run kafka:stop" and start again, ` +
            `or read the broker log at ${existing.logFile}.`,
        );
      }
      print(`Kafka is already running on ${existing.bootstrapServers} (pid ${existing.pid}). Log: ${existing.logFile}`);
      return;
    }
    await rm(existing.dataDir, { recursive: true, force: true });
    await removeRecord(settings.stateDir, existing.port);
  }

  const broker = await startBroker({
    detached: true,
    log: print,
    // Recorded before the broker is ready, so "stop" finds it even if this command is interrupted.
    onSpawn: (info) => writeRecord(settings.stateDir, { ...info, startedAt: new Date().toISOString() }),
  }).catch(async (error: unknown) => {
    await removeRecord(settings.stateDir, settings.port);
    throw error;
  });

  print(
    `Kafka ${broker.kafkaVersion} is ready on ${broker.bootstrapServers} after ${(broker.startupMs / 1000).toFixed(1)} s (pid ${broker.pid}).`,
  );
  print(`Broker log: ${broker.logFile}`);
  print(`Stop it with: npm run kafka:stop`);
}

async function stopCommand(): Promise<void> {
  const settings = readSettings();
  const records = await readRecords(settings.stateDir);
  if (records.length === 0) {
    print(`No broker started by "npm run kafka:start" is recorded in ${settings.stateDir}; nothing to stop.`);
    return;
  }

  for (const record of records) {
    if (await isRecordedBrokerRunning(record)) {
      const outcome = await terminateProcess(record.pid);
      print(`Kafka on ${record.bootstrapServers} (pid ${record.pid}) ${outcome === 'killed' ? 'was killed with SIGKILL after not stopping on SIGTERM' : 'stopped'}.`);
    } else {
      print(`Kafka on ${record.bootstrapServers} (pid ${record.pid}) was not running; removing its files.`);
    }
    await rm(record.dataDir, { recursive: true, force: true });
    await removeRecord(settings.stateDir, record.port);
  }
  print(`Broker logs are kept in ${settings.stateDir}`);
}

async function statusCommand(): Promise<void> {
  const settings = readSettings();
  const records = await readRecords(settings.stateDir);
  if (records.length === 0) {
    print('No broker started by "npm run kafka:start" is recorded.');
    return;
  }
  for (const record of records) {
    const state = (await isRecordedBrokerRunning(record)) ? 'running' : 'not running';
    print(`${record.bootstrapServers}: ${state} (pid ${record.pid}, Kafka ${record.kafkaVersion}, log: ${record.logFile})`);
  }
}

async function resolveCommand(): Promise<void> {
  const settings = readSettings();
  const libsDir = await resolveBrokerJars(settings, print);
  print(`Kafka ${settings.kafkaVersion} broker jars are in ${libsDir}`);
}

const COMMANDS: Record<string, () => Promise<void>> = {
  start: startCommand,
  stop: stopCommand,
  status: statusCommand,
  resolve: resolveCommand,
};

async function main(args: string[]): Promise<number> {
  const command = args[0] === undefined ? undefined : COMMANDS[args[0]];
  if (command === undefined || args.length > 1) {
    process.stderr.write(`${USAGE}\n`);
    return args[0] === '--help' || args[0] === '-h' ? 0 : 2;
  }
  try {
    await command();
    return 0;
  } catch (error) {
    if (error instanceof LauncherError) {
      process.stderr.write(`Error: ${error.message}\n`);
    } else {
      process.stderr.write(`Unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    }
    return 1;
  }
}

function isMainModule(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) {
    return false;
  }
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  process.exitCode = await main(process.argv.slice(2));
}
