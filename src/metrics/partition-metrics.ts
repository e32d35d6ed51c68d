import type { Topology } from '../topology/types.js'
import { consumerLag, lagBasis, type LagBasis, type PartitionOffsets } from './lag.js'
import { SlotField, UNKNOWN_OFFSET, slotFieldIndex, type ShardStatsLayout } from './shard-stats-layout.js'

/** One row of the partition table: a partition as one consumer group reads it. */
export interface PartitionSlot {
  readonly groupId: string
  readonly topic: string
  readonly partition: number
}

/**
 * Per (consumer group, topic, partition) figures, one slot per partition that the topology
 * declares for a group's topics, groups in topology order and within a group in its stats layout's
 * slot order.
 *
 * Two kinds of column:
 * - Drain columns, written by the bus's claim loop on the main thread: `lastDrainedOffset`,
 *   `drainedThisTick`, drainedTotal(). They are current as of the last tick(). The claim loop
 *   updates them once per run of consecutive records of one partition, not per record.
 * - Worker columns: highWatermark(), position(), committedOffset(), logStartOffset(), lag() and
 *   the fetch counters, read from the shards' stats buffers at each call, so they are as fresh as
 *   the workers' last writes (see the contract in shard-stats-layout.ts). Each slot is read from
 *   the shard that owns the partition now, or, while no shard owns it or the owner has not
 *   written it yet (during a rebalance or after a crash), from the shard that updated it last.
 *
 * Main thread only. Every method here allocates nothing, except slotOf() and the @internal setup
 * methods.
 */
export class PartitionMetrics {
  /** Number of slots. */
  readonly size: number
  readonly slots: readonly PartitionSlot[]
  /** Kafka offset of the last record handed out from each slot's partition; -1 before the first. */
  readonly lastDrainedOffset: Float64Array
  /**
   * Records handed out by the last tick per slot: events (one per event of a fanned-out record) and
   * decode errors. Records whose partition has no slot (see shard-stats-layout.ts) are not counted.
   */
  readonly drainedThisTick: Int32Array
  /** @internal Per ring: slot of each topic id's partition 0, or -1. Read by the claim loop. */
  readonly ringSlotBase: Int32Array[] = []
  /** @internal Per ring: declared partition count per topic id, 0 for topics its group does not read. */
  readonly ringPartitionLimit: Int32Array[] = []

  readonly #drainedBefore: Float64Array
  readonly #layouts: readonly ShardStatsLayout[]
  /** Per group index: global slot of each topic id's partition 0, or -1. */
  readonly #groupSlotBase: Int32Array[] = []
  readonly #groupFirstSlot: Int32Array
  readonly #startsAtEarliest: Uint8Array
  readonly #slotGroup: Int32Array
  readonly #slotLocal: Int32Array
  /** Per group index: the shards of the group. */
  readonly #groupShards: number[][]
  /** Per shard: the shard's stats buffer as float64 fields. */
  readonly #shardFields: Float64Array[] = []
  readonly #shardGroup: number[] = []
  readonly #owner: Int32Array
  readonly #index = new Map<string, number>()
  readonly #topicIds: ReadonlyMap<string, number>
  readonly #offsets: PartitionOffsets = { highWatermark: UNKNOWN_OFFSET, logStart: UNKNOWN_OFFSET, committed: UNKNOWN_OFFSET, position: UNKNOWN_OFFSET }

  /** @internal Created by BusMetrics with one stats layout per group, in topology order. */
  constructor (topology: Topology, layouts: readonly ShardStatsLayout[]) {
    this.#layouts = layouts
    this.#topicIds = new Map(topology.topics.map((topic) => [topic.name, topic.id]))
    const slots: PartitionSlot[] = []
    this.#groupFirstSlot = new Int32Array(layouts.length)
    this.#startsAtEarliest = new Uint8Array(layouts.length)
    this.#groupShards = layouts.map(() => [])
    for (let group = 0; group < layouts.length; group++) {
      const layout = layouts[group]!
      const first = slots.length
      this.#groupFirstSlot[group] = first
      this.#startsAtEarliest[group] = topology.groups.find((candidate) => candidate.groupId === layout.groupId)?.initialOffset === 'earliest' ? 1 : 0
      this.#groupSlotBase.push(layout.slotBase.map((base) => (base < 0 ? -1 : first + base)))
      for (const slot of layout.slots) {
        this.#index.set(slotKey(layout.groupId, slot.topic, slot.partition), slots.length)
        slots.push({ groupId: layout.groupId, topic: slot.topic, partition: slot.partition })
      }
    }
    this.size = slots.length
    this.slots = slots
    this.lastDrainedOffset = new Float64Array(this.size).fill(UNKNOWN_OFFSET)
    this.drainedThisTick = new Int32Array(this.size)
    this.#drainedBefore = new Float64Array(this.size)
    this.#owner = new Int32Array(this.size).fill(-1)
    this.#slotGroup = new Int32Array(this.size)
    this.#slotLocal = new Int32Array(this.size)
    for (let group = 0; group < layouts.length; group++) {
      const first = this.#groupFirstSlot[group]!
      for (let local = 0; local < layouts[group]!.slotCount; local++) {
        this.#slotGroup[first + local] = group
        this.#slotLocal[first + local] = local
      }
    }
  }

  /** Returns the slot of a partition as `groupId` reads it, or -1 when there is none. Allocates a key string. */
  slotOf (groupId: string, topic: string, partition: number): number {
    return this.#index.get(slotKey(groupId, topic, partition)) ?? -1
  }

  /** Records handed out from the slot's partition since the bus started, the last tick included. */
  drainedTotal (slot: number): number {
    return this.#drainedBefore[slot]! + this.drainedThisTick[slot]!
  }

  /** Offset after the last record in the partition's log; -1 while unknown. */
  highWatermark (slot: number): number {
    return this.#read(slot, SlotField.HIGH_WATERMARK, UNKNOWN_OFFSET)
  }

  /** Offset after the last record the owning shard processed; -1 while unknown. */
  position (slot: number): number {
    return this.#read(slot, SlotField.POSITION, UNKNOWN_OFFSET)
  }

  /** The group's committed offset (the next offset to read); -1 when it has none or it is not known yet. */
  committedOffset (slot: number): number {
    return this.#read(slot, SlotField.COMMITTED, UNKNOWN_OFFSET)
  }

  /** Oldest offset the broker retains, from the workers' periodic broker refresh; -1 while unknown. */
  logStartOffset (slot: number): number {
    return this.#read(slot, SlotField.LOG_START, UNKNOWN_OFFSET)
  }

  /** Fetched records the group's shards processed, summed over the shards, since the bus started. */
  recordsFetched (slot: number): number {
    return this.#sum(slot, SlotField.RECORDS_FETCHED)
  }

  /** Key and value bytes of those records. */
  bytesFetched (slot: number): number {
    return this.#sum(slot, SlotField.BYTES_FETCHED)
  }

  /** Lag in records (see LagBasis for the rule of each case); -1 while unknown. */
  lag (slot: number): number {
    return consumerLag(this.#fillOffsets(slot), this.#startsAtEarliest[this.#slotGroup[slot]!] === 1)
  }

  /** Rule by which lag(slot) is computed. */
  lagBasis (slot: number): LagBasis {
    return lagBasis(this.#fillOffsets(slot), this.#startsAtEarliest[this.#slotGroup[slot]!] === 1)
  }

  /**
   * Sum of the known lags of a group's partitions, or of every slot when `groupId` is omitted;
   * -1 when no lag is known, such as before the first fetch response or broker refresh.
   */
  totalLag (groupId?: string): number {
    let total = 0
    let known = false
    for (let slot = 0; slot < this.size; slot++) {
      if (groupId !== undefined && this.slots[slot]!.groupId !== groupId) continue
      const lag = this.lag(slot)
      if (lag < 0) continue
      total += lag
      known = true
    }
    return known ? total : UNKNOWN_OFFSET
  }

  /** Shard that owns the slot's partition by its last assignment, or -1 when none does. */
  ownerShard (slot: number): number {
    return this.#owner[slot]!
  }

  /** Partitions (with a slot) that `shard` owns by its last assignment. */
  assignedPartitions (shard: number): number {
    let count = 0
    for (let slot = 0; slot < this.size; slot++) if (this.#owner[slot] === shard) count++
    return count
  }

  /** @internal Registers a shard of group `groupIndex` (topology order) with its stats buffer. */
  addShard (shard: number, groupIndex: number, stats: SharedArrayBuffer): void {
    this.#shardFields[shard] = new Float64Array(stats)
    this.#shardGroup[shard] = groupIndex
    this.#groupShards[groupIndex]!.push(shard)
    this.ringSlotBase[shard] = this.#groupSlotBase[groupIndex]!
    this.ringPartitionLimit[shard] = this.#layouts[groupIndex]!.partitionLimit
  }

  /**
   * @internal Applies an assignment message of `shard`: it owns exactly the listed partitions now.
   * Another shard's ownership is left alone, so assignments that arrive out of order during a
   * rebalance do not clear each other.
   */
  setAssignment (shard: number, partitions: readonly { readonly topic: string, readonly partitions: readonly number[] }[]): void {
    this.clearAssignment(shard)
    const base = this.#groupSlotBase[this.#shardGroup[shard]!]
    const layout = this.#layouts[this.#shardGroup[shard]!]
    if (base === undefined || layout === undefined) return
    for (const entry of partitions) {
      const topicId = this.#topicIds.get(entry.topic)
      if (topicId === undefined || base[topicId]! < 0) continue
      for (const partition of entry.partitions) {
        if (partition >= 0 && partition < layout.partitionLimit[topicId]!) this.#owner[base[topicId]! + partition] = shard
      }
    }
  }

  /** @internal Forgets what `shard` owns, after it failed or stopped. */
  clearAssignment (shard: number): void {
    for (let slot = 0; slot < this.size; slot++) if (this.#owner[slot] === shard) this.#owner[slot] = -1
  }

  /**
   * @internal Called by tick() before it claims: adds the previous tick's per-slot counts to the
   * totals and zeroes them. Skipped (by the caller) after a tick that drained nothing.
   */
  foldDrained (): void {
    const now = this.drainedThisTick
    const before = this.#drainedBefore
    for (let slot = 0; slot < now.length; slot++) {
      before[slot] += now[slot]!
      now[slot] = 0
    }
  }

  /**
   * Stats buffer to read `slot` from: the owner's once it has written the slot, else the one
   * updated last, else the group's first. The fallback keeps a partition's figures visible while
   * a rebalance moves it to a shard that has not fetched it yet.
   */
  #source (slot: number): Float64Array | undefined {
    const updatedAt = slotFieldIndex(this.#slotLocal[slot]!, SlotField.UPDATED_AT_MS)
    const owner = this.#owner[slot]!
    if (owner >= 0 && this.#shardFields[owner]![updatedAt]! > 0) return this.#shardFields[owner]
    const shards = this.#groupShards[this.#slotGroup[slot]!]!
    let best: Float64Array | undefined
    for (let i = 0; i < shards.length; i++) {
      const fields = this.#shardFields[shards[i]!]!
      if (best === undefined || fields[updatedAt]! > best[updatedAt]!) best = fields
    }
    return best
  }

  #read (slot: number, field: SlotField, missing: number): number {
    const fields = this.#source(slot)
    return fields === undefined ? missing : fields[slotFieldIndex(this.#slotLocal[slot]!, field)]!
  }

  #sum (slot: number, field: SlotField): number {
    const shards = this.#groupShards[this.#slotGroup[slot]!]!
    const index = slotFieldIndex(this.#slotLocal[slot]!, field)
    let total = 0
    for (let i = 0; i < shards.length; i++) total += this.#shardFields[shards[i]!]![index]!
    return total
  }

  #fillOffsets (slot: number): PartitionOffsets {
    const offsets = this.#offsets
    const fields = this.#source(slot)
    if (fields === undefined) {
      offsets.highWatermark = offsets.logStart = offsets.committed = offsets.position = UNKNOWN_OFFSET
      return offsets
    }
    const base = slotFieldIndex(this.#slotLocal[slot]!, SlotField.HIGH_WATERMARK)
    offsets.highWatermark = fields[base + SlotField.HIGH_WATERMARK]!
    offsets.logStart = fields[base + SlotField.LOG_START]!
    offsets.committed = fields[base + SlotField.COMMITTED]!
    offsets.position = fields[base + SlotField.POSITION]!
    return offsets
  }
}

function slotKey (groupId: string, topic: string, partition: number): string {
  return `${groupId}\u0000${topic}\u0000${partition}`
}
