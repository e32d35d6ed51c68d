import { RECORD_HEADER_BYTES, RecordFlag, RecordKind, NO_BYTES, alignRecord } from '../ring/layout.js'
import type { RingMemory } from '../ring/memory.js'
import { RING_FULL, type RingWriter } from '../ring/ring-writer.js'
import { writeRecordEventType, writeRecordFlags, writeRecordHeadersSpan, writeRecordKeySpan, writeRecordSource } from '../ring/record-header.js'

/**
 * Worker side of the inbound path: turns one fetched record into ring records (one per event it
 * decodes to, or one decode-error record) and remembers, per partition, which offset becomes
 * committable once the main thread releases the ring up to a position.
 *
 * Runs on the worker thread that owns the ring's RingWriter; not thread-safe.
 */

/** One record as the backend fetched it. Header values are raw bytes (null for a null value). */
export interface IncomingRecord {
  topicId: number
  partition: number
  /** Kafka offset, exact below 2^53. */
  offset: number
  /** Broker timestamp, ms since the epoch. */
  timestamp: number
  key: Uint8Array | null
  value: Uint8Array | null
  headers: ReadonlyArray<readonly [string, Uint8Array | null]>
}

/** Encodes a decoded event into a record body; implemented by each event type. */
export interface BodyEncoder {
  /** Body bytes that `encodeInto` writes for `event`, a multiple of 8. */
  measure (event: unknown): number
  /** Writes the body at `bodyOffset`; returns bytes written, or a negative value when it did not fit. */
  encodeInto (event: unknown, memory: RingMemory, bodyOffset: number, availableBytes: number): number
}

/** A decoded event ready to be written: its type id, encoder and value. */
export interface DecodedEvent {
  eventTypeId: number
  encoder: BodyEncoder
  event: unknown
}

/** Result of {@link RecordWriter.write}. */
export const WriteResult = {
  WRITTEN: 1,
  /** The ring has no room now; nothing was written. Wait for space and call again. */
  FULL: 0,
} as const

const textEncoder = new TextEncoder()

/**
 * Writes decoded events or decode errors of one incoming record into a ring. All records that
 * belong to one incoming record are written or none is, so a fan-out never leaves half a record.
 */
export class RecordWriter {
  readonly #writer: RingWriter
  readonly #memory: RingMemory
  readonly #groupId: number
  /** Scratch sizes of the events of the record in progress; grows to the largest fan-out. */
  #bodySizes: number[] = []

  constructor (writer: RingWriter, groupId: number) {
    this.#writer = writer
    this.#memory = writer.memory
    this.#groupId = groupId
  }

  /**
   * Bytes a record with these events needs in the ring, across all its ring records. Also fills the
   * body sizes that write() uses.
   */
  measure (record: IncomingRecord, events: readonly DecodedEvent[]): number {
    const extra = keyAndHeadersBytes(record)
    let total = 0
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!
      const body = event.encoder.measure(event.event)
      this.#bodySizes[i] = body
      total += alignRecord(RECORD_HEADER_BYTES + body + extra)
    }
    return total
  }

  /**
   * Writes one ring record per event, all or none. `bytes` is what measure() returned for the
   * same arguments, called just before. Returns WriteResult.FULL when they do not fit now.
   */
  writeEvents (record: IncomingRecord, events: readonly DecodedEvent[], bytes: number): number {
    // One contiguous span of the total size fits every record of the fan-out back to back, so
    // once it is open each reserve() below succeeds.
    if (this.#writer.reserveSpan(bytes) === RING_FULL) return WriteResult.FULL

    const extra = keyAndHeadersBytes(record)
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!
      const body = this.#bodySizes[i]!
      const size = RECORD_HEADER_BYTES + body + extra
      const offset = this.#writer.reserve(size, RecordKind.EVENT)
      writeRecordEventType(this.#memory, offset, event.eventTypeId)
      this.#writeSource(offset, record)
      const written = event.encoder.encodeInto(event.event, this.#memory, offset + RECORD_HEADER_BYTES, body)
      if (written < 0) throw new RangeError(`Event body grew between measure and write: ${-written} > ${body} bytes`)
      this.#writeKeyAndHeaders(offset, RECORD_HEADER_BYTES + body, record)
    }
    return WriteResult.WRITTEN
  }

  /** Ring bytes of the decode-error record that writeDecodeError() writes for `error`. */
  decodeErrorBytes (record: IncomingRecord, encoder: BodyEncoder, error: unknown): number {
    return RECORD_HEADER_BYTES + encoder.measure(error) + keyAndHeadersBytes(record)
  }

  /** Writes a decode-error record whose body the given encoder builds from `error`. */
  writeDecodeError (record: IncomingRecord, eventTypeId: number, encoder: BodyEncoder, error: unknown): number {
    const body = encoder.measure(error)
    const size = RECORD_HEADER_BYTES + body + keyAndHeadersBytes(record)
    const offset = this.#writer.reserve(size, RecordKind.DECODE_ERROR)
    if (offset === RING_FULL) return WriteResult.FULL
    writeRecordEventType(this.#memory, offset, eventTypeId)
    this.#writeSource(offset, record)
    encoder.encodeInto(error, this.#memory, offset + RECORD_HEADER_BYTES, body)
    this.#writeKeyAndHeaders(offset, RECORD_HEADER_BYTES + body, record)
    return WriteResult.WRITTEN
  }

  /** Marks the last written record as the end of a fetch batch. */
  markBatchEnd (offset: number): void {
    writeRecordFlags(this.#memory, offset, RecordFlag.BATCH_END)
  }

  #writeSource (offset: number, record: IncomingRecord): void {
    writeRecordSource(this.#memory, offset, record.topicId, this.#groupId, record.partition, record.offset, record.timestamp)
  }

  #writeKeyAndHeaders (recordOffset: number, start: number, record: IncomingRecord): void {
    const u8 = this.#memory.u8
    let cursor = start
    if (record.key === null) {
      writeRecordKeySpan(this.#memory, recordOffset, 0, NO_BYTES)
    } else {
      u8.set(record.key, recordOffset + cursor)
      writeRecordKeySpan(this.#memory, recordOffset, cursor, record.key.length)
      cursor += record.key.length
    }

    const headers = record.headers
    if (headers.length === 0) {
      writeRecordHeadersSpan(this.#memory, recordOffset, 0, 0)
      return
    }
    const headersStart = cursor
    const view = this.#memory.view
    view.setUint16(recordOffset + cursor, headers.length, true)
    cursor += 2
    for (let i = 0; i < headers.length; i++) {
      const [name, value] = headers[i]!
      const nameSpan = u8.subarray(recordOffset + cursor + 2)
      const { written } = textEncoder.encodeInto(name, nameSpan)
      view.setUint16(recordOffset + cursor, written, true)
      cursor += 2 + written
      if (value === null) {
        view.setUint32(recordOffset + cursor, NO_BYTES, true)
        cursor += 4
      } else {
        view.setUint32(recordOffset + cursor, value.length, true)
        cursor += 4
        u8.set(value, recordOffset + cursor)
        cursor += value.length
      }
    }
    writeRecordHeadersSpan(this.#memory, recordOffset, headersStart, cursor - headersStart)
  }
}

/** Bytes the key and the encoded headers take after the body. */
export function keyAndHeadersBytes (record: IncomingRecord): number {
  let bytes = record.key === null ? 0 : record.key.length
  const headers = record.headers
  if (headers.length === 0) return bytes
  bytes += 2
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!
    bytes += 2 + Buffer.byteLength(name, 'utf8') + 4 + (value === null ? 0 : value.length)
  }
  return bytes
}
