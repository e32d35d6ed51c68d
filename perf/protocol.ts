import type { DataSetKind } from './data-sets.js'
import type { RssSummary } from './rss.js'
import type { Distribution } from './stats.js'

/**
 * Messages between the harness (run-performance-tests.ts) and the processes it forks: consumer
 * measurements (perf/consumer-process.ts), producer measurements (perf/producer-process.ts) and
 * the fixed-rate producer (perf/rate-producer.ts).
 */

/** Consumer that a measurement runs. */
export const ConsumerImplementation = {
  /** createBus() with kafkaBackend: consumer shards on worker threads, a 60 Hz tick reads views. */
  TICKBUS: 'tickbus',
  /** One kafkajs consumer on the main thread, decoding in eachBatch (JSON.parse or protobufjs). */
  KAFKAJS: 'kafkajs',
} as const
export type ConsumerImplementation = (typeof ConsumerImplementation)[keyof typeof ConsumerImplementation]

/** Feeding and pacing of the consumer in a measurement. */
export const ConsumerMode = {
  /**
   * Drains a pre-produced topic from offset 0 as fast as it can. tickbus ticks at 60 Hz with no
   * other work; the kafkajs baseline handles each message in eachBatch with no tick loop.
   */
  THROUGHPUT: 'throughput',
  /**
   * A 60 Hz tick with fixed game work, and events are read in the tick. The kafkajs baseline
   * queues what eachBatch decoded, and the tick applies it. The topic is pre-produced, or fed at a
   * fixed rate while the measurement runs, or empty when `events` is 0 (idle).
   */
  TICK: 'tick',
} as const
export type ConsumerMode = (typeof ConsumerMode)[keyof typeof ConsumerMode]

export interface ConsumerJob {
  readonly implementation: ConsumerImplementation
  readonly mode: ConsumerMode
  readonly brokers: readonly string[]
  readonly dataSet: DataSetKind
  readonly topic: string
  readonly partitions: number
  readonly groupId: string
  /** Consumer shards and worker threads (tickbus only). */
  readonly workers: number
  /** Events the topic contains or will receive. The measurement ends when all were read; 0 means idle. */
  readonly events: number
  /** Share of the events read before the measured window starts (warm-up), 0..1. */
  readonly warmupFraction: number
  /** Idle mode only: how long to tick, in ms, after a warm-up of `warmupMs`. */
  readonly idleMs: number
  /** Warm-up time in ms: ticks and latency samples of this first stretch are left out. */
  readonly warmupMs: number
  /** Record end-to-end latency from each event's sentAt (only meaningful when produced live). */
  readonly recordLatency: boolean
  /** Ring data capacity per shard in bytes (tickbus only); undefined keeps the bus default. */
  readonly ringCapacityBytes: number | undefined
  /** The measurement fails when it has not finished after this many ms. */
  readonly timeoutMs: number
}

/** Result of one consumer measurement. NaN where a figure does not apply. */
export interface ConsumerResult {
  readonly implementation: ConsumerImplementation
  /** Distinct events read inside the measured window. */
  readonly windowEvents: number
  /** Every event the consumer returned, duplicates after a rebalance included. */
  readonly totalEvents: number
  readonly duplicateEvents: number
  /** Share of the distinct events read when the window started (warm-up and shard joins). */
  readonly windowStartFraction: number
  /** windowEvents divided by the time from the window's first to its last event, per second. */
  readonly receiveRatePerSec: number
  /** Main-thread event-loop active time in the window, less the fixed game work of the tick loop, per windowEvents, in ns. */
  readonly mainThreadNsPerEvent: number
  /** Frame time (tick lateness plus tick work) in ms, within the window; null without a tick loop. */
  readonly frame: Distribution | null
  readonly tickWork: Distribution | null
  readonly tickLateness: Distribution | null
  readonly skippedTicks: number
  /** End-to-end latency (tick visibility minus sentAt) in ms; null unless recorded. */
  readonly latency: Distribution | null
  readonly rss: RssSummary
  /** Times a shard found its ring full (tickbus only), summed over shards. */
  readonly ringFullCount: number
  readonly decodeErrors: number
  /** Warnings and errors the consumer logged, with repeat counts. */
  readonly warnings: readonly string[]
}

export type ConsumerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'progress', readonly done: number, readonly total: number }
  | { readonly type: 'result', readonly result: ConsumerResult }
  | { readonly type: 'failed', readonly message: string }

export interface RateProducerJob {
  readonly brokers: readonly string[]
  readonly dataSet: DataSetKind
  readonly topic: string
  readonly partitions: number
  readonly eventsPerSec: number
  readonly events: number
}

export type RateProducerMessage =
  | { readonly type: 'progress', readonly done: number, readonly total: number }
  | { readonly type: 'done', readonly sent: number, readonly ratePerSec: number }
  | { readonly type: 'failed', readonly message: string }

/** Producer that a producer measurement runs. */
export const ProducerImplementation = {
  /** bus.writer() on the main thread; the bus's producer worker encodes and sends. */
  TICKBUS: 'tickbus',
  /** One kafkajs producer on the main thread: JSON.stringify and send() in the tick. */
  KAFKAJS: 'kafkajs',
} as const
export type ProducerImplementation = (typeof ProducerImplementation)[keyof typeof ProducerImplementation]

export interface ProducerJob {
  readonly implementation: ProducerImplementation
  readonly brokers: readonly string[]
  readonly topic: string
  readonly partitions: number
  /** PerfMove events to send as JSON; the measurement ends when the broker acknowledged all. */
  readonly events: number
  /** Events one tick hands to the producer at most. */
  readonly maxEventsPerTick: number
  /** Share of the events acknowledged before the measured window starts (warm-up), 0..1. */
  readonly warmupFraction: number
  readonly timeoutMs: number
}

/** Result of one producer measurement. */
export interface ProducerResult {
  readonly implementation: ProducerImplementation
  /** Events acknowledged inside the measured window. */
  readonly windowEvents: number
  /** Mean message value size of the first 1000 events as this producer encodes them. */
  readonly payloadBytes: number
  /** windowEvents divided by the time from the window's start to the last acknowledgement, per second. */
  readonly sendRatePerSec: number
  /** Main-thread event-loop active time in the window per acknowledged event, in ns. */
  readonly mainThreadNsPerEvent: number
  /** Frame time (tick lateness plus tick work) in ms, within the window. */
  readonly frame: Distribution
  readonly tickWork: Distribution
  readonly tickLateness: Distribution
  readonly skippedTicks: number
  readonly rss: RssSummary
  /** Writes the outbound ring refused because it was full (tickbus only); they are tried again. */
  readonly rejectedWrites: number
  readonly failedEvents: number
  readonly warnings: readonly string[]
}

export type ProducerMessage =
  | { readonly type: 'progress', readonly done: number, readonly total: number }
  | { readonly type: 'result', readonly result: ProducerResult }
  | { readonly type: 'failed', readonly message: string }
