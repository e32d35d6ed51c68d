import type { PartitionOffset } from '../bus/messages.js'
import {
  ShardField,
  SlotField,
  UNKNOWN_OFFSET,
  assertShardStatsBuffer,
  bindingCounterIndex,
  slotFieldIndex,
  topicCounterIndex,
  type ShardStatsLayout,
} from './shard-stats-layout.js'

/**
 * Worker side of a shard's stats buffer (layout and concurrency contract in
 * shard-stats-layout.ts): counts what the shard fetched, committed and failed to decode, and
 * stores the offsets that lag is computed from. Plain Float64Array stores, no Atomics and no
 * messages. Methods called per record or per batch allocate nothing.
 *
 * One writer per shard task, on the task's worker thread; not thread-safe.
 */
export class ShardStatsWriter {
  readonly layout: ShardStatsLayout
  readonly #fields: Float64Array
  readonly #slotBase: Int32Array
  readonly #partitionLimit: Int32Array
  readonly #topicIds: ReadonlyMap<string, number>
  /** Per slot: 1 while the last assignment of this task includes the partition. */
  readonly #owned: Uint8Array
  #commitEpoch = 0

  /** Throws RangeError when `buffer` was not allocated for `layout`. */
  constructor (buffer: SharedArrayBuffer, layout: ShardStatsLayout) {
    assertShardStatsBuffer(buffer, layout)
    this.layout = layout
    this.#fields = new Float64Array(buffer)
    this.#slotBase = layout.slotBase
    this.#partitionLimit = layout.partitionLimit
    this.#topicIds = new Map(layout.slots.map((slot) => [slot.topic, slot.topicId]))
    this.#owned = new Uint8Array(layout.slotCount)
  }

  /**
   * Returns the slot of a partition, or -1 when the group does not read the topic or the partition
   * is at or above the declared count.
   */
  slotOf (topicId: number, partition: number): number {
    // An out-of-range topic id reads undefined, and the comparison is then false.
    return partition >= 0 && partition < this.#partitionLimit[topicId]! ? this.#slotBase[topicId]! + partition : -1
  }

  /**
   * Counts one fetched record that the shard has processed (written into the ring, or skipped
   * because its topic has no binding) and moves the partition's position past it. Per record.
   */
  recordFetched (topicId: number, partition: number, offset: number, bytes: number): void {
    const slot = this.slotOf(topicId, partition)
    if (slot < 0) {
      this.#fields[ShardField.UNTRACKED_RECORDS]++
      return
    }
    const fields = this.#fields
    const base = slotFieldIndex(slot, SlotField.HIGH_WATERMARK)
    fields[base + SlotField.POSITION] = offset + 1
    fields[base + SlotField.RECORDS_FETCHED]++
    fields[base + SlotField.BYTES_FETCHED] += bytes
  }

  /** Stores the high watermark a fetch response reported for a partition. Per batch. */
  setHighWatermark (topicId: number, partition: number, highWatermark: number): void {
    const slot = this.slotOf(topicId, partition)
    if (slot < 0 || !(highWatermark >= 0)) return
    const base = slotFieldIndex(slot, SlotField.HIGH_WATERMARK)
    this.#fields[base] = highWatermark
    this.#fields[base + SlotField.UPDATED_AT_MS] = Date.now()
  }

  /** Remembers which partitions this task owns, from an assignment; see owns(). */
  setAssignment (partitions: readonly { readonly topic: string, readonly partitions: readonly number[] }[]): void {
    this.#owned.fill(0)
    for (const entry of partitions) {
      const topicId = this.#topicIds.get(entry.topic)
      if (topicId === undefined) continue
      for (const partition of entry.partitions) {
        const slot = this.slotOf(topicId, partition)
        if (slot >= 0) this.#owned[slot] = 1
      }
    }
  }

  /** Whether the last assignment of this task includes the slot. */
  owns (slot: number): boolean {
    return this.#owned[slot] === 1
  }

  /**
   * Number of commit outcomes recorded by this writer. An offset refresh reads it before its
   * broker request and keeps the broker's committed offset only when no commit of this shard
   * finished since, because the response may predate that commit.
   */
  get commitEpoch (): number {
    return this.#commitEpoch
  }

  /** Counts a commit and, when it succeeded, stores its offsets as the committed offsets. */
  recordCommit (offsets: readonly PartitionOffset[], latencyMs: number, succeeded: boolean): void {
    const fields = this.#fields
    this.#commitEpoch++
    fields[ShardField.COMMIT_SECONDS] += latencyMs / 1000
    if (!succeeded) {
      fields[ShardField.COMMITS_FAILED]++
      return
    }
    fields[ShardField.COMMITS_SUCCEEDED]++
    const now = Date.now()
    for (const entry of offsets) {
      const topicId = this.#topicIds.get(entry.topic)
      const slot = topicId === undefined ? -1 : this.slotOf(topicId, entry.partition)
      if (slot < 0) continue
      fields[slotFieldIndex(slot, SlotField.COMMITTED)] = entry.offset
      fields[slotFieldIndex(slot, SlotField.UPDATED_AT_MS)] = now
    }
  }

  /**
   * Stores offsets read from the broker for one partition. The high watermark only moves forward
   * here, because a fetch response may have reported a newer one.
   *
   * `committed` is the group's committed offset, and any negative value means none. The broker
   * returns -1 when nothing is committed, and kafkajs 2.2.4 commits -2 or -1 when it resets an
   * out-of-range offset to the earliest or latest. The value is dropped when a commit of this
   * shard finished after `commitEpoch` was read. A negative or non-numeric log start offset or
   * high watermark is not stored.
   */
  setBrokerOffsets (topicId: number, partition: number, logStart: number, highWatermark: number, committed: number, commitEpoch: number): void {
    const slot = this.slotOf(topicId, partition)
    if (slot < 0) return
    const fields = this.#fields
    const base = slotFieldIndex(slot, SlotField.HIGH_WATERMARK)
    if (logStart >= 0) fields[base + SlotField.LOG_START] = logStart
    if (highWatermark >= 0 && highWatermark > fields[base]!) fields[base] = highWatermark
    if (commitEpoch === this.#commitEpoch) fields[base + SlotField.COMMITTED] = committed >= 0 ? committed : UNKNOWN_OFFSET
    fields[base + SlotField.UPDATED_AT_MS] = Date.now()
  }

  /** Counts a broker offset refresh. */
  recordRefresh (succeeded: boolean): void {
    this.#fields[succeeded ? ShardField.OFFSET_REFRESHES_SUCCEEDED : ShardField.OFFSET_REFRESHES_FAILED]++
  }

  /** Counts a decode attempt of binding `bindingIndex` (its index in the topic's bindings) that threw. */
  recordDecodeFailure (topicId: number, bindingIndex: number): void {
    const base = this.layout.bindingBase[topicId]
    if (base === undefined || base < 0) return
    this.#fields[bindingCounterIndex(this.layout, base + bindingIndex)]++
  }

  /** Counts a record that no binding of its topic decoded. */
  recordDecodeErrorRecord (topicId: number): void {
    const counter = this.layout.topicCounter[topicId]
    if (counter === undefined || counter < 0) return
    this.#fields[topicCounterIndex(this.layout, counter)]++
  }
}
