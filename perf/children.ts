import { fork, type ChildProcess } from 'node:child_process'
import type { ConsumerJob, ConsumerMessage, ConsumerResult, ProducerJob, ProducerMessage, ProducerResult, RateProducerJob, RateProducerMessage } from './protocol.js'

const CONSUMER_ENTRY = new URL('./consumer-process.ts', import.meta.url)
const PRODUCER_ENTRY = new URL('./producer-process.ts', import.meta.url)
const RATE_PRODUCER_ENTRY = new URL('./rate-producer.ts', import.meta.url)
/** Time a child gets beyond its own timeout to report and exit, in ms. */
const EXIT_GRACE_MS = 30_000

/** Node options of forked children: the tsx loader, plus CPU profiling when a folder is given. */
function childExecArgv (profileDirectory: string | undefined): string[] {
  const argv = ['--import', 'tsx']
  if (profileDirectory !== undefined) argv.push('--cpu-prof', '--cpu-prof-dir', profileDirectory)
  return argv
}

export interface StartedConsumer {
  /** Resolves when every consumer of the measurement owns its partitions. */
  readonly ready: Promise<void>
  readonly result: Promise<ConsumerResult>
}

/**
 * Forks perf/consumer-process.ts for one measurement. Rejects `result` with the child's message
 * when it fails, and kills the child (by its pid) when it neither reports nor exits within the
 * job's timeout plus EXIT_GRACE_MS.
 */
export function startConsumer (job: ConsumerJob, onProgress: (done: number, total: number) => void, profileDirectory?: string): StartedConsumer {
  const child = fork(CONSUMER_ENTRY, [], { execArgv: childExecArgv(profileDirectory), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let markReady: (() => void) | undefined
  const ready = new Promise<void>((resolve) => { markReady = resolve })
  let outcome: { result: ConsumerResult } | { error: Error } | undefined

  child.on('message', (message: ConsumerMessage) => {
    switch (message.type) {
      case 'ready':
        markReady?.()
        break
      case 'progress':
        onProgress(message.done, message.total)
        break
      case 'result':
        outcome = { result: message.result }
        break
      case 'failed':
        outcome = { error: new Error(`${job.implementation} consumer on ${job.topic} failed: ${message.message}`) }
        break
    }
  })
  child.send(job)

  const result = waitForExit(child, job.timeoutMs + EXIT_GRACE_MS, `${job.implementation} consumer on ${job.topic}`).then(() => {
    if (outcome === undefined) throw new Error(`${job.implementation} consumer on ${job.topic} exited without a result (exit code ${String(child.exitCode)}, signal ${String(child.signalCode)}).`)
    if ('error' in outcome) throw outcome.error
    return outcome.result
  })
  // A consumer that fails before it is ready must not leave a caller waiting on `ready`.
  void result.then(() => markReady?.(), () => markReady?.())
  return { ready, result }
}

/** Forks perf/producer-process.ts for one producer measurement and resolves with its result. */
export async function runProducer (job: ProducerJob, onProgress: (done: number, total: number) => void, profileDirectory?: string): Promise<ProducerResult> {
  const child = fork(PRODUCER_ENTRY, [], { execArgv: childExecArgv(profileDirectory), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let outcome: { result: ProducerResult } | { error: string } | undefined
  child.on('message', (message: ProducerMessage) => {
    if (message.type === 'progress') onProgress(message.done, message.total)
    else if (message.type === 'result') outcome = { result: message.result }
    else outcome = { error: message.message }
  })
  child.send(job)
  await waitForExit(child, job.timeoutMs + EXIT_GRACE_MS, `${job.implementation} producer on ${job.topic}`)
  if (outcome === undefined) throw new Error(`${job.implementation} producer on ${job.topic} exited without a result (exit code ${String(child.exitCode)}).`)
  if ('error' in outcome) throw new Error(`${job.implementation} producer on ${job.topic} failed: ${outcome.error}`)
  return outcome.result
}

/** Forks perf/rate-producer.ts and resolves with its achieved rate in events per second. */
export async function runRateProducer (job: RateProducerJob, timeoutMs: number, onProgress: (done: number, total: number) => void): Promise<number> {
  const child = fork(RATE_PRODUCER_ENTRY, [], { execArgv: childExecArgv(undefined), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let rate: number | undefined
  let failure: string | undefined
  child.on('message', (message: RateProducerMessage) => {
    if (message.type === 'progress') onProgress(message.done, message.total)
    else if (message.type === 'done') rate = message.ratePerSec
    else failure = message.message
  })
  child.send(job)
  await waitForExit(child, timeoutMs, `rate producer on ${job.topic}`)
  if (failure !== undefined) throw new Error(`Rate producer on ${job.topic} failed: ${failure}`)
  if (rate === undefined) throw new Error(`Rate producer on ${job.topic} exited without a report (exit code ${String(child.exitCode)}).`)
  return rate
}

async function waitForExit (child: ChildProcess, timeoutMs: number, name: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`${name} did not finish within ${Math.round(timeoutMs / 1000)} s and was killed.`))
      }, timeoutMs)
      child.once('error', reject)
      // 'close' comes after the IPC channel closed, so every message the child sent has arrived.
      child.once('close', () => { resolve() })
    })
  } finally {
    clearTimeout(timer)
  }
}
