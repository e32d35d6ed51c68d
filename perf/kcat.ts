import { spawn, spawnSync } from 'node:child_process'

/** Returns whether a kcat binary is on PATH. */
export function kcatAvailable (): boolean {
  const probe = spawnSync('kcat', ['-V'], { stdio: 'ignore' })
  return probe.error === undefined && probe.status === 0
}

export interface KcatResult {
  /** Offsets kcat printed in the window. */
  readonly windowEvents: number
  /** Events per second from the window's first line to the last line. */
  readonly receiveRatePerSec: number
}

/**
 * Times kcat (librdkafka) reading `topic` from the beginning of every partition with no decoding:
 * `kcat -C -o beginning -e -c EVENTS -q -f '%o\n'` prints one offset per message and exits after
 * the last one. The ceiling the broker allows a native consumer on this machine. Lines
 * before `warmupFraction` of `events` are the warm-up, and the rate covers the rest. Lines are
 * timed when their stdout chunk arrives, so a pipe buffer of lines is timed together.
 */
export async function measureKcat (bootstrapServers: string, topic: string, events: number, warmupFraction: number, timeoutMs: number, onProgress: (done: number) => void): Promise<KcatResult> {
  // -c exits right after the last message, so its buffered lines arrive then; -e alone would
  // wait for an end-of-partition fetch on every partition first.
  const child = spawn('kcat', ['-C', '-b', bootstrapServers, '-t', topic, '-o', 'beginning', '-e', '-c', String(events), '-q', '-f', '%o\\n'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let lines = 0
  let windowStartLines = 0
  let windowStartMs = Number.NaN
  let lastMs = Number.NaN
  let stderr = ''
  const warmupLines = Math.floor(events * warmupFraction)
  const timer = setTimeout(() => { child.kill('SIGTERM') }, timeoutMs)

  child.stdout.on('data', (chunk: Buffer) => {
    const now = performance.now()
    let count = 0
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) count++
    lines += count
    if (Number.isNaN(windowStartMs)) {
      if (lines >= warmupLines) {
        windowStartMs = now
        windowStartLines = lines
      }
    } else {
      lastMs = now
    }
    onProgress(lines)
  })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })

  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => { resolve(code) })
  }).finally(() => { clearTimeout(timer) })

  if (exitCode !== 0) throw new Error(`kcat exited with code ${String(exitCode)} after ${lines} of ${events} messages: ${stderr.trim() || 'no output on stderr'}`)
  if (lines !== events) throw new Error(`kcat read ${lines} messages from ${topic}, expected ${events}: ${stderr.trim()}`)
  const windowEvents = lines - windowStartLines
  const seconds = (lastMs - windowStartMs) / 1000
  return { windowEvents, receiveRatePerSec: seconds > 0 ? windowEvents / seconds : Number.NaN }
}
