import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import type { Admin, Producer } from 'kafkajs'
import { onTestFinished } from 'vitest'
import { waitFor } from '../helpers/kafka.js'
import type { ConsumerProcessConfig } from './fixtures/consumer-process.js'

const CONSUMER_SCRIPT = fileURLToPath(new URL('./fixtures/consumer-process.ts', import.meta.url))

/** One Load event as a consumer process reported it. */
export interface SeenEvent {
  readonly id: number
  readonly partition: number
  readonly offset: number
}

/** A JSON line of the consumer process; see fixtures/consumer-process.ts for the types. */
export type ConsumerLine = { type: string } & Record<string, unknown>

/**
 * A consumer process (fixtures/consumer-process.ts) and everything it wrote so far. The process is
 * killed with SIGKILL when the test finishes, unless it exited before.
 */
export class ConsumerProcess {
  readonly child: ChildProcess
  readonly lines: ConsumerLine[] = []
  /** Events in the order the process handed them out. */
  readonly events: SeenEvent[] = []
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  #buffered = ''

  constructor (config: ConsumerProcessConfig) {
    this.child = spawn(process.execPath, ['--import', 'tsx', CONSUMER_SCRIPT, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'inherit'] })
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => { resolve({ code, signal }) })
    })
    this.child.stdout!.on('data', (chunk: Buffer) => { this.#parse(chunk.toString('utf8')) })
    onTestFinished(() => {
      if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
    })
  }

  get pid (): number {
    return this.child.pid!
  }

  linesOf (type: string): ConsumerLine[] {
    return this.lines.filter((line) => line.type === type)
  }

  send (command: Record<string, unknown>): void {
    this.child.stdin!.write(`${JSON.stringify(command)}\n`)
  }

  async waitForLine (type: string, timeoutMs: number, predicate: (line: ConsumerLine) => boolean = () => true): Promise<ConsumerLine> {
    let found: ConsumerLine | undefined
    await waitFor(() => {
      found = this.lines.find((line) => line.type === type && predicate(line))
      if (found === undefined && this.child.exitCode !== null) throw new Error(`the consumer process exited with code ${this.child.exitCode}`)
      return found !== undefined
    }, timeoutMs, { description: `a "${type}" line from consumer process ${this.pid}` })
    return found!
  }

  /** Kills the process with SIGKILL and resolves once it is gone. */
  async kill (): Promise<void> {
    this.child.kill('SIGKILL')
    await this.exited
  }

  /** Asks the bus to stop (as SIGTERM does) and resolves with its `stopped` line. */
  async stop (timeoutMs = 30_000): Promise<ConsumerLine> {
    this.send({ command: 'stop' })
    const stopped = await this.waitForLine('stopped', timeoutMs)
    await this.exited
    return stopped
  }

  /** Resident set size from /proc, in bytes; undefined once the process is gone. */
  readRssBytes (): number | undefined {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8')
      const match = /^VmRSS:\s+(\d+) kB$/m.exec(status)
      return match === null ? undefined : Number(match[1]) * 1024
    } catch {
      return undefined
    }
  }

  #parse (text: string): void {
    this.#buffered += text
    let newline
    while ((newline = this.#buffered.indexOf('\n')) >= 0) {
      const line = JSON.parse(this.#buffered.slice(0, newline)) as ConsumerLine
      line.receivedAt = Date.now()
      this.#buffered = this.#buffered.slice(newline + 1)
      this.lines.push(line)
      if (line.type === 'events') {
        const ids = line.ids as number[]
        const partitions = line.partitions as number[]
        const offsets = line.offsets as number[]
        for (let i = 0; i < ids.length; i++) this.events.push({ id: ids[i]!, partition: partitions[i]!, offset: offsets[i]! })
      }
    }
  }
}

/**
 * Sends Load events with ids 0, 1, 2, ... in batches every `intervalMs`, each batch to the
 * partitions in turn (id modulo partitions). A failed send is retried with the same ids until it
 * succeeds or the producer is stopped, so `acknowledged` counts the ids the broker accepted, in
 * order and without gaps.
 */
export class LoadProducer {
  /** Events per send; takes effect at the next batch. */
  eventsPerBatch: number
  acknowledged = 0
  failedSends = 0
  lastError: unknown
  readonly #producer: Producer
  readonly #topic: string
  readonly #partitions: number
  readonly #intervalMs: number
  readonly #pad: string
  #running = true
  readonly #loop: Promise<void>

  constructor (producer: Producer, options: { topic: string, partitions: number, eventsPerBatch: number, intervalMs: number, padBytes?: number }) {
    this.#producer = producer
    this.#topic = options.topic
    this.#partitions = options.partitions
    this.eventsPerBatch = options.eventsPerBatch
    this.#intervalMs = options.intervalMs
    this.#pad = 'x'.repeat(options.padBytes ?? 0)
    this.#loop = this.#run()
  }

  /** Stops after the batch in flight and resolves with the number of acknowledged ids. */
  async stop (): Promise<number> {
    this.#running = false
    await this.#loop
    return this.acknowledged
  }

  async #run (): Promise<void> {
    while (this.#running) {
      const first = this.acknowledged
      const count = this.eventsPerBatch
      const messages = Array.from({ length: count }, (_, i) => ({
        partition: (first + i) % this.#partitions,
        value: JSON.stringify({ id: first + i, pad: this.#pad }),
      }))
      try {
        await this.#producer.send({ topic: this.#topic, acks: -1, messages })
        this.acknowledged += count
      } catch (error) {
        this.failedSends++
        this.lastError = error
      }
      await sleep(this.#intervalMs)
    }
  }
}

/** Committed offset (the next offset to read) per partition; -1 where the group committed none. */
export async function readCommittedOffsets (admin: Admin, groupId: string, topic: string): Promise<Map<number, number>> {
  const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] })
  const committed = new Map<number, number>()
  for (const partition of entry?.partitions ?? []) committed.set(partition.partition, Number(partition.offset))
  return committed
}

/** Ids from 0 to count - 1 that no process reported. */
export function missingIds (seen: ReadonlySet<number>, count: number): number[] {
  const missing: number[] = []
  for (let id = 0; id < count; id++) if (!seen.has(id)) missing.push(id)
  return missing
}

/** mulberry32: a small seeded PRNG, so that a failing run can be repeated with its seed. */
export function seededRandom (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let value = state
    value = Math.imul(value ^ (value >>> 15), value | 1)
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61)
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296
  }
}
