import type { MessagePort } from 'node:worker_threads'
import type { ErrorRecord } from '../errors.js'

/**
 * Every message shape that crosses between the main thread and a worker. Events never travel
 * here: they go through the rings. These messages are rare (start, stop, assignment changes,
 * errors, commit results), so structured clone costs nothing that matters.
 */

/** Task data of a consumer shard: the piscina task that lives as long as the shard. */
export interface ConsumerShardTask {
  readonly kind: 'consumer-shard'
  /** Shard index across the bus, also the index of its inbound ring. */
  readonly shard: number
  /** Module that implements the backend's worker side (a file URL). */
  readonly backendModule: string
  /** Backend-specific, structured-clone-safe settings. */
  readonly backendConfig: unknown
  /** The built topology, as plain data. */
  readonly topology: unknown
  readonly groupId: string
  readonly ring: SharedArrayBuffer
  readonly stats: SharedArrayBuffer
  readonly port: MessagePort
  readonly commit: CommitSettings
  /** Attempt number of this shard, 0 for the first start; a restart after a crash increments it. */
  readonly attempt: number
}

/** Task data of the producer worker: the piscina task that lives as long as the bus. */
export interface ProducerTask {
  readonly kind: 'producer'
  /** Module that implements the backend's worker side (a file URL); it exports `runProducer`. */
  readonly backendModule: string
  /** Backend-specific, structured-clone-safe settings. */
  readonly backendConfig: unknown
  /** The built topology, as plain data. */
  readonly topology: unknown
  /** Outbound ring: events the main thread wrote, read by the worker. */
  readonly ring: SharedArrayBuffer
  /** Feedback ring: delivery-failure records the worker writes for the main thread. */
  readonly feedback: SharedArrayBuffer
  /** Control words and counters, laid out in producer-control.ts. */
  readonly control: SharedArrayBuffer
  readonly port: MessagePort
  /** Attempt number of the producer, 0 for the first start; a restart after a crash increments it. */
  readonly attempt: number
}

/** Main thread to producer worker. */
export type ToProducerMessage =
  /** Send every event up to `sequence` (exclusive) now, without waiting for lingerMs. */
  | { readonly type: 'flush', readonly sequence: number }
  /** Send what the ring contains, settle it within `timeoutMs`, then close the producer. */
  | { readonly type: 'stop', readonly timeoutMs: number }

/** Producer worker to main thread. */
export type FromProducerMessage =
  | { readonly type: 'producer-started' }
  /** A problem that fails no single event, such as a failed connect; events report their own failures. */
  | { readonly type: 'producer-error', readonly error: ErrorRecord }
  | Extract<FromWorkerMessage, { type: 'log' }>

/** Report the producer task resolves with when it stops. */
export interface ProducerStopReport {
  /** Events delivered during this task's life. */
  readonly delivered: number
  /** Events reported as delivery failures during this task's life. */
  readonly failed: number
  /**
   * Events neither delivered nor reported when the stop timeout ended the task: still in the ring,
   * batched or waiting for an acknowledgement.
   */
  readonly unsettled: number
}

export const CommitMode = {
  /** The worker commits what the main thread released, batched by interval and count. */
  RELEASED: 'released',
  /** The worker commits only what the main thread requests with `bus.commit()`. */
  MANUAL: 'manual',
} as const

export type CommitMode = (typeof CommitMode)[keyof typeof CommitMode]

export interface CommitSettings {
  readonly mode: CommitMode
  /** Maximum time a released offset waits before it is committed, in ms. */
  readonly intervalMs: number
  /** Number of released records that triggers a commit before the interval ends. */
  readonly records: number
}

/** One partition's offset in a commit request or result. The offset is the next one to read. */
export interface PartitionOffset {
  readonly topic: string
  readonly partition: number
  readonly offset: number
}

/** Main thread to worker. */
export type ToWorkerMessage =
  | { readonly type: 'stop', readonly timeoutMs: number }
  | { readonly type: 'commit', readonly requestId: number, readonly offsets: readonly PartitionOffset[] }

/** Worker to main thread. */
export type FromWorkerMessage =
  | { readonly type: 'started', readonly shard: number }
  | {
    readonly type: 'assignment'
    readonly shard: number
    /** Grows with each assignment the shard receives. */
    readonly generation: number
    readonly partitions: readonly { topic: string, partitions: number[] }[]
    /**
     * The shard's ring write position (RingWriter.writePosition) when the assignment took effect.
     * Records of partitions the shard lost that lie before it are not handed out, because their
     * offsets will not be committed and the partition's new owner reads them again.
     */
    readonly ringPosition?: number
  }
  | { readonly type: 'commit-result', readonly shard: number, readonly offsets: readonly PartitionOffset[], readonly error: ErrorRecord | null, readonly latencyMs: number, readonly requestId: number | null }
  | { readonly type: 'error', readonly shard: number, readonly error: ErrorRecord }
  | { readonly type: 'log', readonly level: 'info' | 'warn' | 'error', readonly message: string, readonly fields: Record<string, unknown> }

/** Report a consumer shard task resolves with when it stops. */
export interface ShardStopReport {
  readonly shard: number
  /** Offsets committed during the stop. */
  readonly committed: readonly PartitionOffset[]
  /** Records published into the ring but not released by the main thread when the shard left. */
  readonly unreleasedRecords: number
  readonly error: ErrorRecord | null
}
