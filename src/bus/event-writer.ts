import { ErrorCode, invalidOption, TickbusError } from '../errors.js'
import { Control, NO_BYTES, RECORD_HEADER_BYTES, RecordKind } from '../ring/layout.js'
import { createRingMemory, type RingMemory } from '../ring/memory.js'
import { writeRecordEventType, writeRecordHeadersSpan, writeRecordKeySpan, writeRecordSource } from '../ring/record-header.js'
import { RING_FULL, RingWriter } from '../ring/ring-writer.js'
import type { EventInput, EventType } from '../schema/define-event.js'
import type { EventSchema } from '../schema/fields.js'
import { nodeBufferOf, writeUtf8 } from '../schema/utf8.js'
import type { Topology } from '../topology/types.js'
import { createOutboundTables, type OutboundTables } from './outbound-topology.js'
import { ProducerSlot, WaitState } from './producer-control.js'

/** Per-write settings of {@link EventWriter.write}. */
export interface WriteOptions {
  /**
   * Topic of the topology to send to. Default: the one topic that binds the event type; required
   * when no topic or several topics bind it.
   */
  topic?: string
  /** Kafka message key; a string is sent as UTF-8. Default: no key (null). */
  key?: string | Uint8Array | null
  /** Kafka message headers; string values are sent as UTF-8. At most 65535 headers. */
  headers?: Readonly<Record<string, string | Uint8Array>>
  /** Partition to send to. Default: chosen by the producer from the key (murmur2, as the Java client does). */
  partition?: number
  /** Message timestamp in ms since the epoch. Default: the time the producer worker sends it. */
  timestamp?: number
}

/** Options of {@link createEventWriter}. */
export interface EventWriterOptions {
  /** The topology whose event types and topics the writer accepts. */
  readonly topology: Topology
  /** The outbound ring (from createRingBuffer()) that the producer worker reads. */
  readonly ring: SharedArrayBuffer
  /** The producer's control buffer (from createProducerControl()), used to wake the worker. */
  readonly control: SharedArrayBuffer
}

/** Per-type settings of the writer, made at the type's first write. */
interface TypeSlot {
  readonly type: EventType
  readonly id: number
  /** Topic id used when write() names no topic; 0 when the topic is required. */
  readonly defaultTopicId: number
  /** Smallest record of this type without key and headers, in bytes. */
  readonly minRecordBytes: number
  /** Whether every record body of this type has minRecordBytes (no string or bytes field). */
  readonly fixedSize: boolean
}

/**
 * Records a writer leaves unpublished while the worker is busy. Publishing stores two shared
 * words, which cost about as much as the rest of a small write (bench/writer.bench.ts), and the
 * busy worker claims new records only between batches anyway.
 */
const PUBLISH_EVERY_RECORDS = 64

/** Largest header count and header name length in bytes: the headers block stores both as u16. */
const MAX_HEADERS = 0xffff
const MAX_HEADER_NAME_BYTES = 0xffff

/**
 * Creates a writer over an outbound ring. The bus creates one for its producer (see
 * `bus.writer()`); use this to write a ring that you hand to a producer task yourself.
 */
export function createEventWriter (options: EventWriterOptions): EventWriter {
  return new EventWriter(createOutboundTables(options.topology), options.ring, options.control)
}

/**
 * Writes events into the outbound ring, from which the producer worker encodes and sends them.
 *
 * Main thread, or whichever single thread owns the ring's writing side. write() never blocks and
 * never awaits: it copies the event's fields into shared memory and returns. It publishes the
 * record to the worker at once when the worker sleeps with nothing to send, and otherwise every
 * PUBLISH_EVERY_RECORDS records. publish(), which bus.tick(), flush() and stop() call, publishes
 * the rest, so a record waits at most until the next tick. When the ring is full, write()
 * writes nothing and returns false. The event is then not sent, and the count of such writes is
 * reported as a RING_FULL bus error on the next tick. A write of an event type, field values,
 * topic or options that the topology does not allow throws.
 *
 * A write allocates nothing for events with scalar fields and ASCII strings of up to 32
 * characters, with or without a Uint8Array key; bench/writer.bench.ts measures it. A string key
 * or headers cost a UTF-8 length pass, and headers also a `for...in` over their names.
 */
export class EventWriter {
  readonly #tables: OutboundTables
  readonly #ring: RingWriter
  readonly #memory: RingMemory
  readonly #bytes: Uint8Array
  readonly #buffer: Buffer
  readonly #ringControl: Int32Array
  readonly #control: Int32Array
  readonly #slots = new Map<EventType, TypeSlot>()
  #lastSlot: TypeSlot | undefined
  /** Sequence number of the next event; also the count of events written. */
  #sequence = 0
  #rejected = 0
  #rejectedSinceTake = 0
  #unpublished = 0
  /** WAIT_EPOCH value of the worker's last wait that this writer woke, so it wakes each wait once. */
  #notifiedEpoch = 0
  #closed = false

  /** @internal Use createEventWriter() or bus.writer(). */
  constructor (tables: OutboundTables, ring: SharedArrayBuffer, control: SharedArrayBuffer) {
    this.#tables = tables
    this.#memory = createRingMemory(ring)
    this.#ring = new RingWriter(this.#memory)
    this.#bytes = this.#memory.u8
    this.#buffer = nodeBufferOf(this.#memory)
    this.#ringControl = this.#memory.i32
    this.#control = new Int32Array(control)
  }

  /**
   * Writes one event for the producer to send and returns true, or returns false without writing
   * when the outbound ring has no room (see the class description). The event's fields are copied
   * now, so the caller may reuse `event` and `options` right after the call.
   *
   * @throws TickbusError INVALID_OPTION when the event type is not in the topology, or a topic,
   * partition, key, header or timestamp is invalid.
   * @throws TickbusError ENCODE_FAILED when a field value does not fit its declaration.
   * @throws TickbusError TOPOLOGY_MISMATCH when the event type's fields differ from the
   * topology's declaration.
   * @throws TickbusError RECORD_TOO_LARGE when the event is larger than the ring.
   * @throws TickbusError NOT_RUNNING after close().
   */
  write<S extends EventSchema> (eventType: EventType<S>, event: EventInput<S>, options?: WriteOptions): boolean {
    if (this.#closed) throw new TickbusError(ErrorCode.NOT_RUNNING, 'Cannot write: the event writer is closed because its bus stopped.')
    let slot = this.#lastSlot
    if (slot === undefined || slot.type !== eventType) slot = this.#slotOf(eventType as unknown as EventType)

    let topicId = slot.defaultTopicId
    let partition = -1
    let timestamp = -1
    let key: string | Uint8Array | null = null
    let keyBytes = 0
    let headers: Readonly<Record<string, string | Uint8Array>> | undefined
    let headersBytes = 0
    if (options !== undefined) {
      if (options.topic !== undefined) topicId = this.#topicIdOf(options.topic)
      if (options.partition !== undefined) partition = this.#checkPartition(topicId, options.partition)
      if (options.timestamp !== undefined) timestamp = checkTimestamp(options.timestamp)
      if (options.key !== undefined && options.key !== null) {
        key = options.key
        keyBytes = measureKey(key)
      }
      if (options.headers !== undefined) {
        headersBytes = measureHeaders(options.headers)
        // An empty headers object is stored like no headers, as a block of 0 bytes.
        if (headersBytes > 0) headers = options.headers
      }
    }
    if (topicId === 0) throw this.#topicRequired(slot)

    const extraBytes = keyBytes + headersBytes
    const ring = this.#ring
    let offset: number
    let bodyBytes: number
    if (slot.fixedSize) {
      // The size is known, so reserve() writes the record's first header word and needs no commit.
      offset = this.#reserve(slot.minRecordBytes + extraBytes)
      if (offset === RING_FULL) return this.#reject()
      bodyBytes = slot.type.encodeInto(event, this.#memory, offset + RECORD_HEADER_BYTES, slot.minRecordBytes - RECORD_HEADER_BYTES)
    } else {
      // Open a span at least as large as the smallest possible record. When the body does not fit
      // into it, encodeInto returns minus the body size, so one more span of the exact size is
      // opened. Nothing is published in between.
      offset = this.#reserveSpan(slot.minRecordBytes + extraBytes)
      if (offset === RING_FULL) return this.#reject()
      bodyBytes = slot.type.encodeInto(event, this.#memory, offset + RECORD_HEADER_BYTES, ring.spanBytes - RECORD_HEADER_BYTES - extraBytes)
      if (bodyBytes < 0) {
        offset = this.#reserveSpan(RECORD_HEADER_BYTES - bodyBytes + extraBytes)
        if (offset === RING_FULL) return this.#reject()
        bodyBytes = slot.type.encodeInto(event, this.#memory, offset + RECORD_HEADER_BYTES, ring.spanBytes - RECORD_HEADER_BYTES - extraBytes)
      }
    }

    let end = RECORD_HEADER_BYTES + bodyBytes
    const memory = this.#memory
    if (key === null) {
      writeRecordKeySpan(memory, offset, 0, NO_BYTES)
    } else {
      this.#writeKey(key, offset + end, keyBytes)
      writeRecordKeySpan(memory, offset, end, keyBytes)
      end += keyBytes
    }
    if (headers === undefined) {
      writeRecordHeadersSpan(memory, offset, 0, 0)
    } else {
      this.#writeHeaders(headers, offset + end)
      writeRecordHeadersSpan(memory, offset, end, headersBytes)
      end += headersBytes
    }

    if (!slot.fixedSize) ring.commit(end, RecordKind.EVENT)
    writeRecordEventType(memory, offset, slot.id)
    writeRecordSource(memory, offset, topicId, 0, partition, this.#sequence, timestamp)
    this.#sequence++
    // An idle worker gets the first record at once. A busy or lingering worker gets records in
    // batches, at the latest from the next publish(), which explains the ordering.
    const epoch = Atomics.load(this.#control, ProducerSlot.WAIT_EPOCH)
    if (++this.#unpublished >= PUBLISH_EVERY_RECORDS || ((epoch & WaitState.IDLE) === WaitState.IDLE && epoch !== this.#notifiedEpoch)) this.publish()
    return true
  }

  /**
   * Makes every written record visible to the worker and wakes the worker when it sleeps. The
   * worker stores a sleeping WAIT_EPOCH before it loads PUBLISHED to decide to sleep, and this stores
   * PUBLISHED before it loads WAIT_EPOCH. With sequentially consistent Atomics at least one side
   * loads the other's store, so a worker about to sleep either finds the records or gets the
   * notify. Each sleep is notified at most once. Allocates nothing.
   */
  publish (): void {
    this.#unpublished = 0
    // Without new records there is nothing to wake the worker for; ticks call this every time.
    if (this.#ring.unpublishedRecords === 0) return
    this.#ring.publish()
    const epoch = Atomics.load(this.#control, ProducerSlot.WAIT_EPOCH)
    if ((epoch & WaitState.SLEEPING) !== 0 && epoch !== this.#notifiedEpoch) {
      this.#notifiedEpoch = epoch
      Atomics.notify(this.#ringControl, Control.PUBLISHED)
    }
  }

  /** Events written since the writer was created; also the sequence number of the next event. */
  get written (): number {
    return this.#sequence
  }

  /** Writes refused because the ring was full, since the writer was created. */
  get rejected (): number {
    return this.#rejected
  }

  /** Returns the writes refused since the previous call, and starts counting again from 0. */
  takeRejected (): number {
    const count = this.#rejectedSinceTake
    this.#rejectedSinceTake = 0
    return count
  }

  /** Bytes free in the outbound ring right now. */
  get freeBytes (): number {
    return this.#ring.freeBytes
  }

  /** Data capacity of the outbound ring in bytes. */
  get capacityBytes (): number {
    return this.#ring.capacity
  }

  /**
   * Returns the event type with the given id: the object passed to write() when there was one,
   * otherwise the type re-created from the topology. Undefined for an unknown id.
   */
  eventTypeById (id: number): EventType | undefined {
    for (const slot of this.#slots.values()) if (slot.id === id) return slot.type
    return this.#tables.eventTypes[id]
  }

  /** Publishes what was written and makes every later write() throw NOT_RUNNING. */
  close (): void {
    this.publish()
    this.#closed = true
  }

  /** Reserves a record; when the ring is full, publishes first, because the worker cannot free unpublished records. */
  #reserve (bytes: number): number {
    const offset = this.#ring.reserve(bytes, RecordKind.EVENT)
    if (offset !== RING_FULL || this.#unpublished === 0) return offset
    this.publish()
    return this.#ring.reserve(bytes, RecordKind.EVENT)
  }

  /** Opens a span; when the ring is full, publishes first, because the worker cannot free unpublished records. */
  #reserveSpan (bytes: number): number {
    const offset = this.#ring.reserveSpan(bytes)
    if (offset !== RING_FULL || this.#unpublished === 0) return offset
    this.publish()
    return this.#ring.reserveSpan(bytes)
  }

  #reject (): false {
    this.#rejected++
    this.#rejectedSinceTake++
    return false
  }

  #slotOf (eventType: EventType): TypeSlot {
    const known = this.#slots.get(eventType)
    if (known !== undefined) {
      this.#lastSlot = known
      return known
    }
    const tables = this.#tables
    const id = typeof eventType === 'object' && eventType !== null ? tables.eventTypeIdByName.get(eventType.name) : undefined
    if (id === undefined) {
      const names = [...tables.eventTypeIdByName.keys()].join(', ') || 'none'
      throw invalidOption('write(eventType)', `must be an event type of the topology (registered: ${names})`, (eventType as { name?: unknown } | null)?.name ?? eventType)
    }
    const declared = tables.eventTypes[id]!
    if (declared.signature !== eventType.signature) {
      throw new TickbusError(
        ErrorCode.TOPOLOGY_MISMATCH,
        `Cannot write event type ${eventType.name}: its fields (${eventType.signature}) differ from the topology's declaration (${declared.signature}). ` +
        'Write with the event type that the topology was built from.',
      )
    }
    const slot: TypeSlot = {
      type: eventType,
      id,
      defaultTopicId: tables.defaultTopicIds[id]!,
      minRecordBytes: RECORD_HEADER_BYTES + eventType.layout.minBodyBytes,
      fixedSize: eventType.fields.every((field) => field.kind !== 'string' && field.kind !== 'bytes'),
    }
    this.#slots.set(eventType, slot)
    this.#lastSlot = slot
    return slot
  }

  #topicIdOf (topic: string): number {
    const id = this.#tables.topicIdByName.get(topic)
    if (id === undefined) {
      const names = [...this.#tables.topicIdByName.keys()].join(', ') || 'none'
      throw invalidOption('write options.topic', `must be a topic of the topology (topics: ${names})`, topic)
    }
    return id
  }

  #checkPartition (topicId: number, partition: number): number {
    const topic = this.#tables.topics[topicId]
    const count = topic?.partitions ?? 0x7fffffff
    if (!Number.isInteger(partition) || partition < 0 || partition >= count) {
      throw invalidOption('write options.partition', `must be an integer from 0 to ${count - 1} (the partitions of topic ${topic?.name ?? '?'})`, partition)
    }
    return partition
  }

  #topicRequired (slot: TypeSlot): TickbusError {
    const bound = this.#tables.boundTopicNames[slot.id] ?? []
    const rule = bound.length === 0
      ? `is required because no topic of the topology binds event type ${slot.type.name}`
      : `is required because several topics bind event type ${slot.type.name} (${bound.join(', ')})`
    return invalidOption('write options.topic', rule, undefined)
  }

  #writeKey (key: string | Uint8Array, at: number, keyBytes: number): void {
    if (typeof key === 'string') writeUtf8(this.#bytes, this.#buffer, key, at, keyBytes)
    else this.#bytes.set(key, at)
  }

  /** Writes the headers block (format in ring/layout.ts); measureHeaders() checked every entry. */
  #writeHeaders (headers: Readonly<Record<string, string | Uint8Array>>, at: number): void {
    const bytes = this.#bytes
    const countAt = at
    let cursor = at + 2
    let count = 0
    for (const name in headers) {
      if (!Object.prototype.hasOwnProperty.call(headers, name)) continue
      const value = headers[name]!
      const nameBytes = writeUtf8(bytes, this.#buffer, name, cursor + 2, Buffer.byteLength(name, 'utf8'))
      writeU16(bytes, cursor, nameBytes)
      cursor += 2 + nameBytes
      let valueBytes: number
      if (typeof value === 'string') {
        valueBytes = writeUtf8(bytes, this.#buffer, value, cursor + 4, Buffer.byteLength(value, 'utf8'))
      } else {
        bytes.set(value, cursor + 4)
        valueBytes = value.length
      }
      writeU32(bytes, cursor, valueBytes)
      cursor += 4 + valueBytes
      count++
    }
    writeU16(bytes, countAt, count)
  }
}

/** Bytes of a key in the ring; validates its type. */
function measureKey (key: unknown): number {
  if (typeof key === 'string') return utf8Length(key)
  if (key instanceof Uint8Array) return key.length
  throw invalidOption('write options.key', 'must be a string, a Uint8Array or null', key)
}

/** Bytes of the encoded headers block; validates every name and value. */
function measureHeaders (headers: unknown): number {
  if (typeof headers !== 'object' || headers === null) throw invalidOption('write options.headers', 'must be an object of string or Uint8Array values', headers)
  let bytes = 2
  let count = 0
  for (const name in headers) {
    if (!Object.prototype.hasOwnProperty.call(headers, name)) continue
    const value = (headers as Record<string, unknown>)[name]
    const nameBytes = utf8Length(name)
    if (nameBytes > MAX_HEADER_NAME_BYTES) throw invalidOption('write options.headers', `names must be at most ${MAX_HEADER_NAME_BYTES} bytes of UTF-8`, name)
    let valueBytes: number
    if (typeof value === 'string') valueBytes = utf8Length(value)
    else if (value instanceof Uint8Array) valueBytes = value.length
    else throw invalidOption(`write options.headers[${JSON.stringify(name)}]`, 'must be a string or a Uint8Array', value)
    bytes += 2 + nameBytes + 4 + valueBytes
    count++
  }
  if (count === 0) return 0
  if (count > MAX_HEADERS) throw invalidOption('write options.headers', `must have at most ${MAX_HEADERS} entries`, `${count} entries`)
  return bytes
}

/** UTF-8 length without a native call for short ASCII strings. */
function utf8Length (text: string): number {
  const length = text.length
  if (length <= 32) {
    let i = 0
    while (i < length && text.charCodeAt(i) < 0x80) i++
    if (i === length) return length
  }
  return Buffer.byteLength(text, 'utf8')
}

function checkTimestamp (timestamp: number): number {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw invalidOption('write options.timestamp', 'must be a non-negative integer of ms since the epoch', timestamp)
  }
  return timestamp
}

// The headers block has no alignment, so its integers are written byte by byte, little-endian.
function writeU16 (bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff
  bytes[at + 1] = value >>> 8
}

function writeU32 (bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff
  bytes[at + 1] = (value >>> 8) & 0xff
  bytes[at + 2] = (value >>> 16) & 0xff
  bytes[at + 3] = value >>> 24
}
