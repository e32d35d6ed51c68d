import { MessageChannel } from 'node:worker_threads'
import { availableParallelism } from 'node:os'
import { Piscina } from 'piscina'
import { ErrorCode, TickbusError, describeValue, fromErrorRecord, invalidOption } from '../errors.js'
import type { Logger } from '../logger.js'
import { Header, RecordKind } from '../ring/layout.js'
import { createRingBuffer } from '../ring/ring-buffer.js'
import { createRingMemory, type RingMemory } from '../ring/memory.js'
import { NO_RECORD, RingReader } from '../ring/ring-reader.js'
import type { EventType } from '../schema/define-event.js'
import type { EventSchema } from '../schema/fields.js'
import { createViewContext, type EventView, type ViewContext } from '../schema/view.js'
import type { EventViewOf } from '../schema/define-event.js'
import type { Topology } from '../topology/types.js'
import { resolveTopology } from '../topology/resolve-topology.js'
import type { Backend } from '../backends/backend.js'
import { DECODE_ERROR_TYPE_ID, DecodeErrorEvent } from './builtin-events.js'
import { EventReader } from './event-reader.js'
import { EventWindow } from './event-window.js'
import { partitionKey } from './offset-tracker.js'
import type { CommitMode, CommitSettings, ConsumerShardTask, FromWorkerMessage, PartitionOffset, ShardStopReport } from './messages.js'
import { resolveBusOptions, type BusOptions, type TickLimits } from './bus-options.js'
import { BusMetrics } from '../metrics/bus-metrics.js'
import type { DeliveryFailureView } from './delivery-failure.js'
import type { EventWriter } from './event-writer.js'
import { OutboundChannel, type ProducerStatistics, type ProducerStopResult } from './outbound-channel.js'

/** Set in #claimRing()'s result when the tick's count or time limit stopped the claim. */
const TICK_LIMITED_BIT = 0x40000000
/** Set in #claimRing()'s result when an event type's limit stopped this ring only. */
const RING_LIMITED_BIT = 0x20000000
const DRAINED_MASK = 0x1fffffff

/** Outcome of one commit, as a worker reported it. */
export interface CommitResult {
  readonly groupId: string
  readonly shard: number
  readonly offsets: readonly PartitionOffset[]
  /** null when the commit succeeded. */
  readonly error: TickbusError | null
  readonly latencyMs: number
}

/** Totals of commit outcomes since the bus started, per group and overall. */
export interface CommitStatistics {
  successes: number
  failures: number
  lastError: TickbusError | null
  /** Last committed offset (the next offset to read) per `topic:partition`. */
  readonly committed: Map<string, number>
}

/** Outcome of Bus.stop(): what it finished and what it left. */
export interface StopReport {
  /** Offsets committed while stopping. */
  readonly committed: readonly PartitionOffset[]
  /** Shards that did not stop within the timeout and were terminated. */
  readonly timedOutShards: readonly number[]
  /** Records fetched and written to a ring but not committed; they are fetched again by the next consumer. */
  readonly uncommittedRecords: number
  readonly errors: readonly TickbusError[]
  /** Producer outcome of the stop: events delivered, reported as failed, and left unknown. */
  readonly producer?: ProducerStopResult
}

/** Figures of the last tick, refreshed by tick(). */
export interface TickStatistics {
  /** Tick number, starting at 1. */
  tick: number
  /** Events (and decode errors) handed out by the last tick. */
  drained: number
  /** Nanoseconds the last tick spent releasing and claiming records. */
  drainNs: number
  /** Consecutive ticks, up to and including the last, that drained nothing; 0 after a busy tick. */
  idleStreak: number
  /** Whether a limit (count or time budget) left records in a ring. */
  limited: boolean
}

interface ShardState {
  readonly index: number
  readonly groupId: string
  readonly memory: RingMemory
  readonly reader: RingReader
  readonly stats: SharedArrayBuffer
  /** Positions to release, one per live tick, oldest first. */
  readonly marks: number[]
  port: import('node:worker_threads').MessagePort | undefined
  task: Promise<ShardStopReport> | undefined
  attempt: number
  restartTimer: NodeJS.Timeout | undefined
  /** Partitions the shard owns, from its last assignment message, as `topic:partition`. */
  assignment: Set<string>
  /**
   * Partitions (as partitionKey values) the shard lost in its last rebalance, and the ring
   * position before which their records are skipped. Null when nothing is to be skipped.
   */
  revoked: { readonly keys: Set<number>, readonly until: number } | null
  startedAt: number
}

/** Creates a bus, applies its topology through the backend and starts the consumer workers. */
export async function createBus (options: BusOptions): Promise<Bus> {
  const bus = new Bus(options)
  await bus.start()
  return bus
}

/**
 * Brings a topology's events into the game tick. Call tick() once at the start of each game tick,
 * then read this tick's events with readers. All methods are for the main thread.
 */
export class Bus {
  readonly topology: Topology
  readonly backend: Backend
  readonly logger: Logger
  readonly stats: TickStatistics = { tick: 0, drained: 0, drainNs: 0, idleStreak: 0, limited: false }
  readonly commitStatistics: CommitStatistics = { successes: 0, failures: 0, lastError: null, committed: new Map() }
  /** Figures for monitoring, refreshed by tick() and read without allocating; see BusMetrics. */
  readonly metrics: BusMetrics

  readonly #options: ReturnType<typeof resolveBusOptions>
  readonly #context: ViewContext
  readonly #shards: ShardState[] = []
  readonly #rings: RingMemory[] = []
  /** Window per event type id; index 0 contains decode errors. */
  readonly #windows: EventWindow[] = []
  readonly #readers: Array<EventReader<EventView>>[] = []
  readonly #drainedPerType: Int32Array
  readonly #limits: TickLimits
  readonly #outbound: OutboundChannel
  #pool: Piscina | undefined
  #generation = 0
  #running = false
  #stopping = false
  #ringStart = 0
  #pendingErrors: TickbusError[] = []
  #errors: TickbusError[] = []
  #pendingCommits: CommitResult[] = []
  #commitResults: CommitResult[] = []
  #commitRequestId = 0
  #revokedRecordsSkipped = 0
  readonly #topicIds: ReadonlyMap<string, number>
  readonly #generationGetter = (): number => this.#generation

  constructor (options: BusOptions) {
    this.#options = resolveBusOptions(options)
    this.topology = this.#options.topology
    this.backend = this.#options.backend
    this.logger = this.#options.logger
    this.#limits = this.#options.limits
    this.#topicIds = new Map(this.topology.topics.map((topic) => [topic.name, topic.id]))
    this.#context = createViewContext({
      topics: ['', ...this.topology.topics.map((topic) => topic.name)],
      groups: ['', ...this.topology.groups.map((group) => group.groupId)],
      ...(this.#options.devMode === undefined ? {} : { devMode: this.#options.devMode }),
    })
    const typeCount = this.topology.eventTypes.length + 1
    for (let id = 0; id < typeCount; id++) {
      this.#windows.push(new EventWindow(this.#options.eventLifetimeTicks))
      this.#readers.push([])
    }
    this.#drainedPerType = new Int32Array(typeCount)
    this.metrics = new BusMetrics(this.topology, this.#drainedPerType, this.stats)
    this.#outbound = new OutboundChannel({
      topology: this.topology,
      backend: this.backend,
      context: this.#context,
      lifetimeTicks: this.#options.eventLifetimeTicks,
      logger: this.logger,
      options: this.#options.outbound,
      restartDelayMs: this.#options.restart.initialDelayMs,
      maxRestartDelayMs: this.#options.restart.maxDelayMs,
      onError: (error) => { this.#pendingErrors.push(error) },
    })
  }

  /** Whether the bus is started and not stopping. */
  get running (): boolean {
    return this.#running && !this.#stopping
  }

  /** @internal Use createBus(). */
  async start (): Promise<void> {
    if (this.#running) return
    // Workers resolve the topology too. Resolving it here first makes a broken decoder module or
    // protobuf type reject createBus(), rather than crash the shards.
    await resolveTopology(this.topology)
    const report = await this.backend.start(this.topology, this.logger)
    for (const warning of report.warnings) this.logger.warn({ backend: this.backend.name }, warning)
    if (report.created.length > 0) this.logger.info({ topics: report.created }, 'created topics')

    let shardIndex = 0
    for (const group of this.topology.groups) {
      for (let i = 0; i < group.shards; i++) {
        const buffer = createRingBuffer(this.#options.ringCapacityBytes)
        const memory = createRingMemory(buffer)
        const reader = new RingReader(memory)
        this.#rings.push(memory)
        this.#shards.push({
          index: shardIndex,
          groupId: group.groupId,
          memory,
          reader,
          stats: this.metrics.addShard(shardIndex++, group.groupId, reader),
          marks: [],
          port: undefined,
          task: undefined,
          attempt: 0,
          restartTimer: undefined,
          assignment: new Set(),
          revoked: null,
          startedAt: 0,
        })
      }
    }

    const threads = this.#options.workers ?? Math.max(1, Math.min(this.#shards.length, availableParallelism() - 1))
    this.#pool = new Piscina({
      filename: new URL('../../workers/consumer-worker.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      // Shard tasks never finish on their own, so each worker runs several of them at once, and
      // with atomics disabled a worker's event loop keeps running between tasks.
      // The producer task is one more long-lived task beside the shards.
      concurrentTasksPerWorker: Math.max(1, Math.ceil((this.#shards.length + 1) / threads)),
      atomics: 'disabled',
      idleTimeout: Number.POSITIVE_INFINITY,
    })
    this.#running = true
    for (const shard of this.#shards) this.#startShard(shard)
    this.#outbound.start(this.#pool)
    this.logger.info({ shards: this.#shards.length, workers: threads, backend: this.backend.name }, 'bus started')
  }

  /**
   * Returns a reader of `eventType`'s events, with its own cursor. `groupId` limits it to events
   * consumed by that consumer group. `name` labels the reader's missed-events metric (default: its
   * index among the readers of its type). Throws INVALID_OPTION when the type is not in the
   * topology or its fields differ from the topology's declaration.
   */
  reader<S extends EventSchema> (eventType: EventType<S>, options: { groupId?: string, name?: string } = {}): EventReader<EventViewOf<S> & EventView> {
    const descriptor = this.topology.eventTypes.find((candidate) => candidate.name === eventType.name)
    if (descriptor === undefined) {
      throw invalidOption('reader(eventType)', `must be an event type bound in the topology (bound: ${this.topology.eventTypes.map((type) => type.name).join(', ') || 'none'})`, eventType.name)
    }
    return this.#createReader(descriptor.id, () => eventType.createView(this.#context) as EventViewOf<S> & EventView, options.groupId, options.name)
  }

  /** Returns a reader of decode-error records: fetched records that no binding could decode. */
  decodeErrors (options: { groupId?: string, name?: string } = {}): EventReader<EventViewOf<typeof DecodeErrorEvent.schema> & EventView> {
    return this.#createReader(DECODE_ERROR_TYPE_ID, () => DecodeErrorEvent.createView(this.#context) as EventViewOf<typeof DecodeErrorEvent.schema> & EventView, options.groupId, options.name)
  }

  /**
   * Returns the writer whose write() hands events to the producer worker. It never blocks: see
   * EventWriter for what it returns when the outbound ring is full. Main thread only.
   */
  writer (): EventWriter {
    return this.#outbound.writer
  }

  /** Returns a reader of delivery failures (events the producer could not send), with its own cursor. */
  deliveryFailures (): EventReader<DeliveryFailureView> {
    return this.#outbound.failures()
  }

  /**
   * Resolves true once every event written so far is delivered or reported as failed (the failure
   * is read on a later tick), or false when `timeoutMs` passes first.
   */
  async flush (timeoutMs = this.#options.stopTimeoutMs): Promise<boolean> {
    return await this.#outbound.flush(timeoutMs)
  }

  /** Producer figures: written, refused, pending, delivered, failed and retried events. */
  producerStatistics (): ProducerStatistics {
    return this.#outbound.statistics()
  }

  /**
   * Records not handed out because their partition moved to another consumer in a rebalance
   * before the tick read them. The partition's new owner reads them from the committed offset.
   */
  get revokedRecordsSkipped (): number {
    return this.#revokedRecordsSkipped
  }

  /**
   * Bus errors (worker crashes, broker outages, writes refused by a full outbound ring) that
   * arrived before this tick. Failed commits are reported in commitResults instead. The array is
   * reused: it is valid until the next tick, so copy what you keep.
   */
  get errors (): readonly TickbusError[] {
    return this.#errors
  }

  /** Commit outcomes that arrived before this tick; like `errors`, valid until the next tick. */
  get commitResults (): readonly CommitResult[] {
    return this.#commitResults
  }

  /**
   * Releases the records that earlier ticks handed out (so workers may commit them and reuse the
   * space), then claims what the rings hold now, within the tick limits. Never blocks, never
   * awaits; allocates only when an event type's window grows.
   */
  tick (): TickStatistics {
    const started = process.hrtime.bigint()
    const generation = ++this.#generation
    const lifetime = this.#options.eventLifetimeTicks

    // Release the tick that falls out of the lifetime.
    const releasedGeneration = generation - lifetime
    if (releasedGeneration > 0) this.#context.releasedGeneration = releasedGeneration
    for (const shard of this.#shards) {
      if (shard.marks.length >= lifetime) shard.reader.release(shard.marks.shift()!)
    }
    for (let type = 0; type < this.#windows.length; type++) {
      const window = this.#windows[type]!
      const first = window.firstSequenceAfterNextTick()
      const readers = this.#readers[type]!
      for (let i = 0; i < readers.length; i++) readers[i]!.accountDropped(first)
      window.beginTick()
      this.#drainedPerType[type] = 0
    }
    this.#outbound.beginTick(generation)
    // The arrays swap roles instead of being replaced, so a tick allocates none.
    const shownErrors = this.#errors
    shownErrors.length = 0
    this.#errors = this.#pendingErrors
    this.#pendingErrors = shownErrors
    const shownCommits = this.#commitResults
    shownCommits.length = 0
    this.#commitResults = this.#pendingCommits
    this.#pendingCommits = shownCommits

    this.metrics.beginTick()
    const drained = this.#claim(started)
    this.stats.tick = generation
    this.stats.drained = drained
    this.stats.idleStreak = drained === 0 ? this.stats.idleStreak + 1 : 0
    this.stats.drainNs = Number(process.hrtime.bigint() - started)
    this.metrics.endTick()
    return this.stats
  }

  /** Events of `eventType` handed out by the last tick. */
  drainedCount (eventType: EventType): number {
    const descriptor = this.topology.eventTypes.find((candidate) => candidate.name === eventType.name)
    return descriptor === undefined ? 0 : this.#drainedPerType[descriptor.id]!
  }

  /** Decode errors handed out by the last tick. */
  get drainedDecodeErrors (): number {
    return this.#drainedPerType[DECODE_ERROR_TYPE_ID]!
  }

  /** Bytes and records waiting in each shard's ring (published, not yet handed out), for metrics. */
  ringDepths (): Array<{ shard: number, groupId: string, unreadBytes: number, usedBytes: number, capacityBytes: number, fullCount: number }> {
    return this.#shards.map((shard) => ({
      shard: shard.index,
      groupId: shard.groupId,
      unreadBytes: shard.reader.unreadBytes,
      usedBytes: shard.reader.usedBytes,
      capacityBytes: shard.reader.capacity,
      fullCount: shard.reader.fullCount,
    }))
  }

  /**
   * Asks the workers to commit `offsets` (the next offsets to read) in manual commit mode. The
   * outcome arrives as a commit result on a later tick. Throws NOT_RUNNING when the bus stopped.
   */
  commit (offsets: readonly PartitionOffset[]): void {
    if (!this.running) throw new TickbusError(ErrorCode.NOT_RUNNING, 'Cannot commit: the bus is not running.')
    const requestId = ++this.#commitRequestId
    for (const shard of this.#shards) {
      const owned = offsets.filter((entry) => shard.assignment.has(`${entry.topic}:${entry.partition}`))
      if (owned.length > 0) shard.port?.postMessage({ type: 'commit', requestId, offsets: owned })
    }
  }

  /**
   * Stops the bus: releases every record handed out (the game has processed them), requests each
   * shard to commit what was released and leave its group, and waits up to `timeoutMs`.
   * Returns what was done and what was not. Call it once the last tick's readers are done: the
   * records that tick handed out count as processed and are committed.
   */
  async stop (timeoutMs = this.#options.stopTimeoutMs): Promise<StopReport> {
    if (!this.#running || this.#stopping) return { committed: [], timedOutShards: [], uncommittedRecords: 0, errors: [] }
    this.#stopping = true
    // Flushes the producer while the shards commit; both end within timeoutMs.
    const producerStop = this.#outbound.stop(timeoutMs)
    const committed: PartitionOffset[] = []
    const timedOutShards: number[] = []
    const errors: TickbusError[] = []
    let uncommittedRecords = 0

    for (const shard of this.#shards) {
      if (shard.restartTimer !== undefined) clearTimeout(shard.restartTimer)
      const mark = shard.reader.mark()
      shard.marks.length = 0
      shard.reader.release(mark)
      shard.port?.postMessage({ type: 'stop', timeoutMs })
    }
    for (const window of this.#windows) window.clear()
    this.#context.releasedGeneration = this.#generation

    const deadline = Date.now() + timeoutMs + 1000
    await Promise.all(this.#shards.map(async (shard) => {
      if (shard.task === undefined) return
      let timer: NodeJS.Timeout | undefined
      const outcome = await Promise.race([
        shard.task.then((report) => ({ report }), (error: unknown) => ({ error })),
        new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now())) }),
      ])
      clearTimeout(timer)
      if (outcome === 'timeout') {
        timedOutShards.push(shard.index)
      } else if ('report' in outcome) {
        committed.push(...outcome.report.committed)
        uncommittedRecords += outcome.report.unreleasedRecords
      } else {
        errors.push(asTickbusError(outcome.error, shard))
      }
      shard.port?.close()
    }))
    const producer = await producerStop

    await this.#pool?.destroy()
    this.#pool = undefined
    await this.backend.stop()
    this.#running = false
    this.logger.info({ committed: committed.length, timedOutShards }, 'bus stopped')
    return { committed, timedOutShards, uncommittedRecords, errors, producer }
  }

  #createReader<V extends EventView> (typeId: number, createView: () => V, groupId: string | undefined, name: string | undefined): EventReader<V> {
    let groupNumber = 0
    if (groupId !== undefined) {
      const group = this.topology.groups.find((candidate) => candidate.groupId === groupId)
      if (group === undefined) throw invalidOption('reader options.groupId', 'must be a consumer group of the topology', groupId)
      groupNumber = group.id
    }
    const reader = new EventReader<V>(this.#windows[typeId]!, this.#rings, this.#context, createView, groupNumber, this.#generationGetter)
    this.#readers[typeId]!.push(reader as unknown as EventReader<EventView>)
    this.metrics.addReader(typeId, name, reader as unknown as EventReader<EventView>)
    return reader
  }

  /** Claims records from every ring into the per-type windows; returns how many it handed out. */
  #claim (started: bigint): number {
    const shards = this.#shards
    let total = 0
    let limited = false
    let tickLimited = false

    // Rotate the first ring each tick so that a per-tick limit does not always favour shard 0.
    const count = shards.length
    const start = count === 0 ? 0 : this.#ringStart++ % count
    for (let n = 0; n < count; n++) {
      const ringIndex = (start + n) % count
      const shard = shards[ringIndex]!
      const reader = shard.reader
      // Every shard gets a mark each tick, also one that a limit kept from claiming, so that the
      // marks of one tick are released together.
      if (!tickLimited) {
        const drained = this.#claimRing(reader, ringIndex, total, started)
        total += drained & DRAINED_MASK
        this.metrics.rings[ringIndex]!.recordsHandedOut += drained & DRAINED_MASK
        tickLimited = (drained & TICK_LIMITED_BIT) !== 0
        if ((drained & (TICK_LIMITED_BIT | RING_LIMITED_BIT)) !== 0) limited = true
      }
      shard.marks.push(reader.mark())
    }
    this.stats.limited = limited
    return total
  }

  /**
   * Claims records of one ring into the windows. Returns the count handed out, with
   * TICK_LIMITED_BIT or RING_LIMITED_BIT set when a limit stopped it before the ring was empty.
   */
  #claimRing (reader: RingReader, ringIndex: number, alreadyDrained: number, started: bigint): number {
    const limits = this.#limits
    const windows = this.#windows
    const drainedPerType = this.#drainedPerType
    const budgetNs = limits.timeBudgetNs
    const memory = reader.memory
    const u8 = memory.u8
    const u16 = memory.u16
    const i32 = memory.i32
    const f64 = memory.f64
    const partitions = this.metrics.partitions
    const slotBase = partitions.ringSlotBase[ringIndex]!
    const partitionLimit = partitions.ringPartitionLimit[ringIndex]!
    const lastDrainedOffset = partitions.lastDrainedOffset
    const drainedThisTick = partitions.drainedThisTick
    const ringMetrics = this.metrics.rings[ringIndex]!
    const shard = this.#shards[ringIndex]!
    // The current run of consecutive records from one partition, with its PartitionMetrics slot
    // (-1 for a partition without one). It is counted in locals and added to the slot when the
    // partition changes and at the end, so a record costs two loads and a compare here: a fetch
    // batch is one partition, so runs are long.
    let runSlot = -1
    let runTopic = -1
    let runPartition = -1
    let runCount = 0
    let runLast = 0
    let result: number
    let total = alreadyDrained
    reader.claim()
    for (;;) {
      if (total >= limits.maxEventsPerTick) {
        result = (total - alreadyDrained) | (reader.unreadBytes > 0 ? TICK_LIMITED_BIT : 0)
        break
      }
      if (budgetNs !== 0n && (total & 63) === 63 && process.hrtime.bigint() - started > budgetNs) {
        result = (total - alreadyDrained) | TICK_LIMITED_BIT
        break
      }
      const before = reader.mark()
      const offset = reader.nextRecord()
      if (offset === NO_RECORD) {
        result = total - alreadyDrained
        break
      }
      const kind = u8[offset + Header.KIND]
      let type: number
      if (kind === RecordKind.EVENT) {
        type = u16[(offset + Header.EVENT_TYPE) >> 1]!
      } else if (kind === RecordKind.DECODE_ERROR) {
        type = DECODE_ERROR_TYPE_ID
      } else {
        ringMetrics.recordsHandedOut++
        continue
      }
      const window = windows[type]
      if (window === undefined) {
        ringMetrics.recordsHandedOut++
        continue
      }
      if (shard.revoked !== null && this.#skipRevoked(shard, shard.revoked, before, offset)) {
        ringMetrics.recordsHandedOut++
        continue
      }
      if (drainedPerType[type]! >= limits.maxEventsPerType[type]!) {
        // Records are released by position, so the ring cannot skip this one: it waits, with
        // everything after it in this ring, for the next tick.
        reader.rewind(before)
        result = (total - alreadyDrained) | RING_LIMITED_BIT
        break
      }
      window.add(ringIndex, offset)
      drainedPerType[type]!++
      const topic = u16[(offset + Header.TOPIC) >> 1]!
      const partition = i32[(offset + Header.PARTITION) >> 2]!
      if (partition !== runPartition || topic !== runTopic) {
        if (runSlot >= 0) {
          drainedThisTick[runSlot] += runCount
          lastDrainedOffset[runSlot] = f64[(runLast + Header.OFFSET) >> 3]!
        }
        runTopic = topic
        runPartition = partition
        runCount = 0
        // A topic id outside the table reads undefined, and the comparison is then false.
        runSlot = partition >= 0 && partition < partitionLimit[topic]! ? slotBase[topic]! + partition : -1
      }
      runCount++
      runLast = offset
      total++
    }
    if (runSlot >= 0) {
      drainedThisTick[runSlot] += runCount
      lastDrainedOffset[runSlot] = f64[(runLast + Header.OFFSET) >> 3]!
    }
    return result
  }

  /**
   * Tells whether the record at `offset`, read from ring position `position`, belongs to a
   * partition the shard lost and was written before the rebalance. Clears the shard's revoked
   * set once the claim has passed the rebalance position.
   */
  #skipRevoked (shard: ShardState, revoked: { readonly keys: Set<number>, readonly until: number }, position: number, offset: number): boolean {
    if (((revoked.until - position) | 0) <= 0) {
      shard.revoked = null
      return false
    }
    const memory = shard.memory
    const key = partitionKey(memory.u16[(offset + Header.TOPIC) >> 1]!, memory.i32[(offset + Header.PARTITION) >> 2]!)
    if (!revoked.keys.has(key)) return false
    this.#revokedRecordsSkipped++
    return true
  }

  #startShard (shard: ShardState): void {
    const pool = this.#pool
    if (pool === undefined || this.#stopping) return
    const channel = new MessageChannel()
    shard.port = channel.port1
    shard.startedAt = Date.now()
    channel.port1.on('message', (message: FromWorkerMessage) => { this.#onWorkerMessage(shard, message) })
    channel.port1.unref()
    const settings: CommitSettings = this.#options.commit
    const resources = this.backend.taskResources?.({ kind: 'consumer-shard', shard: shard.index, groupId: shard.groupId, attempt: shard.attempt })
    const task: ConsumerShardTask = {
      kind: 'consumer-shard',
      shard: shard.index,
      backendModule: this.backend.workerModule,
      backendConfig: resources === undefined ? this.backend.workerConfig : resources.config,
      topology: this.topology,
      groupId: shard.groupId,
      ring: shard.memory.buffer,
      stats: shard.stats,
      port: channel.port2,
      commit: settings,
      attempt: shard.attempt,
    }
    const running = pool.run(task, { transferList: [channel.port2, ...(resources?.transferList ?? [])] }) as Promise<ShardStopReport>
    shard.task = running
    running.then(
      () => {
        if (!this.#stopping) this.#onShardFailure(shard, new Error('the shard task ended without a stop request'))
      },
      (error: unknown) => {
        if (!this.#stopping) this.#onShardFailure(shard, error)
      },
    )
  }

  #onShardFailure (shard: ShardState, error: unknown): void {
    const failure = asTickbusError(error, shard)
    this.#pendingErrors.push(failure)
    shard.port?.close()
    shard.port = undefined
    shard.assignment.clear()
    this.metrics.partitions.clearAssignment(shard.index)
    // A shard that ran for a while before failing restarts quickly again.
    if (Date.now() - shard.startedAt > this.#options.restart.maxDelayMs * 2) shard.attempt = 0
    const delay = Math.min(this.#options.restart.maxDelayMs, this.#options.restart.initialDelayMs * 2 ** shard.attempt)
    shard.attempt++
    this.logger.error({ err: failure, shard: shard.index, groupId: shard.groupId, restartInMs: delay }, 'consumer shard failed; restarting')
    shard.restartTimer = setTimeout(() => {
      shard.restartTimer = undefined
      this.#startShard(shard)
    }, delay)
  }

  /** Remembers the partitions a rebalance took from the shard, so their unread records are skipped. */
  #noteRevoked (shard: ShardState, previous: ReadonlySet<string>, ringPosition: number | undefined): void {
    if (ringPosition === undefined) return
    const keys = new Set<number>()
    for (const name of previous) {
      if (shard.assignment.has(name)) continue
      const separator = name.lastIndexOf(':')
      const topic = this.#topicIds.get(name.slice(0, separator))
      if (topic !== undefined) keys.add(partitionKey(topic, Number(name.slice(separator + 1))))
    }
    shard.revoked = keys.size === 0 ? null : { keys, until: ringPosition | 0 }
  }

  #onWorkerMessage (shard: ShardState, message: FromWorkerMessage): void {
    switch (message.type) {
      case 'started':
        this.logger.info({ shard: shard.index, groupId: shard.groupId }, 'consumer shard started')
        break
      case 'assignment': {
        const previous = shard.assignment
        shard.assignment = new Set(message.partitions.flatMap((entry) => entry.partitions.map((partition) => `${entry.topic}:${partition}`)))
        this.#noteRevoked(shard, previous, message.ringPosition)
        this.metrics.partitions.setAssignment(shard.index, message.partitions)
        this.logger.info({ shard: shard.index, groupId: shard.groupId, partitions: message.partitions }, 'partitions assigned')
        break
      }
      case 'commit-result': {
        const error = message.error === null ? null : fromErrorRecord(message.error)
        const result: CommitResult = { groupId: shard.groupId, shard: shard.index, offsets: message.offsets, error, latencyMs: message.latencyMs }
        this.#pendingCommits.push(result)
        if (error === null) {
          this.commitStatistics.successes++
          for (const entry of message.offsets) this.commitStatistics.committed.set(`${entry.topic}:${entry.partition}`, entry.offset)
        } else {
          this.commitStatistics.failures++
          this.commitStatistics.lastError = error
          this.logger.warn({ err: error, shard: shard.index, groupId: shard.groupId }, 'commit failed')
        }
        break
      }
      case 'error': {
        const error = fromErrorRecord(message.error)
        this.#pendingErrors.push(error)
        this.logger.warn({ err: error, shard: shard.index, groupId: shard.groupId }, error.message)
        break
      }
      case 'log':
        this.logger[message.level]({ ...message.fields, shard: shard.index, groupId: shard.groupId }, message.message)
        break
    }
  }
}

function asTickbusError (error: unknown, shard: { index: number, groupId: string }): TickbusError {
  if (error instanceof TickbusError) return error
  const message = error instanceof Error ? error.message : describeValue(error)
  return new TickbusError(ErrorCode.WORKER_CRASHED, `Consumer shard ${shard.index} of group ${shard.groupId} failed: ${message}`, {
    cause: error,
    groupId: shard.groupId,
    worker: shard.index,
    retriable: true,
  })
}

export type { CommitMode }
