import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { BrokerProcessInfo } from './broker.js';
import { isProcessAlive, readCommandLine } from './process.js';

/** Pid file contents for a broker started by `kafka.ts start`. */
export interface BrokerRecord extends BrokerProcessInfo {
  startedAt: string;
}

const RECORD_PATTERN = /^broker-\d+\.json$/;

function recordPath(stateDir: string, port: number): string {
  return join(stateDir, `broker-${port}.json`);
}

export async function writeRecord(stateDir: string, record: BrokerRecord): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  await writeFile(recordPath(stateDir, record.port), `${JSON.stringify(record, null, 2)}\n`);
}

export async function removeRecord(stateDir: string, port: number): Promise<void> {
  await rm(recordPath(stateDir, port), { force: true });
}

export async function readRecords(stateDir: string): Promise<BrokerRecord[]> {
  let names: string[];
  try {
    names = await readdir(stateDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return [];
    }
    throw error;
  }

  const records: BrokerRecord[] = [];
  for (const name of names.filter((entry) => RECORD_PATTERN.test(entry))) {
    try {
      records.push(JSON.parse(await readFile(join(stateDir, name), 'utf8')) as BrokerRecord);
    } catch {
      // A half-written or hand-edited file names no broker to stop, so it is removed.
      await rm(join(stateDir, name), { force: true });
    }
  }
  return records;
}

export async function readRecord(stateDir: string, port: number): Promise<BrokerRecord | undefined> {
  return (await readRecords(stateDir)).find((record) => record.port === port);
}

/**
 * Reports whether the recorded pid is still the broker the record describes.
 * The command line must name kafka.Kafka and the record's data folder, so a
 * reused pid is never taken for the broker. Without /proc only liveness is checked.
 */
export async function isRecordedBrokerRunning(record: BrokerRecord): Promise<boolean> {
  if (!isProcessAlive(record.pid)) {
    return false;
  }
  const commandLine = await readCommandLine(record.pid);
  if (commandLine === undefined) {
    return process.platform !== 'linux';
  }
  return commandLine.includes('kafka.Kafka') && commandLine.includes(record.dataDir);
}
