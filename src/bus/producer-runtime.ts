import { ErrorCode, TickbusError } from '../errors.js'
import { Control, Header, NO_BYTES, RecordKind } from '../ring/layout.js'
import { createRingMemory, type RingMemory } from '../ring/memory.js'
import { NO_RECORD, RingReader } from '../ring/ring-reader.js'
import { RingWriter } from '../ring/ring-writer.js'
import { createViewContext, type EventView } from '../schema/view.js'
import type { Topology } from '../topology/types.js'
import { writeDeliveryFailure, type DeliveryFailureDetails } from './delivery-failure.js'
import type { FromProducerMessage, ProducerStopReport, ProducerTask, ToProducerMessage } from './messages.js'
import { OutboundEncoders } from './outbound-encoders.js'
import { createOutboundTables, type OutboundTables } from './outbound-topology.js'
import { ProducerSlot, WaitState } from './producer-control.js'
import { SettleTracker } from './settle-tracker.js'

/** Batching and memory limits of the producer runtime. */
export interface BatchSettings {
  /** A partition's batch is sent once its messages reach this many bytes (values, keys, headers). */
  readonly batchSizeBytes: number
  /** A partition's batch is sent at the latest this long after its first event was read, in ms. */
  readonly lingerMs: number
  /** The runtime stops reading the outbound ring while its unsettled events hold this many bytes. */
  readonly maxInFlightBytes: number
}

/** Kafka message headers as the runtime hands them to a backend. */
export type OutgoingHeaders = Record<string, Buffer | Buffer[]>

/** One event, encoded and ready to send. */
export interface OutgoingMessage {
  readonly sequence: number
  readonly key: Buffer | null
  readonly value: Buffer
  readonly headers: OutgoingHeaders | undefined
  /** Message timestamp in ms since the epoch; -1 lets the backend stamp the send time. */
  readonly timestamp: number
  /** Copy of the outbound ring record, kept for a delivery-failure report. */
  readonly record: Uint8Array
  /** Worker memory the message holds, in bytes. */
  readonly heldBytes: number
}

/** Messages of one topic and partition, sent with one produce call. */
export interface PartitionBatch {
  readonly topic: string
  readonly partition: number
  readonly messages: OutgoingMessage[]
  /** Sum of the messages' value, key and header bytes. */
  bytes: number
  /** performance.now() when the first message was added. */
  readonly openedAt: number
}

/** Final failure of a batch, after the backend's retries. */
export interface SendFailure extends DeliveryFailureDetails {
  /**
   * The broker rejected the batch as a whole for its size, so sending its messages one by one
   * may deliver all but the oversized ones.
   */
  readonly batchTooLarge: boolean
}

/** Operations that a backend's worker half provides to the runtime. */
export interface ProducerBackend {
  /** Returns the partition of a keyed message for a topic of `partitions` partitions. */
  partitionForKey (topic: string, key: Buffer, partitions: number): number
  /**
   * Sends one batch, retrying retriable errors as configured, and resolves with null once the
   * broker acknowledged it, or with the final failure. Never rejects. `onRetry` is called before
   * each repeated attempt.
   */
  send (batch: PartitionBatch, onRetry: () => void): Promise<SendFailure | null>
  /** Releases the backend's connections; called once, after the last send settled or timed out. */
  close (): Promise<void>
}

/** Maximum wait in ms before the runtime retries writing failures into a full feedback ring. */
const FEEDBACK_RETRY_MS = 10

/** Per-message bookkeeping bytes counted on top of the payload, an estimate. */
const MESSAGE_OVERHEAD_BYTES = 96

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

interface PartitionQueue {
  readonly topicId: number
  readonly topic: string
  readonly partition: number
  /** Batches in send order; only the last one takes new messages, until it is full. */
  readonly batches: PartitionBatch[]
  /** Whether a batch of this partition is being sent; one at a time keeps the partition's order. */
  sending: boolean
}

interface PendingFailure {
  readonly message: OutgoingMessage
  readonly partition: number
  readonly details: DeliveryFailureDetails
}

/**
 * Backend-independent half of the producer, on the worker thread. It reads the events that the
 * main thread wrote into the outbound ring, encodes each with its topic's codec, groups them per
 * topic and partition, and hands full or lingering batches to the backend. It keeps one batch per
 * partition in flight, so a partition's events arrive in the order they were written. Ring space
 * is released as soon as an event is copied out; the events then count against maxInFlightBytes
 * until they settle. Above that limit the runtime stops reading, so the writer finds the ring full.
 *
 * Every event settles exactly once: delivered (counted), or failed, which writes a
 * delivery-failure record into the feedback ring. SETTLED in the control buffer then moves past
 * it, which is what the main thread's flush() waits for.
 */
export class ProducerRuntime {
  readonly #task: ProducerTask
  readonly #settings: BatchSettings
  readonly #backend: ProducerBackend
  readonly #tables: OutboundTables
  readonly #encoders: OutboundEncoders
  readonly #memory: RingMemory
  readonly #reader: RingReader
  readonly #feedback: RingWriter
  readonly #control: Int32Array
  readonly #views: (EventView | undefined)[]
  readonly #queues = new Map<number, PartitionQueue>()
  /** Partition that keyless events of each topic go to, until its batch is full or sent. */
  readonly #stickyPartitions: number[] = []
  readonly #partitionMetadata: number[] = []
  readonly #tracker = new SettleTracker()
  readonly #failures: PendingFailure[] = []
  #heldBytes = 0
  #heldEvents = 0
  #sending = 0
  #delivered: number
  #failed: number
  #retries: number
  #sends: number
  #deliveredByTask = 0
  #failedByTask = 0
  #waitEpoch: number
  #settledStored: number
  #flushSequence = -1
  #stopping = false
  #stopDeadline = Infinity
  #finished = false

  constructor (task: ProducerTask, settings: BatchSettings, backend: ProducerBackend) {
    const topology = task.topology as Topology
    this.#task = task
    this.#settings = settings
    this.#backend = backend
    this.#tables = createOutboundTables(topology)
    this.#encoders = new OutboundEncoders(topology, this.#tables)
    this.#memory = createRingMemory(task.ring)
    this.#reader = new RingReader(this.#memory)
    this.#feedback = new RingWriter(createRingMemory(task.feedback))
    this.#control = new Int32Array(task.control)

    const context = createViewContext({ topics: ['', ...topology.topics.map((topic) => topic.name)], devMode: false })
    this.#views = this.#tables.eventTypes.map((type) => type?.createView(context) as EventView | undefined)
    for (const topic of topology.topics) {
      this.#partitionMetadata[topic.id] = topic.partitions
      this.#stickyPartitions[topic.id] = Math.floor(Math.random() * topic.partitions)
    }

    // A restarted worker continues the counters of the previous one. The events that worker held
    // in memory are lost, and the main thread reports them from IN_FLIGHT_EVENTS.
    this.#delivered = Atomics.load(this.#control, ProducerSlot.DELIVERED)
    this.#failed = Atomics.load(this.#control, ProducerSlot.FAILED)
    this.#retries = Atomics.load(this.#control, ProducerSlot.RETRIES)
    this.#sends = Atomics.load(this.#control, ProducerSlot.SENDS)
    this.#waitEpoch = Atomics.load(this.#control, ProducerSlot.WAIT_EPOCH) >>> 2
    this.#settledStored = Atomics.load(this.#control, ProducerSlot.SETTLED)

    task.port.on('message', (message: ToProducerMessage) => { this.#onMessage(message) })
  }

  /** Posts a message to the main thread. */
  send (message: FromProducerMessage): void {
    if (!this.#finished) this.#task.port.postMessage(message)
  }

  /**
   * Runs until the main thread requests a stop and every event is settled, or until the stop
   * timeout ends. Resolves with what was delivered, failed and left unsettled. Rejects only on a bug.
   */
  async run (): Promise<ProducerStopReport> {
    await this.#encoders.preload()
    this.#publishCounters()
    this.send({ type: 'producer-started' })
    // A pending Atomics.waitAsync does not keep a worker's event loop alive, so a timer does.
    const keepAlive = setInterval(noop, 0x7fffffff)
    try {
      for (;;) {
        this.#drain()
        this.#writeFailures()
        const now = performance.now()
        const nextDeadline = this.#dispatch(now)
        this.#publishCounters()
        if (this.#stopping && (this.#isIdle() || now >= this.#stopDeadline)) break
        let timeoutMs = Math.min(nextDeadline, this.#stopDeadline) - now
        if (this.#failures.length > 0) timeoutMs = Math.min(timeoutMs, FEEDBACK_RETRY_MS)
        await this.#waitForWork(Math.max(0, timeoutMs))
      }
      const unsettled = this.#tracker.unsettled + this.#countUnreadEvents()
      return { delivered: this.#deliveredByTask, failed: this.#failedByTask, unsettled }
    } finally {
      this.#finished = true
      clearInterval(keepAlive)
      await this.#backend.close()
    }
  }

  #onMessage (message: ToProducerMessage): void {
    if (message.type === 'flush') {
      if (message.sequence > this.#flushSequence) this.#flushSequence = message.sequence
    } else if (message.type === 'stop') {
      this.#stopping = true
      this.#stopDeadline = Math.min(this.#stopDeadline, performance.now() + message.timeoutMs)
    }
    this.#wake()
  }

  /** Wakes the run loop if it waits; harmless when it does not. */
  #wake (): void {
    Atomics.notify(this.#memory.i32, Control.PUBLISHED)
  }

  /** Reads events from the ring until it is empty or the held bytes reach maxInFlightBytes. */
  #drain (): void {
    const reader = this.#reader
    reader.claim()
    let read = false
    while (this.#heldBytes < this.#settings.maxInFlightBytes) {
      const offset = reader.nextRecord()
      if (offset === NO_RECORD) break
      read = true
      if (this.#memory.u8[offset + Header.KIND] === RecordKind.EVENT) this.#take(offset)
    }
    // Everything read was copied out, so its ring space goes back to the writer at once.
    if (read) reader.release(reader.mark())
  }

  /** Copies one event out of the ring, encodes it and adds it to its partition's batch. */
  #take (offset: number): void {
    const memory = this.#memory
    const typeId = memory.u16[(offset + Header.EVENT_TYPE) >> 1]!
    const topicId = memory.u16[(offset + Header.TOPIC) >> 1]!
    const sequence = memory.f64[(offset + Header.OFFSET) >> 3]!
    const length = memory.u32[(offset + Header.LENGTH) >> 2]!
    const record = memory.u8.slice(offset, offset + length)
    const key = readKey(memory, offset)
    let headers = readHeaders(memory, offset)
    this.#tracker.begin(sequence)
    this.#heldEvents++

    const topic = this.#tables.topics[topicId]
    const view = this.#views[typeId]
    let value: Buffer
    try {
      if (topic === undefined || view === undefined) {
        throw new TickbusError(ErrorCode.ENCODE_FAILED, `The outbound record names topic id ${topicId} and event type id ${typeId}, which the topology lacks.`)
      }
      const encoder = this.#encoders.encoderFor(topicId, typeId)
      view.$bind(memory, offset, 1)
      const encoded = encoder.encode(view)
      value = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength)
      if (encoder.matchHeader !== undefined && (headers === undefined || !(encoder.matchHeader[0] in headers))) {
        headers ??= Object.create(null) as OutgoingHeaders
        headers[encoder.matchHeader[0]] = Buffer.from(encoder.matchHeader[1], 'utf8')
      }
    } catch (error) {
      const partition = memory.i32[(offset + Header.PARTITION) >> 2]!
      const message: OutgoingMessage = { sequence, key, value: EMPTY, headers, timestamp: -1, record, heldBytes: record.length + MESSAGE_OVERHEAD_BYTES }
      this.#hold(message)
      this.#failures.push({ message, partition, details: encodeFailure(error) })
      return
    }

    const payloadBytes = value.length + (key?.length ?? 0) + headersBytes(headers)
    const message: OutgoingMessage = {
      sequence,
      key,
      value,
      headers,
      timestamp: memory.f64[(offset + Header.TIMESTAMP) >> 3]!,
      record,
      heldBytes: payloadBytes + record.length + MESSAGE_OVERHEAD_BYTES,
    }
    this.#hold(message)
    const partition = this.#partitionOf(topicId, topic.name, memory.i32[(offset + Header.PARTITION) >> 2]!, key)
    this.#append(topicId, topic.name, partition, message, payloadBytes)
  }

  #hold (message: OutgoingMessage): void {
    this.#heldBytes += message.heldBytes
  }

  #partitionOf (topicId: number, topic: string, requested: number, key: Buffer | null): number {
    if (requested >= 0) return requested
    // NOTE: the count is the topology's declared one. A topic that has more partitions on the
    // broker (accepted with onPartitionMismatch 'warn') gets keyed events on the declared ones only.
    const partitions = this.#partitionMetadata[topicId]!
    if (key !== null) return this.#backend.partitionForKey(topic, key, partitions)
    return this.#stickyPartitions[topicId]!
  }

  #append (topicId: number, topic: string, partition: number, message: OutgoingMessage, payloadBytes: number): void {
    const queueKey = topicId * 0x100000000 + partition
    let queue = this.#queues.get(queueKey)
    if (queue === undefined) {
      queue = { topicId, topic, partition, batches: [], sending: false }
      this.#queues.set(queueKey, queue)
    }
    let batch = queue.batches[queue.batches.length - 1]
    if (batch === undefined || batch.bytes >= this.#settings.batchSizeBytes) {
      batch = { topic, partition, messages: [], bytes: 0, openedAt: performance.now() }
      queue.batches.push(batch)
    }
    batch.messages.push(message)
    batch.bytes += payloadBytes
    if (batch.bytes >= this.#settings.batchSizeBytes) this.#advanceSticky(topicId, partition)
  }

  /** Moves keyless events of a topic to the next partition once the current one's batch is closed. */
  #advanceSticky (topicId: number, partition: number): void {
    if (this.#stickyPartitions[topicId] === partition) {
      this.#stickyPartitions[topicId] = (partition + 1) % this.#partitionMetadata[topicId]!
    }
  }

  /**
   * Starts sending the first batch of every idle partition that is full, has lingered long
   * enough, or contains events that a flush or stop waits for. Returns the earliest time at which a
   * waiting batch becomes due (Infinity when none waits).
   */
  #dispatch (now: number): number {
    let nextDeadline = Infinity
    for (const queue of this.#queues.values()) {
      if (queue.sending) continue
      const batch = queue.batches[0]
      if (batch === undefined) continue
      const due = batch.openedAt + this.#settings.lingerMs
      const ready = batch.bytes >= this.#settings.batchSizeBytes ||
        now >= due ||
        this.#stopping ||
        batch.messages[0]!.sequence < this.#flushSequence
      if (!ready) {
        if (due < nextDeadline) nextDeadline = due
        continue
      }
      queue.batches.shift()
      this.#advanceSticky(queue.topicId, queue.partition)
      this.#startSend(queue, batch)
    }
    return nextDeadline
  }

  #startSend (queue: PartitionQueue, batch: PartitionBatch): void {
    queue.sending = true
    this.#sending++
    const onRetry = (): void => { this.#retries++ }
    void this.#backend.send(batch, onRetry).then(
      (failure) => { this.#onSent(queue, batch, failure) },
      (error: unknown) => { this.#onSent(queue, batch, unexpectedFailure(error)) },
    )
  }

  #onSent (queue: PartitionQueue, batch: PartitionBatch, failure: SendFailure | null): void {
    queue.sending = false
    this.#sending--
    if (this.#finished) return

    if (failure === null) {
      this.#sends++
      this.#delivered += batch.messages.length
      this.#deliveredByTask += batch.messages.length
      for (const message of batch.messages) this.#settle(message)
      this.#publishCounters()
      this.#publishSettled()
    } else if (failure.batchTooLarge && batch.messages.length > 1) {
      // Sent again one message at a time, ahead of the partition's later batches.
      const singles = batch.messages.map((message): PartitionBatch => ({
        topic: batch.topic,
        partition: batch.partition,
        messages: [message],
        bytes: this.#settings.batchSizeBytes,
        openedAt: batch.openedAt,
      }))
      queue.batches.unshift(...singles)
    } else {
      for (const message of batch.messages) this.#failures.push({ message, partition: batch.partition, details: failure })
    }
    this.#wake()
  }

  /** Writes pending failures into the feedback ring, in order, until it is full. */
  #writeFailures (): void {
    if (this.#failures.length === 0) return
    let written = 0
    for (const failure of this.#failures) {
      if (!writeDeliveryFailure(this.#feedback, failure.message.record, failure.partition, failure.details)) break
      written++
    }
    if (written === 0) return
    // Published before the events settle, so a flush that finds them settled can read their records.
    this.#feedback.publish()
    this.#failed += written
    this.#failedByTask += written
    for (const failure of this.#failures.splice(0, written)) this.#settle(failure.message)
    this.#publishCounters()
    this.#publishSettled()
  }

  #settle (message: OutgoingMessage): void {
    this.#heldBytes -= message.heldBytes
    this.#heldEvents--
    this.#tracker.settle(message.sequence)
  }

  /**
   * Stores the settled watermark and wakes a main thread waiting in flush(). Called after the
   * counters and the feedback records of failed events were published, so a thread that loads
   * the new watermark can also read those.
   */
  #publishSettled (): void {
    const watermark = this.#tracker.watermark | 0
    if (watermark === this.#settledStored) return
    this.#settledStored = watermark
    Atomics.store(this.#control, ProducerSlot.SETTLED, watermark)
    Atomics.notify(this.#control, ProducerSlot.SETTLED)
  }

  /** Stores the counters; each is this thread's alone, so the stores only prevent torn reads. */
  #publishCounters (): void {
    const control = this.#control
    Atomics.store(control, ProducerSlot.DELIVERED, this.#delivered | 0)
    Atomics.store(control, ProducerSlot.FAILED, this.#failed | 0)
    Atomics.store(control, ProducerSlot.RETRIES, this.#retries | 0)
    Atomics.store(control, ProducerSlot.SENDS, this.#sends | 0)
    Atomics.store(control, ProducerSlot.IN_FLIGHT_EVENTS, this.#heldEvents)
    Atomics.store(control, ProducerSlot.IN_FLIGHT_BYTES, Math.min(this.#heldBytes, 0x7fffffff))
  }

  #isIdle (): boolean {
    return this.#heldEvents === 0 && this.#sending === 0 && this.#failures.length === 0 &&
      this.#reader.claim() === 0 && this.#reader.unreadBytes === 0
  }

  /**
   * Waits until the main thread publishes records, a send completes, a message arrives or
   * `timeoutMs` passes. An idle wait (no deadline) asks the writer to publish the first new record
   * at once; a wait for a batch deadline lets it publish in batches. While the held bytes are at
   * the limit, new records cannot be read, so the wait does not advertise itself to the writer
   * and only a completion or message ends it early.
   */
  async #waitForWork (timeoutMs: number): Promise<void> {
    const ringControl = this.#memory.i32
    const readable = this.#heldBytes < this.#settings.maxInFlightBytes
    if (readable && (this.#reader.claim() !== 0 || this.#reader.unreadBytes !== 0)) return
    const published = Atomics.load(ringControl, Control.PUBLISHED)
    if (readable) {
      // Stored before waitAsync compares PUBLISHED, while the writer stores PUBLISHED before it
      // loads WAIT_EPOCH, so either this wait finds the new value or the writer finds SLEEPING.
      this.#waitEpoch = (this.#waitEpoch + 1) & 0x1fffffff
      const state = timeoutMs === Infinity ? WaitState.IDLE : WaitState.SLEEPING
      Atomics.store(this.#control, ProducerSlot.WAIT_EPOCH, (this.#waitEpoch << 2) | state)
    }
    try {
      const result = atomics.waitAsync(ringControl, Control.PUBLISHED, published, timeoutMs)
      if (result.async) await result.value
    } finally {
      if (readable) Atomics.store(this.#control, ProducerSlot.WAIT_EPOCH, this.#waitEpoch << 2)
    }
  }

  /** Counts the events still in the ring, without taking them. */
  #countUnreadEvents (): number {
    const reader = this.#reader
    reader.claim()
    let count = 0
    for (let offset = reader.nextRecord(); offset !== NO_RECORD; offset = reader.nextRecord()) {
      if (this.#memory.u8[offset + Header.KIND] === RecordKind.EVENT) count++
    }
    return count
  }
}

const EMPTY = Buffer.alloc(0)

function noop (): void {}

function readKey (memory: RingMemory, offset: number): Buffer | null {
  const length = memory.u32[(offset + Header.KEY_LENGTH) >> 2]!
  if (length === NO_BYTES) return null
  const start = offset + memory.u32[(offset + Header.KEY_OFFSET) >> 2]!
  return Buffer.from(memory.u8.subarray(start, start + length))
}

/** Copies the record's headers block (format in ring/layout.ts) into kafkajs-style headers. */
function readHeaders (memory: RingMemory, offset: number): OutgoingHeaders | undefined {
  if (memory.u32[(offset + Header.HEADERS_LENGTH) >> 2] === 0) return undefined
  const bytes = memory.u8
  let at = offset + memory.u32[(offset + Header.HEADERS_OFFSET) >> 2]!
  const count = bytes[at]! | (bytes[at + 1]! << 8)
  at += 2
  const headers = Object.create(null) as OutgoingHeaders
  for (let i = 0; i < count; i++) {
    const nameLength = bytes[at]! | (bytes[at + 1]! << 8)
    const name = Buffer.from(bytes.subarray(at + 2, at + 2 + nameLength)).toString('utf8')
    at += 2 + nameLength
    const valueLength = (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0
    at += 4
    const value = Buffer.from(bytes.subarray(at, at + valueLength))
    at += valueLength
    const previous = headers[name]
    if (previous === undefined) headers[name] = value
    else if (Array.isArray(previous)) previous.push(value)
    else headers[name] = [previous, value]
  }
  return headers
}

function headersBytes (headers: OutgoingHeaders | undefined): number {
  if (headers === undefined) return 0
  let bytes = 0
  for (const name in headers) {
    const value = headers[name]!
    bytes += name.length
    if (Array.isArray(value)) for (const item of value) bytes += item.length
    else bytes += value.length
  }
  return bytes
}

function encodeFailure (error: unknown): DeliveryFailureDetails {
  if (error instanceof TickbusError) {
    return { code: error.code, message: error.message, errorType: error.code, retriable: false, attempts: 0 }
  }
  const message = error instanceof Error ? error.message : String(error)
  return { code: ErrorCode.ENCODE_FAILED, message: `Encoding the event failed: ${message}`, errorType: error instanceof Error ? error.name : 'Error', retriable: false, attempts: 0 }
}

function unexpectedFailure (error: unknown): SendFailure {
  const message = error instanceof Error ? error.message : String(error)
  return { code: ErrorCode.DELIVERY_FAILED, message: `Sending failed unexpectedly: ${message}`, errorType: error instanceof Error ? error.name : 'Error', retriable: true, attempts: 1, batchTooLarge: false }
}
