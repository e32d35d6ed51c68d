import type { MessagePort } from 'node:worker_threads'
import { ErrorCode, TickbusError, toErrorRecord, type ErrorRecord } from '../errors.js'
import { createRingMemory } from '../ring/memory.js'
import { RingWriter } from '../ring/ring-writer.js'
import { Control } from '../ring/layout.js'
import type { ConsumerShardTask, FromWorkerMessage, PartitionOffset, ToWorkerMessage } from './messages.js'
import { RecordWriter, WriteResult, type BodyEncoder, type DecodedEvent, type IncomingRecord } from './ingest.js'
import { OffsetTracker, keyPartition, keyTopicId, partitionKey } from './offset-tracker.js'
import type { LiveBinding, LiveTopic, LiveTopology } from '../topology/resolve-topology.js'
import { DECODE_ERROR_TYPE_ID, DecodeErrorEvent } from './builtin-events.js'
import type { Topology } from '../topology/types.js'
import { shardStatsLayout } from '../metrics/shard-stats-layout.js'
import { ShardStatsWriter } from '../metrics/shard-stats-writer.js'

/** Maximum single wait for ring space before the backend gets a chance to heartbeat, in ms. */
const SPACE_WAIT_SLICE_MS = 500

/** A failed decode attempt, reported in the decode-error record. */
export interface DecodeAttempt {
  readonly decoder: string
  readonly eventType: string
  readonly error: string
}

/** Body of a decode-error record, encoded by the built-in decode-error event type. */
export interface DecodeErrorBody {
  readonly attempts: string
  readonly payload: Uint8Array | null
}

/** Callbacks a backend gives the runtime for things only the backend can do. */
export interface ShardBackendHooks {
  /** Called while the ring is full, at most every SPACE_WAIT_SLICE_MS, to keep group membership. */
  heartbeat (): Promise<void>
  /** Sends an undecodable record unchanged to the topic's dead-letter topic. */
  deadLetter (topic: LiveTopic, record: IncomingRecord, attempts: readonly DecodeAttempt[]): Promise<void>
}

/**
 * Backend-independent half of a consumer shard, on the worker thread: decodes fetched records
 * with the topic's bindings, writes them into the shard's ring with back-pressure, and tracks
 * which offsets the main thread released so the backend can commit them.
 */
export class ShardRuntime {
  readonly task: ConsumerShardTask
  readonly topology: LiveTopology
  readonly writer: RingWriter
  readonly records: RecordWriter
  readonly offsets = new OffsetTracker()
  /** Counters and offsets for metrics, in the task's stats buffer. */
  readonly stats: ShardStatsWriter
  readonly groupId: number
  #stopRequested = false
  #stopWaiters: Array<() => void> = []
  #onStop: Array<(timeoutMs: number) => void> = []
  #onCommitRequest: Array<(requestId: number, offsets: readonly PartitionOffset[]) => void> = []
  #releasedSinceTake = 0
  readonly #events: DecodedEvent[] = []
  readonly #attempts: DecodeAttempt[] = []
  /** Indexes (in the topic's bindings) of the failed attempts of the record in progress. */
  readonly #failedBindings: number[] = []
  readonly #decodeErrorEncoder: BodyEncoder
  readonly #decodeErrorTypeId: number

  constructor (task: ConsumerShardTask, topology: LiveTopology) {
    this.task = task
    this.topology = topology
    this.writer = new RingWriter(createRingMemory(task.ring))
    const group = topology.groups.find((candidate) => candidate.groupId === task.groupId)
    if (group === undefined) throw new Error(`Consumer group ${JSON.stringify(task.groupId)} is not in the topology`)
    this.groupId = group.id
    this.records = new RecordWriter(this.writer, group.id)
    this.stats = new ShardStatsWriter(task.stats, shardStatsLayout(task.topology as Topology, task.groupId))
    this.#decodeErrorEncoder = DecodeErrorEvent as unknown as BodyEncoder
    this.#decodeErrorTypeId = DECODE_ERROR_TYPE_ID

    task.port.on('message', (message: ToWorkerMessage) => {
      if (message.type === 'stop') {
        this.#stopRequested = true
        for (const listener of this.#onStop) listener(message.timeoutMs)
        for (const resolve of this.#stopWaiters.splice(0)) resolve()
      } else if (message.type === 'commit') {
        for (const listener of this.#onCommitRequest) listener(message.requestId, message.offsets)
      }
    })
  }

  get port (): MessagePort {
    return this.task.port
  }

  get stopRequested (): boolean {
    return this.#stopRequested || this.writer.closed
  }

  /** Resolves when the main thread requests that the shard stop. */
  stopped (): Promise<void> {
    if (this.stopRequested) return Promise.resolve()
    return new Promise((resolve) => { this.#stopWaiters.push(resolve) })
  }

  onStop (listener: (timeoutMs: number) => void): void {
    this.#onStop.push(listener)
  }

  onCommitRequest (listener: (requestId: number, offsets: readonly PartitionOffset[]) => void): void {
    this.#onCommitRequest.push(listener)
  }

  /**
   * Sends a message to the main thread. Assignments and commit results are also recorded in the
   * stats buffer here, so that every backend's shard counts them.
   */
  send (message: FromWorkerMessage): void {
    if (message.type === 'assignment') this.stats.setAssignment(message.partitions)
    else if (message.type === 'commit-result') this.stats.recordCommit(message.offsets, message.latencyMs, message.error === null)
    this.task.port.postMessage(message)
  }

  reportError (error: unknown, code: ErrorCode, context: { topic?: string, partition?: number } = {}): ErrorRecord {
    const record = toErrorRecord(error, code, { ...context, groupId: this.task.groupId, worker: this.task.shard })
    this.send({ type: 'error', shard: this.task.shard, error: record })
    return record
  }

  topicByName (name: string): LiveTopic | undefined {
    return this.topology.topicsByName.get(name)
  }

  /**
   * Decodes one fetched record and writes the result into the ring when it fits now. Returns
   * false, having written and tracked nothing, when the ring is full or the record needs the
   * dead-letter topic. The caller then awaits ingest() for the same record.
   */
  tryIngest (topic: LiveTopic, record: IncomingRecord): boolean {
    const events = this.#decodeRecord(topic, record)
    if (events.length > 0) {
      const bytes = this.records.measure(record, events)
      if (bytes > this.writer.maxRecordBytes) return false
      if (this.records.writeEvents(record, events, bytes) === WriteResult.FULL) return false
    } else if (topic.bindings.length > 0) {
      if (topic.deadLetterTopic !== undefined) return false
      const body = this.#decodeErrorBody(topic, record)
      if (this.records.decodeErrorBytes(record, this.#decodeErrorEncoder, body) > this.writer.maxRecordBytes) return false
      if (this.records.writeDecodeError(record, this.#decodeErrorTypeId, this.#decodeErrorEncoder, body) === WriteResult.FULL) return false
    }
    this.#track(topic, record)
    return true
  }

  /**
   * Decodes one fetched record and writes the result into the ring, waiting for space while the
   * ring is full and sending undecodable records to the dead-letter topic first. Returns false
   * when the main thread requested a stop before the record was written. The record is then
   * neither written nor tracked, so it is fetched again after a restart.
   */
  async ingest (topic: LiveTopic, record: IncomingRecord): Promise<boolean> {
    const events = this.#decodeRecord(topic, record)
    if (events.length > 0) {
      const bytes = this.records.measure(record, events)
      if (bytes > this.writer.maxRecordBytes) return await this.#ingestOversize(topic, record, bytes)
      while (this.records.writeEvents(record, events, bytes) === WriteResult.FULL) {
        if (!await this.#waitForSpace(bytes)) return false
      }
    } else if (topic.bindings.length > 0) {
      let body = this.#decodeErrorBody(topic, record)
      if (topic.deadLetterTopic !== undefined) await this.hooks.deadLetter(topic, record, [...this.#attempts])
      const bytes = this.records.decodeErrorBytes(record, this.#decodeErrorEncoder, body)
      if (bytes > this.writer.maxRecordBytes) {
        body = { attempts: `${body.attempts}; ${oversizeReason(bytes, this.writer.maxRecordBytes)}, so the payload is left out`, payload: null }
      }
      while (this.records.writeDecodeError(record, this.#decodeErrorTypeId, this.#decodeErrorEncoder, body) === WriteResult.FULL) {
        if (!await this.#waitForSpace(this.records.decodeErrorBytes(record, this.#decodeErrorEncoder, body))) return false
      }
    }
    this.#track(topic, record)
    return true
  }

  /**
   * Handles a record whose decoded events cannot fit into the ring at all. Reports a
   * RECORD_TOO_LARGE bus error and writes a decode-error record without the payload. When the
   * topic has a dead-letter topic, the record is also sent there unchanged.
   */
  async #ingestOversize (topic: LiveTopic, record: IncomingRecord, bytes: number): Promise<boolean> {
    const reason = oversizeReason(bytes, this.writer.maxRecordBytes)
    this.reportError(
      new TickbusError(ErrorCode.RECORD_TOO_LARGE, `Record ${topic.name}[${record.partition}]@${record.offset}: ${reason}. Raise ringCapacityBytes or make the events smaller.`, { topic: topic.name, partition: record.partition, offset: record.offset }),
      ErrorCode.RECORD_TOO_LARGE,
      { topic: topic.name, partition: record.partition },
    )
    const attempts: DecodeAttempt[] = [{ decoder: 'ring', eventType: this.#events.map((event) => topic.bindings.find((binding) => binding.eventTypeId === event.eventTypeId)?.eventTypeName ?? '').join(','), error: reason }]
    if (topic.deadLetterTopic !== undefined) await this.hooks.deadLetter(topic, record, attempts)
    this.#events.length = 0
    const body: DecodeErrorBody = { attempts: `${reason}, so the payload is left out`, payload: null }
    while (this.records.writeDecodeError(record, this.#decodeErrorTypeId, this.#decodeErrorEncoder, body) === WriteResult.FULL) {
      if (!await this.#waitForSpace(this.records.decodeErrorBytes(record, this.#decodeErrorEncoder, body))) return false
    }
    this.#track(topic, record)
    return true
  }

  #decodeRecord (topic: LiveTopic, record: IncomingRecord): DecodedEvent[] {
    const events = this.#events
    events.length = 0
    this.#attempts.length = 0
    this.#failedBindings.length = 0
    this.#decode(topic, record, events, this.#attempts)
    return events
  }

  #decodeErrorBody (topic: LiveTopic, record: IncomingRecord): DecodeErrorBody {
    return { attempts: formatAttempts(this.#attempts, topic), payload: record.value }
  }

  /** Called once per processed record, after its last decode, so a retried write counts once. */
  #track (topic: LiveTopic, record: IncomingRecord): void {
    this.offsets.add(this.writer.writePosition, partitionKey(topic.id, record.partition), record.offset)
    const bytes = (record.key === null ? 0 : record.key.length) + (record.value === null ? 0 : record.value.length)
    this.stats.recordFetched(topic.id, record.partition, record.offset, bytes)
    const failed = this.#failedBindings
    for (let i = 0; i < failed.length; i++) this.stats.recordDecodeFailure(topic.id, failed[i]!)
    if (this.#events.length === 0 && topic.bindings.length > 0) this.stats.recordDecodeErrorRecord(topic.id)
  }

  hooks: ShardBackendHooks = {
    heartbeat: async () => {},
    deadLetter: async () => {},
  }

  /** Publishes what was written, so that the main thread claims it at its next tick. */
  publish (): void {
    this.writer.publish()
  }

  /**
   * Highest released offset per partition, as the next offsets to read, ready for a commit. Empty
   * when nothing new was released.
   */
  takeCommittable (): PartitionOffset[] {
    this.offsets.takeReleased(Atomics.load(this.writer.memory.i32, Control.RELEASED) >>> 0)
    this.#releasedSinceTake = 0
    if (!this.offsets.hasPending) return []
    const result: PartitionOffset[] = []
    for (const [key, offset] of this.offsets.drainPending()) {
      const topic = this.topology.topics[keyTopicId(key) - 1]
      if (topic === undefined) continue
      result.push({ topic: topic.name, partition: keyPartition(key), offset: offset + 1 })
    }
    return result
  }

  /**
   * Records the main thread released since the last takeCommittable(), for a commit triggered by
   * count (the `commit.records` setting). Allocates nothing.
   */
  releasedSinceCommit (): number {
    this.#releasedSinceTake += this.offsets.takeReleased(Atomics.load(this.writer.memory.i32, Control.RELEASED) >>> 0)
    return this.#releasedSinceTake
  }

  /** Puts offsets back after a failed commit so the next commit retries them. */
  restoreCommittable (offsets: readonly PartitionOffset[]): void {
    const map = new Map<number, number>()
    for (const entry of offsets) {
      const topic = this.topology.topicsByName.get(entry.topic)
      if (topic !== undefined) map.set(partitionKey(topic.id, entry.partition), entry.offset - 1)
    }
    this.offsets.restorePending(map)
  }

  #decode (topic: LiveTopic, record: IncomingRecord, events: DecodedEvent[], attempts: DecodeAttempt[]): void {
    const bindings = topic.bindings
    for (let i = 0; i < bindings.length; i++) {
      const binding = bindings[i]!
      const attemptsBefore = attempts.length
      if (!matches(binding, record, attempts)) {
        if (attempts.length > attemptsBefore) this.#failedBindings.push(i)
        continue
      }
      try {
        const event = binding.decode(record.value, record)
        events.push({ eventTypeId: binding.eventTypeId, encoder: binding.eventType as unknown as BodyEncoder, event })
        if (topic.dispatch === 'first') return
      } catch (error) {
        attempts.push({ decoder: binding.decoderName, eventType: binding.eventTypeName, error: error instanceof Error ? error.message : String(error) })
        this.#failedBindings.push(i)
      }
    }
  }

  async #waitForSpace (bytes: number): Promise<boolean> {
    this.writer.publish()
    for (;;) {
      if (this.stopRequested) return false
      if (await this.writer.waitForSpace(Math.min(bytes, this.writer.maxRecordBytes), SPACE_WAIT_SLICE_MS)) return true
      if (this.writer.closed) return false
      await this.hooks.heartbeat()
    }
  }
}

function matches (binding: LiveBinding, record: IncomingRecord, attempts: DecodeAttempt[]): boolean {
  try {
    return binding.matches(record)
  } catch (error) {
    attempts.push({ decoder: binding.decoderName, eventType: binding.eventTypeName, error: `match predicate threw: ${error instanceof Error ? error.message : String(error)}` })
    return false
  }
}

function oversizeReason (bytes: number, maxRecordBytes: number): string {
  return `its ring records take ${bytes} bytes, more than the ring's maximum record size of ${maxRecordBytes} bytes`
}

function formatAttempts (attempts: readonly DecodeAttempt[], topic: LiveTopic): string {
  if (attempts.length === 0) return `no binding of topic ${topic.name} matched the record`
  return attempts.map((attempt) => `${attempt.decoder} (${attempt.eventType}): ${attempt.error}`).join('; ')
}
