import { Header, type RecordKind } from './layout.js'
import type { RingMemory } from './memory.js'

/*
 * Readers and writers of the record header fields declared in layout.ts. `offset` is always the
 * absolute byte offset of the record's first byte in the ring's SharedArrayBuffer, as returned by
 * RingWriter.reserve() or RingReader.nextRecord(). Records are RECORD_ALIGN-aligned, so every
 * field is aligned to its own size and is accessed through the matching typed view.
 *
 * None of these functions allocates, checks bounds or synchronizes: the ring's publish/claim
 * protocol orders the plain reads and writes made here. A reader may only read a record between
 * nextRecord() returning it and the release of its position; a writer may only write a record
 * between reserve() (or reserveSpan()) and publish().
 */

/**
 * Writes the first header word of a record: its length, its kind, and zero for flags and event
 * type, so that no field is left over from the record that used these bytes on the previous lap.
 * RingWriter calls this for every record it reserves and for padding.
 */
export function writeRecordHeader (memory: RingMemory, offset: number, length: number, kind: RecordKind): void {
  memory.u32[(offset + Header.LENGTH) >>> 2] = length
  memory.u8[offset + Header.KIND] = kind
  memory.u8[offset + Header.FLAGS] = 0
  memory.u16[(offset + Header.EVENT_TYPE) >>> 1] = 0
}

/** Returns the whole record length in bytes, header included, a multiple of RECORD_ALIGN. */
export function readRecordLength (memory: RingMemory, offset: number): number {
  return memory.u32[(offset + Header.LENGTH) >>> 2]
}

/** Returns the record's RecordKind value. */
export function readRecordKind (memory: RingMemory, offset: number): number {
  return memory.u8[offset + Header.KIND]
}

/** Returns the RecordFlag bits. */
export function readRecordFlags (memory: RingMemory, offset: number): number {
  return memory.u8[offset + Header.FLAGS]
}

/** Sets the RecordFlag bits, replacing the previous ones. */
export function writeRecordFlags (memory: RingMemory, offset: number, flags: number): void {
  memory.u8[offset + Header.FLAGS] = flags
}

/** Returns the event type id, 0 for records that are not events. */
export function readRecordEventType (memory: RingMemory, offset: number): number {
  return memory.u16[(offset + Header.EVENT_TYPE) >>> 1]
}

export function writeRecordEventType (memory: RingMemory, offset: number, eventType: number): void {
  memory.u16[(offset + Header.EVENT_TYPE) >>> 1] = eventType
}

/**
 * Writes where the record came from: topic and group ids from the bus's tables, the partition
 * (-1 when unknown), the Kafka offset (exact below 2^53, -1 when unknown) and the broker timestamp
 * in ms since the epoch (-1 when unknown).
 */
export function writeRecordSource (
  memory: RingMemory,
  offset: number,
  topic: number,
  group: number,
  partition: number,
  kafkaOffset: number,
  timestamp: number,
): void {
  memory.u16[(offset + Header.TOPIC) >>> 1] = topic
  memory.u16[(offset + Header.GROUP) >>> 1] = group
  memory.i32[(offset + Header.PARTITION) >>> 2] = partition
  memory.f64[(offset + Header.OFFSET) >>> 3] = kafkaOffset
  memory.f64[(offset + Header.TIMESTAMP) >>> 3] = timestamp
}

/** Returns the topic id from the bus's topic table. */
export function readRecordTopic (memory: RingMemory, offset: number): number {
  return memory.u16[(offset + Header.TOPIC) >>> 1]
}

/** Returns the consumer group id from the bus's group table. */
export function readRecordGroup (memory: RingMemory, offset: number): number {
  return memory.u16[(offset + Header.GROUP) >>> 1]
}

/** Returns the Kafka partition, -1 when unknown. */
export function readRecordPartition (memory: RingMemory, offset: number): number {
  return memory.i32[(offset + Header.PARTITION) >>> 2]
}

/** Returns the Kafka offset of the event, exact below 2^53, -1 when unknown. */
export function readRecordKafkaOffset (memory: RingMemory, offset: number): number {
  return memory.f64[(offset + Header.OFFSET) >>> 3]
}

/** Returns the broker timestamp in ms since the epoch, -1 when unknown. */
export function readRecordTimestamp (memory: RingMemory, offset: number): number {
  return memory.f64[(offset + Header.TIMESTAMP) >>> 3]
}

/**
 * Writes where the Kafka key bytes sit: `keyOffset` counts from the record start, and a null key
 * is keyOffset 0 with keyLength NO_BYTES.
 */
export function writeRecordKeySpan (memory: RingMemory, offset: number, keyOffset: number, keyLength: number): void {
  memory.u32[(offset + Header.KEY_OFFSET) >>> 2] = keyOffset
  memory.u32[(offset + Header.KEY_LENGTH) >>> 2] = keyLength
}

/** Returns the start of the key bytes, counted from the record start. */
export function readRecordKeyOffset (memory: RingMemory, offset: number): number {
  return memory.u32[(offset + Header.KEY_OFFSET) >>> 2]
}

/** Returns the key length in bytes, NO_BYTES for a null key. */
export function readRecordKeyLength (memory: RingMemory, offset: number): number {
  return memory.u32[(offset + Header.KEY_LENGTH) >>> 2]
}

/**
 * Writes where the encoded Kafka headers block sits (format in layout.ts): `headersOffset` counts
 * from the record start, and `headersLength` is 0 when the event has no headers.
 */
export function writeRecordHeadersSpan (memory: RingMemory, offset: number, headersOffset: number, headersLength: number): void {
  memory.u32[(offset + Header.HEADERS_OFFSET) >>> 2] = headersOffset
  memory.u32[(offset + Header.HEADERS_LENGTH) >>> 2] = headersLength
}

/** Returns the start of the encoded Kafka headers block, counted from the record start. */
export function readRecordHeadersOffset (memory: RingMemory, offset: number): number {
  return memory.u32[(offset + Header.HEADERS_OFFSET) >>> 2]
}

/** Returns the length of the encoded Kafka headers block in bytes, 0 when there are no headers. */
export function readRecordHeadersLength (memory: RingMemory, offset: number): number {
  return memory.u32[(offset + Header.HEADERS_LENGTH) >>> 2]
}
