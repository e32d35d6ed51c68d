import type { DecoderDescriptor, Topology } from '../topology/types.js'

/**
 * Memory layout of a consumer shard's stats buffer: one SharedArrayBuffer per shard, allocated by
 * the bus and passed to the shard's worker task as ConsumerShardTask.stats. Every field is a
 * float64, so the buffer is read and written through one Float64Array, and a field index below is
 * a Float64Array index (byte offset / 8).
 *
 *   byte 0          HEADER_BYTES          + slotCount × SLOT_BYTES   + topicCount × 8   + bindingCount × 8
 *   ┌───────────────┬─────────────────────┬──────────────────────────┬──────────────────┐
 *   │ shard header  │ partition slots     │ topic counters           │ binding counters │
 *   └───────────────┴─────────────────────┴──────────────────────────┴──────────────────┘
 *
 *   shard header (ShardField, one 64-byte line)
 *   0   COMMITS_SUCCEEDED            commits the broker accepted
 *   1   COMMITS_FAILED               commits that failed
 *   2   COMMIT_SECONDS               summed latency of every commit, succeeded or failed
 *   3   OFFSET_REFRESHES_SUCCEEDED   broker offset refreshes that completed
 *   4   OFFSET_REFRESHES_FAILED      broker offset refreshes that failed
 *   5   UNTRACKED_RECORDS            records of partitions outside the declared partition count
 *   6-7 (unused)
 *
 *   partition slot (SlotField, 64 bytes each), one per (topic of the group, partition) in the
 *   group's topic order, partitions 0 .. declared count - 1
 *   0   HIGH_WATERMARK   offset after the last record in the log; -1 while unknown
 *   1   POSITION         offset after the last record this shard processed; -1 while unknown
 *   2   COMMITTED        the group's committed offset (the next offset to read); -1 when none
 *   3   LOG_START        oldest offset the broker retains; -1 while unknown
 *   4   RECORDS_FETCHED  fetched records the shard processed: wrote into its ring as events or a
 *                        decode-error record, or skipped because the topic has no binding
 *   5   BYTES_FETCHED    key and value bytes of those records
 *   6   UPDATED_AT_MS    Date.now() of the last HIGH_WATERMARK, COMMITTED or LOG_START change; 0 never
 *   7   (unused)
 *
 *   topic counter, one per topic of the group in the group's topic order
 *       DECODE_ERROR_RECORDS: records that no binding decoded (written as decode-error records)
 *
 *   binding counter, one per binding of those topics, topic by topic in declaration order
 *       DECODE_FAILURES: decode attempts of that binding that threw, match predicates included
 *
 * Concurrency contract:
 * - The main thread allocates the buffer with createShardStatsBuffer(), which sets the -1 defaults
 *   before the first worker task exists. From then on only the shard's worker task writes it, one
 *   task at a time: a restarted shard gets the same buffer and keeps counting from its values.
 * - The main thread reads it when tick() refreshes bus.metrics and when metrics are scraped.
 * - Writes and reads are plain Float64Array accesses, without Atomics (Atomics does not accept a
 *   Float64Array). The ECMAScript memory model does not promise that an unsynchronised float64
 *   access is tear-free, so a reader may in principle see a value mixed from two writes. V8 on
 *   x64 and arm64 reads and writes an aligned float64 with one instruction, which the hardware
 *   does not tear, but that is the engine's behaviour, not a guarantee. No field orders another:
 *   a reader may see a new HIGH_WATERMARK next to an older POSITION, so a derived figure such as
 *   lag can be off by one batch for one read. Counters only grow, so a stale read is low.
 *   These values feed monitoring only; nothing that decides delivery reads them.
 * - Partition slots are 64 bytes apart. Only one thread writes the buffer, so this spacing keeps
 *   the main thread's reads of one slot from sharing a line with the writes of the next; it is not
 *   needed for correctness.
 *
 * NOTE: records of a partition at or above the topology's declared partition count (a topic that
 * gained partitions on the broker) have no slot; they are counted in UNTRACKED_RECORDS only.
 */

/** Bytes of the shard header. */
export const HEADER_BYTES = 64

/** Bytes of one partition slot. */
export const SLOT_BYTES = 64

/** Float64 fields of one partition slot. */
export const SLOT_FIELDS = SLOT_BYTES / 8

/** Float64 indexes of the shard header fields. */
export const ShardField = {
  COMMITS_SUCCEEDED: 0,
  COMMITS_FAILED: 1,
  COMMIT_SECONDS: 2,
  OFFSET_REFRESHES_SUCCEEDED: 3,
  OFFSET_REFRESHES_FAILED: 4,
  UNTRACKED_RECORDS: 5,
} as const

export type ShardField = (typeof ShardField)[keyof typeof ShardField]

/** Float64 offsets of the fields inside a partition slot. */
export const SlotField = {
  HIGH_WATERMARK: 0,
  POSITION: 1,
  COMMITTED: 2,
  LOG_START: 3,
  RECORDS_FETCHED: 4,
  BYTES_FETCHED: 5,
  UPDATED_AT_MS: 6,
} as const

export type SlotField = (typeof SlotField)[keyof typeof SlotField]

/** Value of an offset field that is not known (yet), and of COMMITTED when nothing is committed. */
export const UNKNOWN_OFFSET = -1

/** One partition slot: the partition it counts. */
export interface StatsSlot {
  readonly topic: string
  readonly topicId: number
  readonly partition: number
}

/** One binding counter: the binding whose failed decode attempts it counts. */
export interface StatsBinding {
  readonly topic: string
  readonly eventType: string
  /** Decoder label: `json`, `protobuf <message type>` or `custom <export>`. */
  readonly decoder: string
}

/**
 * Positions of the figures of one consumer group's shards in a stats buffer. Computed from the
 * plain topology alone, so the main thread and every worker compute the same layout. Built once
 * per group and shard, and nothing here allocates afterwards.
 */
export interface ShardStatsLayout {
  readonly groupId: string
  readonly byteLength: number
  readonly slotCount: number
  /** Partition slots in slot order. */
  readonly slots: readonly StatsSlot[]
  /** Topics of the group in the group's order; the index is the topic counter's index. */
  readonly topics: readonly string[]
  /** Binding counters in counter order. */
  readonly bindings: readonly StatsBinding[]
  /** Per topic id: index of the topic's partition 0 slot, or -1 when the group does not read it. */
  readonly slotBase: Int32Array
  /** Per topic id: declared partition count when the group reads the topic, otherwise 0. */
  readonly partitionLimit: Int32Array
  /** Per topic id: index of the topic counter, or -1 when the group does not read it. */
  readonly topicCounter: Int32Array
  /** Per topic id: index of the topic's first binding counter, or -1 when the group does not read it. */
  readonly bindingBase: Int32Array
}

/**
 * Computes the stats layout of the shards of consumer group `groupId`. Topic ids index the
 * Int32Array tables, which therefore have `topology.topics.length + 1` entries (id 0 is unused).
 * Throws RangeError when the topology has no such group, a programming error of the caller.
 */
export function shardStatsLayout (topology: Topology, groupId: string): ShardStatsLayout {
  const group = topology.groups.find((candidate) => candidate.groupId === groupId)
  if (group === undefined) throw new RangeError(`Consumer group ${JSON.stringify(groupId)} is not in the topology.`)

  const tableLength = topology.topics.length + 1
  const slotBase = new Int32Array(tableLength).fill(-1)
  const partitionLimit = new Int32Array(tableLength)
  const topicCounter = new Int32Array(tableLength).fill(-1)
  const bindingBase = new Int32Array(tableLength).fill(-1)
  const slots: StatsSlot[] = []
  const topics: string[] = []
  const bindings: StatsBinding[] = []

  for (const name of group.topics) {
    const topic = topology.topics.find((candidate) => candidate.name === name)
    if (topic === undefined) continue
    slotBase[topic.id] = slots.length
    partitionLimit[topic.id] = topic.partitions
    for (let partition = 0; partition < topic.partitions; partition++) slots.push({ topic: name, topicId: topic.id, partition })
    topicCounter[topic.id] = topics.length
    topics.push(name)
    bindingBase[topic.id] = bindings.length
    for (const binding of topic.bindings) {
      const eventType = topology.eventTypes[binding.eventType - 1]?.name ?? `#${binding.eventType}`
      bindings.push({ topic: name, eventType, decoder: decoderLabel(binding.decoder) })
    }
  }

  const byteLength = HEADER_BYTES + slots.length * SLOT_BYTES + (topics.length + bindings.length) * 8
  return { groupId, byteLength, slotCount: slots.length, slots, topics, bindings, slotBase, partitionLimit, topicCounter, bindingBase }
}

/** Float64 index of `field` in partition slot `slot`. */
export function slotFieldIndex (slot: number, field: SlotField): number {
  return HEADER_BYTES / 8 + slot * SLOT_FIELDS + field
}

/** Float64 index of the DECODE_ERROR_RECORDS counter of topic counter `topicCounter`. */
export function topicCounterIndex (layout: ShardStatsLayout, topicCounter: number): number {
  return HEADER_BYTES / 8 + layout.slotCount * SLOT_FIELDS + topicCounter
}

/** Float64 index of the DECODE_FAILURES counter of binding counter `bindingCounter`. */
export function bindingCounterIndex (layout: ShardStatsLayout, bindingCounter: number): number {
  return HEADER_BYTES / 8 + layout.slotCount * SLOT_FIELDS + layout.topics.length + bindingCounter
}

/**
 * Allocates a stats buffer for `layout` with every offset field set to UNKNOWN_OFFSET and every
 * counter at 0. Main thread, before the shard's first task starts.
 */
export function createShardStatsBuffer (layout: ShardStatsLayout): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(layout.byteLength)
  const fields = new Float64Array(buffer)
  for (let slot = 0; slot < layout.slotCount; slot++) {
    fields[slotFieldIndex(slot, SlotField.HIGH_WATERMARK)] = UNKNOWN_OFFSET
    fields[slotFieldIndex(slot, SlotField.POSITION)] = UNKNOWN_OFFSET
    fields[slotFieldIndex(slot, SlotField.COMMITTED)] = UNKNOWN_OFFSET
    fields[slotFieldIndex(slot, SlotField.LOG_START)] = UNKNOWN_OFFSET
  }
  return buffer
}

/**
 * Throws RangeError unless `buffer` has the size `layout` needs, which catches a buffer made for
 * another group or topology. Called where a stats buffer is wrapped.
 */
export function assertShardStatsBuffer (buffer: SharedArrayBuffer, layout: ShardStatsLayout): void {
  if (buffer.byteLength !== layout.byteLength) {
    throw new RangeError(
      `Invalid stats buffer of ${buffer.byteLength} bytes for consumer group ${JSON.stringify(layout.groupId)}: ` +
      `its layout needs ${layout.byteLength} bytes. Allocate it with createShardStatsBuffer(shardStatsLayout(topology, groupId)).`,
    )
  }
}

/** Label of a decoder in metrics and decode-error messages: `json`, `protobuf <type>` or `custom <export>`. */
export function decoderLabel (decoder: DecoderDescriptor): string {
  switch (decoder.kind) {
    case 'json': return 'json'
    case 'protobuf': return `protobuf ${decoder.typeName.replace(/^\./, '')}`
    case 'custom': return `custom ${decoder.decoder.export}`
  }
}
