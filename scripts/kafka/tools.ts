import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { LauncherError } from './errors.js';

/** Oldest Java release the launcher accepts. The local broker is tested on Java 17. */
export const MIN_JAVA_MAJOR = 17;

export interface CommandResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr, interleaved in arrival order. */
  output: string;
}

/**
 * Runs a command to completion and collects its output. Rejects with the
 * spawn error (ENOENT when the program is missing). A non-zero exit resolves normally.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', reject);
    child.on('close', (exitCode, signal) => {
      resolve({ exitCode, signal, output: Buffer.concat(chunks).toString('utf8') });
    });
  });
}

export function isMissingProgram(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/**
 * Finds the java executable (JAVA_HOME/bin/java, else java on PATH) and
 * checks that it is Java 17 or newer.
 */
export async function findJava(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const java = env.JAVA_HOME ? join(env.JAVA_HOME, 'bin', 'java') : 'java';
  const installHint =
    `Install a Java ${MIN_JAVA_MAJOR}+ runtime (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) ` +
    'or set KAFKA_BOOTSTRAP_SERVERS to use an existing broker.';

  let result: CommandResult;
  try {
    result = await runCommand(java, ['-version']);
  } catch (error) {
    if (isMissingProgram(error)) {
      const where = env.JAVA_HOME ? `at ${java} (from JAVA_HOME)` : 'on PATH';
      throw new LauncherError(`Java was not found ${where}. ${installHint}`);
    }
    throw error;
  }

  const major = parseJavaMajor(result.output);
  if (result.exitCode !== 0 || major === undefined) {
    throw new LauncherError(
      `"${java} -version" failed (exit code ${result.exitCode}):\n${result.output.trim()}\n${installHint}`,
    );
  }
  if (major < MIN_JAVA_MAJOR) {
    throw new LauncherError(`${java} is Java ${major}, but the launcher needs Java ${MIN_JAVA_MAJOR}+. ${installHint}`);
  }
  return java;
}

/** Extracts the major release from `java -version` output ("1.8.0_402" is 8, "17.0.15" is 17). */
export function parseJavaMajor(versionOutput: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(versionOutput);
  if (!match) {
    return undefined;
  }
  const first = Number(match[1]);
  return first === 1 && match[2] !== undefined ? Number(match[2]) : first;
}

/** Checks that Maven is on PATH and returns the command name. */
export async function findMaven(libsDir: string): Promise<string> {
  try {
    const result = await runCommand('mvn', ['-v']);
    if (result.exitCode === 0) {
      return 'mvn';
    }
    throw new LauncherError(`"mvn -v" failed (exit code ${result.exitCode}):\n${result.output.trim()}`);
  } catch (error) {
    if (isMissingProgram(error)) {
      throw new LauncherError(
        `Maven was not found on PATH. The launcher needs it once to download the Kafka broker jars into ${libsDir}. ` +
          'Install it (Debian/Ubuntu: apt-get install maven) or set KAFKA_BOOTSTRAP_SERVERS to use an existing broker.',
      );
    }
    throw error;
  }
}
