/**
 * Memory layout of a tickbus ring: one SharedArrayBuffer per worker and direction.
 *
 *   byte 0                 CONTROL_BYTES                                  CONTROL_BYTES + capacity
 *   ┌──────────────────────┬───────────────────────────────────────────────┐
 *   │ control words        │ data: records, each RECORD_ALIGN-aligned       │
 *   └──────────────────────┴───────────────────────────────────────────────┘
 *
 * Control words are Int32 slots. The two positions that different threads write sit 64 bytes
 * apart so that they never share a cache line (false sharing costs 2-8x on a contended line).
 *
 *   slot byte  name             written by   read by
 *   0          PUBLISHED        producer     consumer   end of the last published record
 *   64         RELEASED         consumer     producer   end of the last released record
 *   128        CLOSED           either       both       1 once either side has stopped the ring
 *   132        WAITING          producer     consumer   1 while the producer waits for space
 *   192        RECORDS_WRITTEN  producer     metrics    records published, wraps at 2^32
 *   196        FULL_COUNT       producer     metrics    writes that found the ring full
 *   256        (data starts)
 *
 * Positions are byte counters that grow without bound and wrap at 2^32; the data index of a
 * position is `position & (capacity - 1)`, so the capacity is a power of two. `used` is
 * `(published - released) >>> 0`. The producer may see a stale RELEASED (it then believes there
 * is less free space than there is), and the consumer may see a stale PUBLISHED (it then claims
 * fewer records); neither direction loses or corrupts a record.
 *
 * Record layout, all offsets in bytes from the record's first byte:
 *
 *   0   u32  length          whole record incl. header, a multiple of RECORD_ALIGN
 *   4   u8   kind            RecordKind
 *   5   u8   flags           RecordFlag bits
 *   6   u16  eventType       event type id (0 for records that are not events)
 *   8   u16  topic           topic id from the bus's topic table
 *   10  u16  group           consumer group id from the bus's group table
 *   12  i32  partition       -1 when unknown
 *   16  f64  offset          Kafka offset, exact below 2^53; -1 when unknown
 *   24  f64  timestamp       broker timestamp in ms since the epoch; -1 when unknown
 *   32  u32  keyOffset       key bytes, from the record start; 0 with keyLength NO_BYTES for null
 *   36  u32  keyLength       NO_BYTES for a null key
 *   40  u32  headersOffset   encoded headers (see below), from the record start
 *   44  u32  headersLength   0 when there are no headers
 *   48  ...  body            the event's fixed fields, then its variable-length tail, then key
 *                            and headers bytes; the end is padded to RECORD_ALIGN
 *
 * A PADDING record fills the data region from a record that would cross its end up to that end,
 * so that every record is contiguous. Only its first 8 bytes are written (length, kind, and zero
 * flags and event type), so it can be as short as RECORD_ALIGN bytes. Every other record carries
 * the whole header.
 *
 * Encoded headers: u16 count, then per header u16 nameLength, name bytes (UTF-8), u32 valueLength
 * (NO_BYTES for a null value), value bytes. No alignment inside the headers block.
 */

/** Alignment of every record and of every record's body, in bytes. */
export const RECORD_ALIGN = 8

/** Distance between control words written by different threads, in bytes. */
export const CACHE_LINE_BYTES = 64

/** Size of the control region before the data region, in bytes. */
export const CONTROL_BYTES = 256

/** Int32 slot indexes of the control words (byte offset / 4). */
export const Control = {
  PUBLISHED: 0,
  RELEASED: 64 / 4,
  CLOSED: 128 / 4,
  WAITING: 132 / 4,
  RECORDS_WRITTEN: 192 / 4,
  FULL_COUNT: 196 / 4,
} as const

/** Smallest and largest data capacity of a ring, in bytes (powers of two). */
export const MIN_RING_CAPACITY_BYTES = 1024
export const MAX_RING_CAPACITY_BYTES = 2 ** 30

/** Byte offsets of the record header fields. */
export const Header = {
  LENGTH: 0,
  KIND: 4,
  FLAGS: 5,
  EVENT_TYPE: 6,
  TOPIC: 8,
  GROUP: 10,
  PARTITION: 12,
  OFFSET: 16,
  TIMESTAMP: 24,
  KEY_OFFSET: 32,
  KEY_LENGTH: 36,
  HEADERS_OFFSET: 40,
  HEADERS_LENGTH: 44,
} as const

/** Size of the record header; the body starts here. A multiple of RECORD_ALIGN. */
export const RECORD_HEADER_BYTES = 48

/** Length value meaning "null" for key, header values and nullable byte fields. */
export const NO_BYTES = 0xffffffff

/** What a record carries. */
export const RecordKind = {
  PADDING: 0,
  EVENT: 1,
  DECODE_ERROR: 2,
  DELIVERY_FAILURE: 3,
  BUS_ERROR: 4,
  COMMIT_RESULT: 5,
} as const

export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind]

/** Bits of the header's flags byte. */
export const RecordFlag = {
  /** The last record of a Kafka batch: the worker may commit up to its offset once released. */
  BATCH_END: 1,
} as const

/** Rounds a byte count up to RECORD_ALIGN. */
export function alignRecord (bytes: number): number {
  return (bytes + (RECORD_ALIGN - 1)) & ~(RECORD_ALIGN - 1)
}
