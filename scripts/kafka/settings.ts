import { homedir } from 'node:os';
import { join } from 'node:path';

import { LauncherError } from './errors.js';

/**
 * Kafka release the launcher runs. kafkajs 2.2.4 predates Kafka 4.0, which
 * removed old protocol API versions (KIP-896), so the broker stays on the
 * 3.9 line, which still serves them.
 */
export const DEFAULT_KAFKA_VERSION = '3.9.1';
export const DEFAULT_PORT = 19092;
export const DEFAULT_START_TIMEOUT_MS = 90_000;

/** Paths and ports for one local broker, derived from the environment. */
export interface LauncherSettings {
  kafkaVersion: string;
  /** Port of the PLAINTEXT client listener on 127.0.0.1. */
  port: number;
  /** Port of the KRaft controller listener on 127.0.0.1. */
  controllerPort: number;
  startTimeoutMs: number;
  /** Folder with the broker jars and their dependencies, shared by all checkouts. */
  libsDir: string;
  /** Folder with the pid files and logs of brokers started by the launcher. */
  stateDir: string;
}

/** Options that override the environment, for callers of the API. */
export interface SettingsOverrides {
  port?: number;
  controllerPort?: number;
  startTimeoutMs?: number;
}

/**
 * Reads the launcher settings from the environment:
 * TICKBUS_KAFKA_PORT (default 19092), TICKBUS_KAFKA_CONTROLLER_PORT
 * (default: client port + 1), TICKBUS_KAFKA_START_TIMEOUT_MS (default 90000),
 * TICKBUS_KAFKA_VERSION (a 3.x release, default 3.9.1) and XDG_CACHE_HOME for the cache root.
 */
export function readSettings(
  env: NodeJS.ProcessEnv = process.env,
  overrides: SettingsOverrides = {},
): LauncherSettings {
  const kafkaVersion = env.TICKBUS_KAFKA_VERSION?.trim() || DEFAULT_KAFKA_VERSION;
  // Kafka 4 logs through log4j 2 and would ignore the log4j 1 configuration the launcher writes.
  if (!/^3\.\d+\.\d+$/.test(kafkaVersion)) {
    throw new LauncherError(
      `TICKBUS_KAFKA_VERSION is invalid: "${kafkaVersion}". Expected a Kafka 3.x release such as ${DEFAULT_KAFKA_VERSION}.`,
    );
  }

  const port = overrides.port ?? parsePort(env, 'TICKBUS_KAFKA_PORT', DEFAULT_PORT);
  const controllerPort =
    overrides.controllerPort ?? parsePort(env, 'TICKBUS_KAFKA_CONTROLLER_PORT', port + 1);
  if (controllerPort === port) {
    throw new LauncherError(
      `The Kafka client port and controller port are both ${port}. Set TICKBUS_KAFKA_CONTROLLER_PORT to another free port.`,
    );
  }

  const startTimeoutMs =
    overrides.startTimeoutMs ??
    parsePositiveInteger(env, 'TICKBUS_KAFKA_START_TIMEOUT_MS', DEFAULT_START_TIMEOUT_MS);

  const cacheRoot = join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tickbus');
  return {
    kafkaVersion,
    port,
    controllerPort,
    startTimeoutMs,
    libsDir: join(cacheRoot, `kafka-${kafkaVersion}`, 'libs'),
    stateDir: join(cacheRoot, 'kafka-state'),
  };
}

function parsePort(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const port = parsePositiveInteger(env, name, fallback);
  if (port > 65535) {
    throw new LauncherError(`${name} is invalid: ${port}. Expected a TCP port between 1 and 65535.`);
  }
  return port;
}

function parsePositiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) {
    return fallback;
  }
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new LauncherError(`${name} is invalid: "${raw}". Expected a positive integer.`);
  }
  return value;
}
