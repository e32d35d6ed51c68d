import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** Time a broker gets for a controlled shutdown after SIGTERM before it is killed. */
export const SHUTDOWN_GRACE_MS = 30_000;
const KILL_WAIT_MS = 5_000;
const POLL_INTERVAL_MS = 100;

/**
 * Reports whether a process exists and is not a zombie. A zombie counts as
 * exited because a container's init process may never reap it.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state letter follows the parenthesised command name.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && process.platform === 'linux') {
      return false;
    }
  }
  // Without /proc, fall back to signal 0, which also succeeds for zombies.
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Reads a process's command line, or returns undefined when /proc does not
 * have it (process gone, or not Linux).
 */
export async function readCommandLine(pid: number): Promise<string | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

/**
 * Sends SIGTERM, waits up to `graceMs` for the process to exit, then sends
 * SIGKILL. Returns how the process ended.
 */
export async function terminateProcess(
  pid: number,
  graceMs: number = SHUTDOWN_GRACE_MS,
): Promise<'not running' | 'terminated' | 'killed'> {
  if (!isProcessAlive(pid)) {
    return 'not running';
  }
  sendSignal(pid, 'SIGTERM');
  if (await waitForExit(pid, graceMs)) {
    return 'terminated';
  }
  sendSignal(pid, 'SIGKILL');
  if (await waitForExit(pid, KILL_WAIT_MS)) {
    return 'killed';
  }
  throw new Error(`Process ${pid} is still running ${KILL_WAIT_MS} ms after SIGKILL.`);
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isProcessAlive(pid)) {
      return true;
    }
    await sleep(POLL_INTERVAL_MS);
  }
  return !isProcessAlive(pid);
}

function sendSignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') {
      throw error;
    }
  }
}
