import { CONTROL_BYTES, Control, Header, RecordKind } from './layout.js'
import type { RingMemory } from './memory.js'
import {
  assertRingMemory,
  closeRing,
  isRingClosed,
  isRingProducerWaiting,
  readRingFullCount,
  readRingRecordsWritten,
  readRingUsedBytes,
} from './ring-buffer.js'

/** Returned by RingReader.nextRecord() when no claimed record is left. */
export const NO_RECORD = -1

/**
 * Consumer side of a single-producer single-consumer ring of variable-length records.
 *
 * The reader keeps three positions, in wrapping order released <= cursor <= claimed:
 * - claimed: the PUBLISHED value loaded by the last claim(); nothing past it is read.
 * - cursor: the start of the next record nextRecord() returns; mark() returns it.
 * - released: the last position passed to release(); the producer may overwrite bytes before it.
 * Records between released and cursor have been handed out and stay intact until released, so a
 * tick can keep reading the records of earlier ticks and release them later.
 *
 * Concurrency contract:
 * - One RingReader per ring, used from one thread (the main thread's tick). It alone writes
 *   RELEASED.
 * - It loads PUBLISHED, which the producer writes, only in claim(). A stale value only leaves
 *   records for a later claim; published records are never lost.
 * - claim(), nextRecord(), mark() and release() never allocate. release() throws RangeError only
 *   for a position outside released..cursor, which would hand unread records to the producer.
 *
 * Usage, records living until the next tick:
 *
 *   reader.claim()
 *   for (let n = 0; n < maxEventsPerFrame; n++) {
 *     const offset = reader.nextRecord()
 *     if (offset === NO_RECORD) break
 *     // read the record at `offset` (record-header.ts and the event codecs)
 *   }
 *   reader.release(previousMark)
 *   previousMark = reader.mark()
 */
export class RingReader {
  readonly memory: RingMemory
  /** Data capacity in bytes. */
  readonly capacity: number

  readonly #u8: Uint8Array
  readonly #u32: Uint32Array
  readonly #i32: Int32Array
  readonly #mask: number
  #claimedPosition: number
  #cursor: number
  #releasedPosition: number

  /**
   * Wraps a ring for reading. A reader made for a ring that already contains records starts at
   * RELEASED, so records published but not released are read again.
   * Throws RangeError when `memory` does not wrap a buffer made by createRingBuffer().
   */
  constructor (memory: RingMemory) {
    assertRingMemory(memory)
    this.memory = memory
    this.capacity = memory.capacity
    this.#u8 = memory.u8
    this.#u32 = memory.u32
    this.#i32 = memory.i32
    this.#mask = memory.capacity - 1
    this.#releasedPosition = Atomics.load(memory.i32, Control.RELEASED)
    this.#cursor = this.#releasedPosition
    this.#claimedPosition = this.#releasedPosition
  }

  /**
   * Claims every record published so far and returns the number of bytes newly claimed (padding
   * included; 0 when nothing is new). Claimed records stay claimed until nextRecord() returns them,
   * across any number of claim() calls.
   */
  claim (): number {
    // Acquire: pairs with the producer's store in publish(), so the bytes of every record before
    // the loaded position are visible to the plain reads in nextRecord() and the codecs.
    const published = Atomics.load(this.#i32, Control.PUBLISHED)
    const claimedBytes = (published - this.#claimedPosition) | 0
    this.#claimedPosition = published
    return claimedBytes
  }

  /**
   * Returns the absolute byte offset of the next claimed record and moves the cursor past it, or
   * NO_RECORD when every claimed record was returned. Padding records are skipped.
   */
  nextRecord (): number {
    while (this.#cursor !== this.#claimedPosition) {
      const offset = CONTROL_BYTES + (this.#cursor & this.#mask)
      // Only RingWriter writes lengths, always a non-zero multiple of RECORD_ALIGN, so the loop
      // advances and lands exactly on the claimed position.
      this.#cursor = (this.#cursor + this.#u32[(offset + Header.LENGTH) >>> 2]) | 0
      if (this.#u8[offset + Header.KIND] !== RecordKind.PADDING) return offset
    }
    return NO_RECORD
  }

  /**
   * The read cursor: the position after the last record nextRecord() returned, for release(). Like
   * every position here it is the int32 bit pattern of the uint32 counter (see RingWriter), so
   * treat it as an opaque value.
   */
  mark (): number {
    return this.#cursor
  }

  /**
   * Moves the read cursor back to `position`, a mark() taken after the last release, so that the
   * records from there on are returned again by nextRecord(). The bus uses it to leave a record
   * that a per-tick limit excludes for the next tick. Allocates nothing.
   * Throws RangeError for a position outside released..cursor.
   */
  rewind (position: number): void {
    const target = position | 0
    const back = (this.#cursor - target) | 0
    if (back < 0 || ((target - this.#releasedPosition) | 0) < 0) {
      throw new RangeError(
        `Invalid rewind position ${position >>> 0}: it must lie between the released position ` +
        `${this.#releasedPosition >>> 0} and the read cursor ${this.#cursor >>> 0}. Pass a value returned by mark().`,
      )
    }
    this.#cursor = target
  }

  /**
   * Hands the bytes before `position` back to the producer: one store of RELEASED, then a wake-up
   * when the producer waits for space. `position` is a value from mark() that is not older than
   * the previous release; releasing the same position again does nothing.
   * Throws RangeError for a position outside released..cursor.
   */
  release (position: number): void {
    const target = position | 0
    if (target === this.#releasedPosition) return
    const releasedBytes = (target - this.#releasedPosition) | 0
    if (releasedBytes < 0 || releasedBytes > ((this.#cursor - this.#releasedPosition) | 0)) {
      throw new RangeError(
        `Invalid release position ${position >>> 0}: it must lie between the released position ` +
        `${this.#releasedPosition >>> 0} and the read cursor ${this.#cursor >>> 0}. Pass a value returned by mark().`,
      )
    }
    this.#releasedPosition = target

    // Release: this thread's reads of every record before `target` are ordered before the store,
    // so the producer, which loads RELEASED before it writes, cannot overwrite a record mid-read.
    Atomics.store(this.#i32, Control.RELEASED, target)

    // The producer stores WAITING before it loads RELEASED, and this thread stores RELEASED
    // before it loads WAITING. With sequentially consistent Atomics at least one side observes
    // the other's store, so a producer about to sleep either loads the new RELEASED or gets
    // notified.
    // Loading WAITING first skips the cost of notify() when nobody waits.
    if (Atomics.load(this.#i32, Control.WAITING) !== 0) Atomics.notify(this.#i32, Control.RELEASED)
  }

  /** Claimed bytes the cursor has not passed yet, padding included. */
  get unreadBytes (): number {
    return (this.#claimedPosition - this.#cursor) | 0
  }

  /** Bytes not yet handed back to the producer: from the last release() to the claimed bound. */
  get heldBytes (): number {
    return (this.#claimedPosition - this.#releasedPosition) | 0
  }

  /** Bytes published and not yet released, from the control words; see readRingUsedBytes(). */
  get usedBytes (): number {
    return readRingUsedBytes(this.memory)
  }

  /** Records published since the ring was created, wrapping at 2^32. */
  get recordsWritten (): number {
    return readRingRecordsWritten(this.memory)
  }

  /** Producer reserve calls that found the ring full, wrapping at 2^32. */
  get fullCount (): number {
    return readRingFullCount(this.memory)
  }

  /** Whether the producer waits for space right now. */
  get producerWaiting (): boolean {
    return isRingProducerWaiting(this.memory)
  }

  /** Whether either side has closed the ring. */
  get closed (): boolean {
    return isRingClosed(this.memory)
  }

  /** Closes the ring; see closeRing(). */
  close (): void {
    closeRing(this.memory)
  }
}
