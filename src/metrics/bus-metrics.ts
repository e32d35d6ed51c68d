import type { TickStatistics } from '../bus/bus.js'
import type { EventReader } from '../bus/event-reader.js'
import { DecodeErrorEvent } from '../bus/builtin-events.js'
import { Control } from '../ring/layout.js'
import { readRingFullCount, readRingRecordsWritten, readRingUsedBytes } from '../ring/ring-buffer.js'
import type { RingReader } from '../ring/ring-reader.js'
import type { EventView } from '../schema/view.js'
import type { Topology } from '../topology/types.js'
import { GroupMetrics } from './group-metrics.js'
import { PartitionMetrics } from './partition-metrics.js'
import { createShardStatsBuffer, shardStatsLayout, type ShardStatsLayout } from './shard-stats-layout.js'

/**
 * Drain durations kept for the drain-time histogram, one per tick: 8192 ticks are about 136 s at
 * 60 Hz, longer than common scrape intervals. Ticks older than that when a scrape comes are left
 * out of the histogram (they still count in BusMetrics.drainSecondsTotal).
 */
export const DRAIN_HISTORY_LENGTH = 8192

/**
 * Figures of one consumer shard's inbound ring, refreshed by each tick() after it claims. Main
 * thread. The control words are loaded once per tick and the worker keeps writing in between, so
 * each figure describes the ring as of the end of the last tick.
 */
export class RingMetrics {
  readonly shard: number
  readonly groupId: string
  /** Data capacity in bytes. */
  readonly capacityBytes: number
  /** Bytes published and not yet handed out by a tick, padding included. */
  depthBytes = 0
  /**
   * Records published and not yet handed out: records written minus records handed out. The worker
   * stores the record count just after it publishes, so this can briefly read low, never below 0.
   */
  depthEvents = 0
  /** Bytes published and not yet released: the depth plus the records the live ticks hold. */
  usedBytes = 0
  /** Records published since the bus started (padding excluded). */
  recordsWritten = 0
  /** Records handed out by ticks since the bus started. */
  recordsHandedOut = 0
  /** Worker writes that found the ring full since the bus started. */
  fullTotal = 0

  readonly #reader: RingReader
  #lastWritten: number
  #lastFull: number

  /** @internal Created by BusMetrics.addShard(). */
  constructor (shard: number, groupId: string, reader: RingReader) {
    this.shard = shard
    this.groupId = groupId
    this.capacityBytes = reader.capacity
    this.#reader = reader
    this.#lastWritten = reader.recordsWritten
    this.#lastFull = reader.fullCount
  }

  /** @internal Reads the control words; called by tick(). Allocates nothing. */
  refresh (): void {
    const memory = this.#reader.memory
    // The uint32 counters wrap at 2^32; adding the wrapped difference keeps the totals exact as
    // long as fewer than 2^32 records arrive between two ticks.
    const written = readRingRecordsWritten(memory)
    this.recordsWritten += (written - this.#lastWritten) >>> 0
    this.#lastWritten = written
    const full = readRingFullCount(memory)
    this.fullTotal += (full - this.#lastFull) >>> 0
    this.#lastFull = full

    this.depthEvents = Math.max(0, this.recordsWritten - this.recordsHandedOut)
    const published = Atomics.load(memory.i32, Control.PUBLISHED)
    this.depthBytes = Math.min(this.capacityBytes, Math.max(0, (published - this.#reader.mark()) | 0))
    this.usedBytes = readRingUsedBytes(memory)
  }
}

/** Missed and read counts of one reader, for metrics. */
export class ReaderMetrics {
  readonly eventType: string
  /** The reader's `name` option, or its index among the readers of its event type. */
  readonly name: string
  readonly #reader: EventReader<EventView>

  /** @internal Created by BusMetrics.addReader(). */
  constructor (eventType: string, name: string, reader: EventReader<EventView>) {
    this.eventType = eventType
    this.name = name
    this.#reader = reader
  }

  /** Events released before this reader read them, since it was created. */
  get missed (): number {
    return this.#reader.missed
  }

  /** Events this reader returned, since it was created. */
  get readCount (): number {
    return this.#reader.readCount
  }
}

/**
 * Everything tickbus measures, readable from the game tick without allocating: `bus.metrics`.
 *
 * Refreshed by tick(): `tick`, `drainedPerType`, `drainedTotalPerType`, `limitedTicks`,
 * `drainSecondsTotal`, `rings`, and the drain columns of `partitions`. Read live from the workers'
 * stats buffers on each call: the worker columns of `partitions` (offsets and lag) and the
 * counters of `groups`. Main thread only.
 */
export class BusMetrics {
  /** Event type names by type id; id 0 is the built-in decode-error type. */
  readonly eventTypes: readonly string[]
  /** Events handed out by the last tick per event type id (the bus's own counts). */
  readonly drainedPerType: Int32Array
  /** Events handed out since the bus started per event type id, the last tick included. */
  readonly drainedTotalPerType: Float64Array
  /** Last tick's figures: the same object as `bus.stats`. */
  readonly tick: TickStatistics
  readonly rings: RingMetrics[] = []
  readonly partitions: PartitionMetrics
  /** Per consumer group, in topology order. */
  readonly groups: readonly GroupMetrics[]
  readonly readers: ReaderMetrics[] = []
  /** Ticks that a limit (count or time budget) stopped before the rings were empty. */
  limitedTicks = 0
  /** Seconds all ticks spent releasing and claiming, summed. */
  drainSecondsTotal = 0

  readonly #layouts: Map<string, ShardStatsLayout>
  readonly #groupIndex: Map<string, number>
  readonly #drainHistory = new Float64Array(DRAIN_HISTORY_LENGTH)
  #drainHistoryEnd = 0

  /** @internal Created by the Bus with its per-type drain counts and its TickStatistics. */
  constructor (topology: Topology, drainedPerType: Int32Array, tick: TickStatistics) {
    this.eventTypes = [DecodeErrorEvent.name, ...topology.eventTypes.map((type) => type.name)]
    this.drainedPerType = drainedPerType
    this.drainedTotalPerType = new Float64Array(drainedPerType.length)
    this.tick = tick
    const layouts = topology.groups.map((group) => shardStatsLayout(topology, group.groupId))
    this.#layouts = new Map(layouts.map((layout) => [layout.groupId, layout]))
    this.#groupIndex = new Map(layouts.map((layout, index) => [layout.groupId, index]))
    this.partitions = new PartitionMetrics(topology, layouts)
    this.groups = layouts.map((layout) => new GroupMetrics(layout))
  }

  /** Stats layout of consumer group `groupId`'s shards; undefined for a group not in the topology. */
  layoutOf (groupId: string): ShardStatsLayout | undefined {
    return this.#layouts.get(groupId)
  }

  /**
   * Visits the drain durations (in seconds) of the ticks from number `cursor` on, oldest first,
   * and returns the cursor for the next call. The first call passes 0. Ticks older than the last
   * DRAIN_HISTORY_LENGTH are skipped. The drain-time histogram calls it at scrape time.
   */
  visitDrainDurations (cursor: number, visit: (seconds: number) => void): number {
    const end = this.#drainHistoryEnd
    for (let i = Math.max(cursor, end - DRAIN_HISTORY_LENGTH); i < end; i++) visit(this.#drainHistory[i % DRAIN_HISTORY_LENGTH]!)
    return end
  }

  /**
   * @internal Registers a shard and its ring, and returns the shard's new stats buffer for its
   * worker task. Called by the bus in start(), once per shard, in shard order.
   */
  addShard (shard: number, groupId: string, reader: RingReader): SharedArrayBuffer {
    const group = this.#groupIndex.get(groupId)
    const layout = this.#layouts.get(groupId)
    if (group === undefined || layout === undefined) throw new RangeError(`Consumer group ${JSON.stringify(groupId)} is not in the topology.`)
    const stats = createShardStatsBuffer(layout)
    this.rings[shard] = new RingMetrics(shard, groupId, reader)
    this.partitions.addShard(shard, group, stats)
    this.groups[group]!.addShard(shard, stats)
    return stats
  }

  /** @internal Registers a reader of event type id `typeId`; `name` defaults to its index among that type's readers. */
  addReader (typeId: number, name: string | undefined, reader: EventReader<EventView>): void {
    const eventType = this.eventTypes[typeId] ?? `#${typeId}`
    const index = this.readers.filter((entry) => entry.eventType === eventType).length
    this.readers.push(new ReaderMetrics(eventType, name ?? String(index), reader))
  }

  /** @internal Called by tick() before it claims. */
  beginTick (): void {
    if (this.tick.drained > 0) this.partitions.foldDrained()
  }

  /** @internal Called by tick() after it updated `tick`. Allocates nothing. */
  endTick (): void {
    for (let i = 0; i < this.rings.length; i++) this.rings[i]!.refresh()
    const perType = this.drainedPerType
    const totals = this.drainedTotalPerType
    for (let type = 0; type < perType.length; type++) totals[type] += perType[type]!
    if (this.tick.limited) this.limitedTicks++
    const seconds = this.tick.drainNs / 1e9
    this.drainSecondsTotal += seconds
    this.#drainHistory[this.#drainHistoryEnd % DRAIN_HISTORY_LENGTH] = seconds
    this.#drainHistoryEnd++
  }
}
