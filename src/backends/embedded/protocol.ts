import type { ErrorRecord } from '../../errors.js'
import type { PartitionOffset } from '../../bus/messages.js'

/**
 * Messages between the embedded broker (main thread) and the worker half of the embedded
 * backend, one MessagePort per worker task. This is the embedded backend's own wire protocol,
 * apart from the bus's control messages in src/bus/messages.ts.
 *
 * Every request carries a `requestId` chosen by the worker. The broker sends exactly one reply to
 * each request: the matching reply type, or `failed`. `assignment` is the only message
 * the broker sends unasked. Messages on one port arrive in the order they were sent, so a reply
 * that follows an assignment was computed with that assignment.
 */

/** A header: name and raw value, null for a header without a value. Names may repeat. */
export type HeaderEntry = readonly [string, Uint8Array | null]

/** A record as the broker stores it and sends it in fetch replies. */
export interface BrokerRecord {
  readonly offset: number
  /** ms since the epoch: the producer's timestamp, or the append time when it gave none. */
  readonly timestamp: number
  readonly key: Uint8Array | null
  /** null for a tombstone. */
  readonly value: Uint8Array | null
  readonly headers: readonly HeaderEntry[]
}

/** A record that a worker sends for appending. */
export interface ProduceRecord {
  readonly key: Uint8Array | null
  readonly value: Uint8Array | null
  readonly headers: readonly HeaderEntry[]
  /** Omitted: chosen from the key (see partitioner.ts), or round-robin without a key. */
  readonly partition?: number
  /** Omitted: the append time. */
  readonly timestamp?: number
}

/** Start offset of a fetch in one partition. */
export interface FetchPosition {
  readonly topic: string
  readonly partition: number
  readonly offset: number
}

/** Records of one partition in a fetch reply. */
export interface FetchedBatch {
  readonly topic: string
  readonly partition: number
  /** The position the request asked for, so a worker can drop a batch its position has left. */
  readonly fetchOffset: number
  /** In offset order; may be empty when only the position moved (an out-of-range reset). */
  readonly records: readonly BrokerRecord[]
  /** Offset where the next fetch of this partition starts. */
  readonly nextOffset: number
  /** End offset of the partition when the reply was built. */
  readonly highWatermark: number
  /** Oldest offset the partition's log retains when the reply was built. */
  readonly logStartOffset: number
}

/** A partition of a member's assignment and the offset a new owner starts reading at. */
export interface AssignedPartition {
  readonly topic: string
  readonly partition: number
  /** The group's committed offset, or the log start or end offset by the group's initial offset. */
  readonly offset: number
}

/** Worker to broker. */
export type BrokerRequest =
  /** Joins `groupId` as a new member subscribed to `topics`; triggers a rebalance. */
  | { readonly type: 'join', readonly requestId: number, readonly groupId: string, readonly topics: readonly string[], readonly initialOffset: 'earliest' | 'latest', readonly shard: number }
  /**
   * Reads from the member's partitions at `positions`. Positions of partitions the member does
   * not own are ignored. When there is no record to return, the broker waits up to `maxWaitMs`
   * and replies as soon as a record arrives or the assignment changes.
   */
  | { readonly type: 'fetch', readonly requestId: number, readonly positions: readonly FetchPosition[], readonly maxRecords: number, readonly maxBytes: number, readonly maxWaitMs: number }
  /** Stores the member's group's offsets (next offsets to read); fails unless it owns every partition named. */
  | { readonly type: 'commit', readonly requestId: number, readonly offsets: readonly PartitionOffset[] }
  | { readonly type: 'produce', readonly requestId: number, readonly topic: string, readonly records: readonly ProduceRecord[] }
  /** Leaves the group; triggers a rebalance. Closing the port has the same effect. */
  | { readonly type: 'leave', readonly requestId: number }

/** Broker to worker. */
export type BrokerMessage =
  /** The member's partitions after a rebalance, sent to every member of the group. */
  | { readonly type: 'assignment', readonly generation: number, readonly partitions: readonly AssignedPartition[] }
  | { readonly type: 'joined', readonly requestId: number, readonly memberId: string }
  | { readonly type: 'fetched', readonly requestId: number, readonly generation: number, readonly batches: readonly FetchedBatch[] }
  | { readonly type: 'committed', readonly requestId: number }
  | { readonly type: 'produced', readonly requestId: number, readonly results: ReadonlyArray<{ readonly partition: number, readonly offset: number }> }
  | { readonly type: 'left', readonly requestId: number }
  | { readonly type: 'failed', readonly requestId: number, readonly error: ErrorRecord }
