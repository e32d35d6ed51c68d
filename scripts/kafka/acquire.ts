import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { findFreePorts, startBroker } from './broker.js';
import { LauncherError } from './errors.js';
import { waitUntilReady } from './readiness.js';
import { isRecordedBrokerRunning, readRecord } from './records.js';
import { readSettings } from './settings.js';

const EXISTING_BROKER_TIMEOUT_MS = 30_000;
const TEST_LOG_PREFIX = 'test-broker-';
/** Number of per-run broker logs kept in the state folder. Older ones are deleted. */
const TEST_LOGS_KEPT = 10;

export interface AcquiredBroker {
  bootstrapServers: string;
  /** Origin and address of the broker, for a one-line log message. */
  description: string;
  /** Stops the broker if this call started it, and leaves any other broker running. */
  release(): Promise<void>;
}

/**
 * Finds a broker for a test run, in this order: the one named by
 * KAFKA_BOOTSTRAP_SERVERS, a running broker from `kafka.ts start` on
 * TICKBUS_KAFKA_PORT (default 19092), or a new broker that `release()` stops.
 * A new broker listens on TICKBUS_KAFKA_PORT when it is set, and otherwise on
 * free ports chosen by the OS, so concurrent test runs on one machine do not collide.
 */
export async function acquireBroker(
  env: NodeJS.ProcessEnv = process.env,
  log: (message: string) => void = () => {},
): Promise<AcquiredBroker> {
  const external = env.KAFKA_BOOTSTRAP_SERVERS?.trim();
  if (external) {
    await assertReachable(
      external,
      `Set KAFKA_BOOTSTRAP_SERVERS to a reachable broker, or unset it to let the launcher start a local one.`,
      `KAFKA_BOOTSTRAP_SERVERS=${external}`,
    );
    return { bootstrapServers: external, description: `KAFKA_BOOTSTRAP_SERVERS=${external}`, release: async () => {} };
  }

  const settings = readSettings(env);
  const record = await readRecord(settings.stateDir, settings.port);
  if (record && (await isRecordedBrokerRunning(record))) {
    await assertReachable(
      record.bootstrapServers,
      `Run "npm run kafka:stop" and try again, or read the broker log at ${record.logFile}.`,
      `the broker from "npm run kafka:start" (pid ${record.pid})`,
    );
    return {
      bootstrapServers: record.bootstrapServers,
      description: `the broker from "npm run kafka:start" on ${record.bootstrapServers} (pid ${record.pid}, log: ${record.logFile})`,
      release: async () => {},
    };
  }

  const portFixed = Boolean(env.TICKBUS_KAFKA_PORT?.trim());
  const [port, controllerPort] = portFixed ? [settings.port, settings.controllerPort] : await findFreePorts(2);
  await pruneTestLogs(settings.stateDir);
  const broker = await startBroker({
    env,
    log,
    ...(port === undefined ? {} : { port }),
    ...(controllerPort === undefined ? {} : { controllerPort }),
    logFile: join(settings.stateDir, `${TEST_LOG_PREFIX}${port}.log`),
  });
  return {
    bootstrapServers: broker.bootstrapServers,
    description:
      `a new Kafka ${broker.kafkaVersion} broker on ${broker.bootstrapServers} ` +
      `(ready after ${(broker.startupMs / 1000).toFixed(1)} s, log: ${broker.logFile})`,
    release: () => broker.stop(),
  };
}

async function assertReachable(bootstrapServers: string, fix: string, name: string): Promise<void> {
  const readiness = await waitUntilReady(bootstrapServers, { timeoutMs: EXISTING_BROKER_TIMEOUT_MS });
  if (!readiness.ready) {
    throw new LauncherError(`Kafka broker at ${name} is not reachable: ${readiness.reason}. ${fix}`);
  }
}

/** Deletes all but the newest test broker logs, which would otherwise pile up with one file per port. */
async function pruneTestLogs(stateDir: string): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(stateDir)).filter((name) => name.startsWith(TEST_LOG_PREFIX) && name.endsWith('.log'));
  } catch {
    return;
  }
  const logs = await Promise.all(
    names.map(async (name) => {
      const path = join(stateDir, name);
      return { path, modifiedMs: (await stat(path).catch(() => undefined))?.mtimeMs ?? 0 };
    }),
  );
  logs.sort((a, b) => b.modifiedMs - a.modifiedMs);
  await Promise.all(logs.slice(TEST_LOGS_KEPT - 1).map((entry) => rm(entry.path, { force: true })));
}
