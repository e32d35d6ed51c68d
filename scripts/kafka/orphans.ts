import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { isProcessAlive, readCommandLine, terminateProcess } from './process.js';

/** Prefix of the temporary data folders, under os.tmpdir(). */
export const DATA_DIR_PREFIX = 'tickbus-kafka-';
const OWNER_FILE = 'owner.json';

interface OwnerRecord {
  /** Process that started the broker and stops it on exit. */
  ownerPid: number;
  brokerPid: number;
}

/** Records which process owns an attached broker, so a later launcher can clean up after a killed owner. */
export async function writeOwner(dataDir: string, owner: OwnerRecord): Promise<void> {
  await writeFile(join(dataDir, OWNER_FILE), `${JSON.stringify(owner)}\n`);
}

/**
 * Stops brokers whose owning process died without stopping them (for
 * example after SIGKILL) and deletes their data folders. Returns the
 * number of folders removed. Brokers from `kafka.ts start` have no owner
 * file and are left alone.
 */
export async function removeOrphanedBrokers(log: (message: string) => void = () => {}): Promise<number> {
  let names: string[];
  try {
    names = (await readdir(tmpdir())).filter((name) => name.startsWith(DATA_DIR_PREFIX));
  } catch {
    return 0;
  }

  let removed = 0;
  for (const name of names) {
    const dataDir = join(tmpdir(), name);
    const owner = await readOwner(dataDir);
    if (owner === undefined || isProcessAlive(owner.ownerPid)) {
      continue;
    }

    // The pid may have been reused, so only a process started with this data folder is signalled.
    const commandLine = await readCommandLine(owner.brokerPid);
    if (commandLine?.includes('kafka.Kafka') && commandLine.includes(dataDir)) {
      log(`Stopping orphaned Kafka broker (pid ${owner.brokerPid}) whose owner process ${owner.ownerPid} has exited`);
      await terminateProcess(owner.brokerPid);
    }
    await rm(dataDir, { recursive: true, force: true });
    removed += 1;
  }
  return removed;
}

async function readOwner(dataDir: string): Promise<OwnerRecord | undefined> {
  try {
    return JSON.parse(await readFile(join(dataDir, OWNER_FILE), 'utf8')) as OwnerRecord;
  } catch {
    return undefined;
  }
}
