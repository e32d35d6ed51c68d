import { MessageChannel, type MessagePort } from 'node:worker_threads'
import type { Piscina } from 'piscina'

import type { Backend } from '../backends/backend.js'
import { describeValue, ErrorCode, fromErrorRecord, invalidOption, TickbusError } from '../errors.js'
import type { Logger } from '../logger.js'
import { Header, RecordKind } from '../ring/layout.js'
import { createRingMemory, type RingMemory } from '../ring/memory.js'
import { createRingBuffer } from '../ring/ring-buffer.js'
import { NO_RECORD, RingReader } from '../ring/ring-reader.js'
import type { ViewContext } from '../schema/view.js'
import type { Topology } from '../topology/types.js'
import { DeliveryFailureView, type DeliveryFailure } from './delivery-failure.js'
import { EventReader } from './event-reader.js'
import { EventWindow } from './event-window.js'
import { EventWriter } from './event-writer.js'
import type { FromProducerMessage, ProducerStopReport, ProducerTask, ToProducerMessage } from './messages.js'
import { createOutboundTables } from './outbound-topology.js'
import { createProducerControl, ProducerSlot, readProducerCounters, type ProducerCounters } from './producer-control.js'

/** Options of the outbound path, under createBus()'s `outbound` option. */
export interface OutboundOptions {
  /** Data capacity of the outbound ring (main thread → producer) in bytes, a power of two. Default 4 MiB. */
  ringCapacityBytes?: number
  /** Data capacity of the feedback ring (delivery failures) in bytes, a power of two. Default 1 MiB. */
  feedbackRingCapacityBytes?: number
}

/** Producer figures: the writer's, and the worker's counters. */
export interface ProducerStatistics extends ProducerCounters {
  /** Events written into the outbound ring since the bus started. */
  written: number
  /** Writes refused because the outbound ring was full, since the bus started. */
  rejected: number
  /** Events written and not settled yet (neither delivered nor reported as failed). */
  pending: number
}

/** Outcome of stopping the producer. */
export interface ProducerStopResult {
  /** Events delivered since the bus started. */
  readonly delivered: number
  /** Events reported as delivery failures since the bus started. */
  readonly failed: number
  /**
   * Events written whose delivery is unknown: still in the ring, batched or awaiting an
   * acknowledgement when the stop timeout ended, or held by a producer worker that crashed.
   */
  readonly undelivered: number
  /** Delivery failures that arrived after the last tick, so no tick handed them out. */
  readonly failures: readonly DeliveryFailure[]
  /** Whether the producer task did not finish within the timeout. */
  readonly timedOut: boolean
  /** Error of a producer task that failed while stopping; null when it stopped cleanly or timed out. */
  readonly error: TickbusError | null
}

/** Settings the bus passes to its outbound channel. */
export interface OutboundChannelSettings {
  readonly topology: Topology
  readonly backend: Backend
  readonly context: ViewContext
  readonly lifetimeTicks: number
  readonly logger: Logger
  readonly options: OutboundOptions | undefined
  /** Delay before a crashed producer task starts again, in ms; it doubles per crash up to maxRestartDelayMs. */
  readonly restartDelayMs: number
  /** Maximum delay before a restart, in ms. */
  readonly maxRestartDelayMs: number
  /** Receives errors for the bus's next tick. */
  readonly onError: (error: TickbusError) => void
}

const OUTBOUND_KEYS = new Set(['ringCapacityBytes', 'feedbackRingCapacityBytes'])

/** Extra time stop() waits for the task beyond its timeout, for the task's own shutdown, in ms. */
const STOP_GRACE_MS = 1000

/**
 * Atomics.waitAsync exists in Node.js 16 and later, but TypeScript declares it only in lib
 * es2024, above this package's ES2022 lib setting.
 */
interface AtomicsWithWaitAsync {
  waitAsync (typedArray: Int32Array, index: number, value: number, timeout?: number):
    | { async: false, value: 'not-equal' | 'timed-out' }
    | { async: true, value: Promise<'ok' | 'timed-out'> }
}

const atomics = Atomics as unknown as AtomicsWithWaitAsync

/**
 * The bus's outbound path on the main thread: the outbound ring and its EventWriter, the feedback
 * ring whose delivery-failure records ticks hand out, the producer's control buffer, and the
 * producer task in the bus's worker pool. Main thread only.
 */
export class OutboundChannel {
  readonly writer: EventWriter
  readonly #settings: OutboundChannelSettings
  readonly #ring: SharedArrayBuffer
  readonly #feedbackMemory: RingMemory
  readonly #feedbackReader: RingReader
  readonly #controlBuffer: SharedArrayBuffer
  readonly #control: Int32Array
  readonly #window: EventWindow
  readonly #readers: Array<EventReader<DeliveryFailureView>> = []
  /** Feedback ring positions to release, one per live tick, oldest first. */
  readonly #marks: number[] = []
  #generation = 0
  #pool: Piscina | undefined
  #port: MessagePort | undefined
  #task: Promise<ProducerStopReport> | undefined
  #attempt = 0
  /** Crashes since the producer last ran longer than twice the longest restart delay. */
  #crashes = 0
  #startedAt = 0
  #restartTimer: NodeJS.Timeout | undefined
  #stopping = false
  /** Events lost with crashed producer tasks. */
  #lost = 0

  constructor (settings: OutboundChannelSettings) {
    const options = resolveOutboundOptions(settings.options)
    this.#settings = settings
    this.#ring = createRingBuffer(options.ringCapacityBytes, 'outbound.ringCapacityBytes')
    this.#feedbackMemory = createRingMemory(createRingBuffer(options.feedbackRingCapacityBytes, 'outbound.feedbackRingCapacityBytes'))
    this.#feedbackReader = new RingReader(this.#feedbackMemory)
    this.#controlBuffer = createProducerControl()
    this.#control = new Int32Array(this.#controlBuffer)
    this.writer = new EventWriter(createOutboundTables(settings.topology), this.#ring, this.#controlBuffer)
    this.#window = new EventWindow(settings.lifetimeTicks)
  }

  /** Starts the producer task in `pool`, which must have room for one more long-lived task. */
  start (pool: Piscina): void {
    this.#pool = pool
    this.#startTask()
  }

  /**
   * Called by the bus at the start of each tick, after it raised the view context's released
   * generation: publishes what the last tick wrote, releases the feedback records that fall out
   * of their lifetime, hands out the delivery failures that arrived since, and reports refused
   * writes as one RING_FULL error.
   */
  beginTick (generation: number): void {
    this.#generation = generation
    this.writer.publish()
    const reader = this.#feedbackReader
    if (this.#marks.length >= this.#settings.lifetimeTicks) reader.release(this.#marks.shift()!)
    const first = this.#window.firstSequenceAfterNextTick()
    for (const failureReader of this.#readers) failureReader.accountDropped(first)
    this.#window.beginTick()

    reader.claim()
    const kinds = this.#feedbackMemory.u8
    for (let offset = reader.nextRecord(); offset !== NO_RECORD; offset = reader.nextRecord()) {
      if (kinds[offset + Header.KIND] === RecordKind.DELIVERY_FAILURE) this.#window.add(0, offset)
    }
    this.#marks.push(reader.mark())

    const rejected = this.writer.takeRejected()
    if (rejected > 0) {
      this.#settings.onError(new TickbusError(
        ErrorCode.RING_FULL,
        `${rejected} event(s) were not written because the outbound ring (${this.writer.capacityBytes} bytes) was full, so they were not sent. ` +
        'Write fewer events per tick, or raise outbound.ringCapacityBytes or the producer\'s maxInFlightBytes.',
        { retriable: true },
      ))
    }
  }

  /** Returns a reader of delivery failures, with its own cursor. */
  failures (): EventReader<DeliveryFailureView> {
    const context = this.#settings.context
    const eventTypes = (id: number): ReturnType<EventWriter['eventTypeById']> => this.writer.eventTypeById(id)
    const reader = new EventReader<DeliveryFailureView>(
      this.#window,
      [this.#feedbackMemory],
      context,
      () => new DeliveryFailureView(context, eventTypes),
      0,
      () => this.#generation,
    )
    this.#readers.push(reader)
    return reader
  }

  /** Producer figures; allocates the result. */
  statistics (): ProducerStatistics {
    const written = this.writer.written
    return {
      ...readProducerCounters(this.#control),
      written,
      rejected: this.writer.rejected,
      pending: this.#unsettled(written),
    }
  }

  /**
   * Resolves true once every event written before the call is settled: delivered, or reported as
   * failed (its failure record is then in the feedback ring for the next tick). Resolves false
   * when `timeoutMs` passes first. Asks the producer to send without waiting for lingerMs.
   *
   * NOTE: a failed event settles only once its record is in the feedback ring, which ticks
   * release. A flush awaited without ticks times out when more failures arrive than fit into that
   * ring (outbound.feedbackRingCapacityBytes).
   */
  async flush (timeoutMs: number): Promise<boolean> {
    if (!(timeoutMs >= 0)) throw invalidOption('flush(timeoutMs)', 'must be a non-negative number of ms', timeoutMs)
    this.writer.publish()
    const target = this.writer.written
    if (this.#unsettled(target) === 0) return true
    this.#post({ type: 'flush', sequence: target })

    const deadline = performance.now() + timeoutMs
    // A pending Atomics.waitAsync does not keep the event loop alive; this timer does.
    const keepAlive = setTimeout(noop, timeoutMs)
    try {
      for (;;) {
        const settled = Atomics.load(this.#control, ProducerSlot.SETTLED)
        if (((settled - (target | 0)) | 0) >= 0) return true
        const remainingMs = deadline - performance.now()
        if (remainingMs <= 0) return false
        const result = atomics.waitAsync(this.#control, ProducerSlot.SETTLED, settled, remainingMs)
        if (result.async) await result.value
      }
    } finally {
      clearTimeout(keepAlive)
    }
  }

  /**
   * Stops the producer: rejects further writes, lets the worker send and settle what the ring
   * contains within `timeoutMs`, then reports what was delivered, what failed and what is unknown.
   */
  async stop (timeoutMs: number): Promise<ProducerStopResult> {
    this.#stopping = true
    this.writer.close()
    if (this.#restartTimer !== undefined) clearTimeout(this.#restartTimer)
    this.#post({ type: 'stop', timeoutMs })

    let timedOut = false
    let stopError: TickbusError | null = null
    if (this.#task !== undefined) {
      let timer: NodeJS.Timeout | undefined
      const outcome = await Promise.race([
        this.#task.then(() => 'stopped' as const, (error: unknown) => {
          stopError = this.#crashError(error)
          return 'failed' as const
        }),
        new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs + STOP_GRACE_MS) }),
      ])
      clearTimeout(timer)
      timedOut = outcome === 'timeout'
    }
    this.#port?.close()
    this.#port = undefined

    const counters = readProducerCounters(this.#control)
    const undelivered = this.#unsettled(this.writer.written) + this.#lost
    if (stopError !== null) this.#settings.logger.error({ err: stopError }, 'producer failed while stopping')
    this.#settings.logger.info({ delivered: counters.delivered, failed: counters.failed, undelivered, timedOut }, 'producer stopped')
    return { delivered: counters.delivered, failed: counters.failed, undelivered, failures: this.#takeUnreadFailures(), timedOut, error: stopError }
  }

  /** Events written and not settled, from the writer's count and the worker's SETTLED word. */
  #unsettled (written: number): number {
    const settled = Atomics.load(this.#control, ProducerSlot.SETTLED)
    return Math.max(0, ((written | 0) - settled) | 0)
  }

  /** Copies the failure records that arrived after the last tick out of the feedback ring. */
  #takeUnreadFailures (): DeliveryFailure[] {
    const reader = this.#feedbackReader
    const view = new DeliveryFailureView(this.#settings.context, (id) => this.writer.eventTypeById(id))
    const generation = Math.max(this.#generation, this.#settings.context.releasedGeneration) + 1
    const failures: DeliveryFailure[] = []
    reader.claim()
    for (let offset = reader.nextRecord(); offset !== NO_RECORD; offset = reader.nextRecord()) {
      if (this.#feedbackMemory.u8[offset + Header.KIND] !== RecordKind.DELIVERY_FAILURE) continue
      failures.push(view.$bind(this.#feedbackMemory, offset, generation).toObject())
    }
    return failures
  }

  #post (message: ToProducerMessage): void {
    this.#port?.postMessage(message)
  }

  #startTask (): void {
    const pool = this.#pool
    if (pool === undefined || this.#stopping) return
    const backend = this.#settings.backend
    const channel = new MessageChannel()
    this.#port = channel.port1
    this.#startedAt = performance.now()
    channel.port1.on('message', (message: FromProducerMessage) => { this.#onMessage(message) })
    channel.port1.unref()
    const resources = backend.taskResources?.({ kind: 'producer' })
    const task: ProducerTask = {
      kind: 'producer',
      backendModule: backend.workerModule,
      backendConfig: resources === undefined ? backend.workerConfig : resources.config,
      topology: this.#settings.topology,
      ring: this.#ring,
      feedback: this.#feedbackMemory.buffer,
      control: this.#controlBuffer,
      port: channel.port2,
      attempt: this.#attempt,
    }
    const running = pool.run(task, {
      filename: new URL('../../workers/producer-worker.js', import.meta.url).href,
      transferList: [channel.port2, ...(resources?.transferList ?? [])],
    }) as Promise<ProducerStopReport>
    this.#task = running
    running.then(
      () => { if (!this.#stopping) this.#onTaskFailure(new Error('the producer task ended without a stop request')) },
      (error: unknown) => { if (!this.#stopping) this.#onTaskFailure(error) },
    )
  }

  #onTaskFailure (error: unknown): void {
    const failure = this.#crashError(error)
    this.#settings.onError(failure)
    // The crashed worker had copied these events out of the ring, so no worker can report them now.
    const lost = Atomics.load(this.#control, ProducerSlot.IN_FLIGHT_EVENTS)
    if (lost > 0) {
      this.#lost += lost
      this.#settings.onError(new TickbusError(
        ErrorCode.DELIVERY_FAILED,
        `The producer worker crashed holding ${lost} event(s); whether they were delivered is unknown.`,
        { retriable: true, cause: failure },
      ))
    }
    this.#port?.close()
    this.#port = undefined
    // A producer that ran for a while before failing restarts quickly again.
    if (performance.now() - this.#startedAt > this.#settings.maxRestartDelayMs * 2) this.#crashes = 0
    const delayMs = Math.min(this.#settings.maxRestartDelayMs, this.#settings.restartDelayMs * 2 ** this.#crashes)
    this.#crashes++
    this.#attempt++
    this.#settings.logger.error({ err: failure, attempt: this.#attempt, restartInMs: delayMs, lostEvents: lost }, 'producer failed; restarting')
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined
      this.#startTask()
    }, delayMs)
  }

  #crashError (error: unknown): TickbusError {
    if (error instanceof TickbusError) return error
    const message = error instanceof Error ? error.message : describeValue(error)
    return new TickbusError(ErrorCode.WORKER_CRASHED, `The producer task failed: ${message}`, { cause: error, retriable: true })
  }

  #onMessage (message: FromProducerMessage): void {
    const logger = this.#settings.logger
    switch (message.type) {
      case 'producer-started':
        logger.info({ attempt: this.#attempt }, 'producer started')
        break
      case 'producer-error': {
        const error = fromErrorRecord(message.error)
        this.#settings.onError(error)
        logger.warn({ err: error }, error.message)
        break
      }
      case 'log':
        logger[message.level]({ ...message.fields, component: 'producer' }, message.message)
        break
    }
  }
}

/** Validates the `outbound` option of createBus() and fills in defaults. */
export function resolveOutboundOptions (options: OutboundOptions | undefined): Required<OutboundOptions> {
  const outbound = options ?? {}
  if (typeof outbound !== 'object' || outbound === null) throw invalidOption('outbound', 'must be an object', outbound)
  for (const key of Object.keys(outbound)) {
    if (!OUTBOUND_KEYS.has(key)) throw invalidOption(`outbound.${key}`, `is not a known option (known: ${[...OUTBOUND_KEYS].join(', ')})`, (outbound as Record<string, unknown>)[key])
  }
  return {
    ringCapacityBytes: outbound.ringCapacityBytes ?? 4 * 1024 * 1024,
    feedbackRingCapacityBytes: outbound.feedbackRingCapacityBytes ?? 1024 * 1024,
  }
}

function noop (): void {}
