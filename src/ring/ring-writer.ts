import { ErrorCode, TickbusError } from '../errors.js'
import { CONTROL_BYTES, Control, RECORD_HEADER_BYTES, RecordKind, alignRecord } from './layout.js'
import type { RingMemory } from './memory.js'
import { writeRecordHeader } from './record-header.js'
import { assertRingMemory, closeRing, isRingClosed } from './ring-buffer.js'

/** Returned by RingWriter.reserve() and reserveSpan() when the ring has no room right now. */
export const RING_FULL = -1

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

/** Maximum delay that setInterval accepts (2^31 - 1 ms). The keep-alive timer never needs to fire. */
const KEEP_ALIVE_INTERVAL_MS = 0x7fffffff

/**
 * RELEASED loads that waitForSpace() makes in a busy loop before it parks on Atomics.waitAsync,
 * about 7 µs on the shared 2-core machine where bench/ring-handoff.bench.ts was run. A consumer
 * that releases often frees space sooner than a wake-up through the worker's event loop arrives.
 * In one session of that benchmark, 80-byte records moved at about 5 M records/s without the spin
 * and 18 M with it; with other processes busy on both cores, both fell to 2-4 M.
 */
const SPIN_CHECKS = 1000

/**
 * Producer side of a single-producer single-consumer ring of variable-length records.
 *
 * Concurrency contract:
 * - One RingWriter per ring, used from one thread (a worker or the main thread). It alone writes
 *   PUBLISHED, RECORDS_WRITTEN, FULL_COUNT and WAITING, and the data bytes from RELEASED up to
 *   its write position.
 * - It reads RELEASED, which the consumer writes. The cached copy can only be older than the
 *   shared value, which under-reports free space; the writer reloads it before reporting full.
 * - Records become visible to the consumer only at publish(), all at once.
 * - reserve(), reserveSpan(), commit() and publish() never allocate. They throw only for misuse
 *   (a size out of range, a commit larger than its span) and return RING_FULL when the ring is
 *   full. waitForSpace() allocates a promise per call, and a timer when it has to park.
 *
 * A record counts as written from reserve() (or commit()) on and must be completely written
 * before the next publish() or waitForSpace(). Usage:
 *
 *   let offset = writer.reserve(bytes, RecordKind.EVENT)
 *   while (offset === RING_FULL) {
 *     if (!await writer.waitForSpace(bytes)) return  // timed out or closed
 *     offset = writer.reserve(bytes, RecordKind.EVENT)
 *   }
 *   // write header fields and body within alignRecord(bytes) bytes from `offset`
 *   writer.publish()  // once per batch of records
 *
 * Positions are uint32 byte counters that wrap at 2^32 (see layout.ts). Both classes hold them as
 * their int32 bit pattern (`| 0`), the form the Int32 control words store, because V8 keeps an
 * int32 as a small integer while a uint32 above 2^31 becomes a heap number, which slows every
 * position update. Free space is `capacity - ((write - released) | 0)`, correct across the wrap
 * because the difference never exceeds the capacity.
 */
export class RingWriter {
  readonly memory: RingMemory
  /** Data capacity in bytes. */
  readonly capacity: number
  /**
   * Maximum record size in bytes that reserve() and reserveSpan() accept: the whole capacity.
   * When a record would cross the end of the data region, the writer pads up to the end as soon
   * as the padding alone fits, even while the record does not. The record then starts at data
   * index 0 and needs only its own size free.
   */
  readonly maxRecordBytes: number

  readonly #i32: Int32Array
  readonly #mask: number
  /** Position after the last reserved or committed record, published or not. */
  #writePosition: number
  /** Last value stored into PUBLISHED. */
  #publishedPosition: number
  /** Last value loaded from RELEASED; older than or equal to the shared value. */
  #releasedPosition: number
  #unpublishedRecords = 0
  #recordsWritten: number
  #fullCount: number
  #spanBytes = 0

  /**
   * Wraps a ring for writing. A writer made for a ring that already contains records resumes after
   * the last published one, so bytes an earlier writer reserved without publishing are overwritten.
   * Throws RangeError when `memory` does not wrap a buffer made by createRingBuffer().
   */
  constructor (memory: RingMemory) {
    assertRingMemory(memory)
    this.memory = memory
    this.capacity = memory.capacity
    this.maxRecordBytes = memory.capacity
    this.#i32 = memory.i32
    this.#mask = memory.capacity - 1
    this.#writePosition = Atomics.load(memory.i32, Control.PUBLISHED)
    this.#publishedPosition = this.#writePosition
    this.#releasedPosition = Atomics.load(memory.i32, Control.RELEASED)
    this.#recordsWritten = Atomics.load(memory.i32, Control.RECORDS_WRITTEN)
    this.#fullCount = Atomics.load(memory.i32, Control.FULL_COUNT)
  }

  /**
   * Reserves a record of `alignRecord(recordBytes)` bytes and returns the absolute byte offset of
   * its first byte in the buffer, or RING_FULL when the ring has no room right now. The writer
   * fills the record's length and kind and zeroes flags and event type; the caller writes the
   * remaining header fields and the body. Each RING_FULL result adds 1 to FULL_COUNT.
   *
   * Throws RECORD_TOO_LARGE above maxRecordBytes, and RangeError below RECORD_HEADER_BYTES.
   */
  reserve (recordBytes: number, kind: RecordKind): number {
    if (!(recordBytes >= RECORD_HEADER_BYTES && recordBytes <= this.maxRecordBytes)) {
      throw this.#recordSizeError(recordBytes)
    }
    const size = alignRecord(recordBytes)
    this.#spanBytes = 0
    if (!this.#prepareSpace(size)) return this.#reportFull()

    const offset = CONTROL_BYTES + (this.#writePosition & this.#mask)
    writeRecordHeader(this.memory, offset, size, kind)
    this.#writePosition = (this.#writePosition + size) | 0
    this.#unpublishedRecords++
    return offset
  }

  /**
   * Opens a span for a record whose size is known only after encoding. Returns the absolute byte
   * offset of the span, or RING_FULL when not even `minBytes` fit right now, and sets spanBytes
   * to the contiguous bytes writable from that offset (at least `alignRecord(minBytes)`, a
   * multiple of RECORD_ALIGN). The caller encodes the record into the span and then calls
   * commit(). Until then the ring is unchanged, except for padding when the span wraps to data
   * index 0.
   *
   * Throws like reserve() for `minBytes` out of range.
   */
  reserveSpan (minBytes: number): number {
    if (!(minBytes >= RECORD_HEADER_BYTES && minBytes <= this.maxRecordBytes)) {
      throw this.#recordSizeError(minBytes)
    }
    const size = alignRecord(minBytes)
    this.#spanBytes = 0

    // Reloaded on every call so that the span is as wide as the consumer allows right now.
    // Acquire: the consumer's reads of everything before RELEASED finished before its store, so
    // overwriting those bytes after this load cannot change what it read.
    this.#releasedPosition = Atomics.load(this.#i32, Control.RELEASED)
    if (!this.#prepareSpace(size)) return this.#reportFull()

    const index = this.#writePosition & this.#mask
    const contiguousBytes = this.capacity - index
    const freeBytes = this.capacity - ((this.#writePosition - this.#releasedPosition) | 0)
    this.#spanBytes = freeBytes < contiguousBytes ? freeBytes : contiguousBytes
    return CONTROL_BYTES + index
  }

  /**
   * Bytes writable at the offset the last reserveSpan() returned; 0 when no span is open (after
   * commit(), reserve() or a RING_FULL result).
   */
  get spanBytes (): number {
    return this.#spanBytes
  }

  /**
   * Closes the open span as a record of `alignRecord(recordBytes)` bytes of the given kind: writes
   * its length and kind, zeroes flags and event type, and moves the write position past it.
   *
   * Throws RECORD_TOO_LARGE when `recordBytes` exceeds spanBytes or no span is open. Bytes
   * written past the span may already have overwritten records the consumer has not read.
   * Throws RangeError below RECORD_HEADER_BYTES.
   */
  commit (recordBytes: number, kind: RecordKind): void {
    if (!(recordBytes >= RECORD_HEADER_BYTES && recordBytes <= this.#spanBytes)) {
      throw this.#spanSizeError(recordBytes)
    }
    const size = alignRecord(recordBytes)
    const offset = CONTROL_BYTES + (this.#writePosition & this.#mask)
    writeRecordHeader(this.memory, offset, size, kind)
    this.#writePosition = (this.#writePosition + size) | 0
    this.#unpublishedRecords++
    this.#spanBytes = 0
  }

  /**
   * Makes every record reserved or committed so far visible to the consumer with one store of
   * PUBLISHED, then adds them to RECORDS_WRITTEN. Does nothing when nothing is new.
   */
  publish (): void {
    const position = this.#writePosition
    if (position === this.#publishedPosition) return
    this.#publishedPosition = position

    // Release: the record bytes written before this store are visible to the consumer once its
    // Atomics.load of PUBLISHED returns this value. JavaScript Atomics are sequentially
    // consistent, which includes release/acquire ordering.
    Atomics.store(this.#i32, Control.PUBLISHED, position)

    // A metrics counter with this thread as its only writer. The atomic store only keeps a
    // reader on another thread from seeing a torn value, and orders nothing.
    this.#recordsWritten = (this.#recordsWritten + this.#unpublishedRecords) | 0
    this.#unpublishedRecords = 0
    Atomics.store(this.#i32, Control.RECORDS_WRITTEN, this.#recordsWritten)
  }

  /**
   * Waits until a record of `recordBytes` fits. Publishes pending records first, because the
   * consumer can release only records it was shown. Then checks RELEASED in a short busy loop
   * (SPIN_CHECKS loads, a few microseconds of blocked event loop) and after that waits without
   * blocking the event loop, on Atomics.waitAsync of RELEASED with WAITING set, so that the
   * consumer's release() wakes it.
   * Resolves true when the record fits (a reserve() call right after then succeeds), false on
   * timeout or when the ring is or becomes closed. One call at a time per writer.
   *
   * @param timeoutMs Maximum wait in milliseconds; default Infinity.
   * Rejects like reserve() for `recordBytes` out of range.
   */
  async waitForSpace (recordBytes: number, timeoutMs = Infinity): Promise<boolean> {
    if (!(recordBytes >= RECORD_HEADER_BYTES && recordBytes <= this.maxRecordBytes)) {
      throw this.#recordSizeError(recordBytes)
    }
    const size = alignRecord(recordBytes)
    if (isRingClosed(this.memory)) return false
    if (this.#prepareSpace(size)) return true
    if (this.#spinForSpace(size)) return true

    const deadline = performance.now() + timeoutMs
    // A pending Atomics.waitAsync does not keep a Node.js event loop alive (checked on Node 20),
    // so a worker with nothing else to do would exit in the middle of the wait without a timer.
    const keepAlive = setInterval(noop, KEEP_ALIVE_INTERVAL_MS)
    try {
      // Stored before RELEASED is loaded below, while the consumer stores RELEASED before it loads
      // WAITING. With sequentially consistent Atomics at least one side observes the other's
      // store: either this loop loads the new RELEASED, or the consumer loads WAITING = 1 and
      // calls notify.
      Atomics.store(this.#i32, Control.WAITING, 1)
      for (;;) {
        const released = Atomics.load(this.#i32, Control.RELEASED)
        if (isRingClosed(this.memory)) return false
        this.#releasedPosition = released
        if (this.#prepareSpace(size)) return true

        // Also publishes any padding that #prepareSpace() just wrote: the record may need the
        // consumer to release that padding before it fits.
        this.publish()
        const remainingMs = deadline - performance.now()
        if (remainingMs <= 0) return false

        // Returns 'not-equal' at once if RELEASED moved after the load above, so a release that
        // happened in between is not missed.
        const result = atomics.waitAsync(this.#i32, Control.RELEASED, released, remainingMs)
        if (result.async) await result.value
      }
    } finally {
      Atomics.store(this.#i32, Control.WAITING, 0)
      clearInterval(keepAlive)
    }
  }

  /** Bytes free right now from a fresh load of RELEASED; a wrapping record also needs its padding. */
  get freeBytes (): number {
    this.#releasedPosition = Atomics.load(this.#i32, Control.RELEASED)
    return this.capacity - ((this.#writePosition - this.#releasedPosition) | 0)
  }

  /**
   * Position after the last reserved or committed record, published or not, as the int32 bit
   * pattern of the uint32 counter (see the class comment). A record is released once RELEASED has
   * reached the position read right after writing it: `((released - position) | 0) >= 0`.
   */
  get writePosition (): number {
    return this.#writePosition
  }

  /** Records reserved or committed since the last publish(). */
  get unpublishedRecords (): number {
    return this.#unpublishedRecords
  }

  /** Whether either side has closed the ring. */
  get closed (): boolean {
    return isRingClosed(this.memory)
  }

  /** Closes the ring; see closeRing(). */
  close (): void {
    closeRing(this.memory)
  }

  /**
   * Returns whether `size` bytes fit at the write position. When the record would cross the end of
   * the data region and the padding up to the end fits, this writes the padding (unpublished)
   * even if the record itself does not fit yet. See maxRecordBytes for why.
   */
  #prepareSpace (size: number): boolean {
    const contiguousBytes = this.capacity - (this.#writePosition & this.#mask)
    if (size > contiguousBytes) {
      if (!this.#hasFreeBytes(contiguousBytes)) return false
      writeRecordHeader(this.memory, CONTROL_BYTES + (this.#writePosition & this.#mask), contiguousBytes, RecordKind.PADDING)
      this.#writePosition = (this.#writePosition + contiguousBytes) | 0
    }
    return this.#hasFreeBytes(size)
  }

  /** Returns whether `size` bytes fit within SPIN_CHECKS loads of RELEASED; see SPIN_CHECKS. */
  #spinForSpace (size: number): boolean {
    this.publish()
    for (let i = 0; i < SPIN_CHECKS; i++) {
      const released = Atomics.load(this.#i32, Control.RELEASED)
      if (released !== this.#releasedPosition) {
        this.#releasedPosition = released
        if (this.#prepareSpace(size)) return true
        this.publish()
      }
    }
    return false
  }

  #hasFreeBytes (bytes: number): boolean {
    if (this.capacity - ((this.#writePosition - this.#releasedPosition) | 0) >= bytes) return true

    // The cached RELEASED can only be older than the shared one, so reload it before reporting
    // full. Acquire: the consumer's reads of the bytes it released finished before its store, so
    // overwriting them after this load cannot change what it read.
    this.#releasedPosition = Atomics.load(this.#i32, Control.RELEASED)
    return this.capacity - ((this.#writePosition - this.#releasedPosition) | 0) >= bytes
  }

  #reportFull (): number {
    // This thread is FULL_COUNT's only writer; the atomic store keeps metrics readers from seeing
    // a torn value and orders nothing.
    this.#fullCount = (this.#fullCount + 1) | 0
    Atomics.store(this.#i32, Control.FULL_COUNT, this.#fullCount)
    return RING_FULL
  }

  #recordSizeError (recordBytes: number): Error {
    if (recordBytes > this.maxRecordBytes) {
      return new TickbusError(
        ErrorCode.RECORD_TOO_LARGE,
        `Record of ${recordBytes} bytes exceeds the maximum record size of ${this.maxRecordBytes} bytes ` +
        '(the ring capacity). Raise ringCapacityBytes or make the event smaller.',
      )
    }
    return new RangeError(
      `Invalid record size ${String(recordBytes)}: a record is at least ${RECORD_HEADER_BYTES} bytes, ` +
      'the size of its header.',
    )
  }

  #spanSizeError (recordBytes: number): Error {
    if (this.#spanBytes === 0) {
      return new TickbusError(
        ErrorCode.RECORD_TOO_LARGE,
        `Record of ${String(recordBytes)} bytes committed without an open span. ` +
        'Call reserveSpan() before each commit().',
      )
    }
    if (recordBytes > this.#spanBytes) {
      return new TickbusError(
        ErrorCode.RECORD_TOO_LARGE,
        `Record of ${recordBytes} bytes exceeds the open span of ${this.#spanBytes} bytes. ` +
        'Call reserveSpan() with at least the record size before commit().',
      )
    }
    return new RangeError(
      `Invalid record size ${String(recordBytes)}: a record is at least ${RECORD_HEADER_BYTES} bytes, ` +
      'the size of its header.',
    )
  }
}

function noop (): void {}
