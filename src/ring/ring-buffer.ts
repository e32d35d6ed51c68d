import { invalidOption } from '../errors.js'
import { CONTROL_BYTES, Control, MAX_RING_CAPACITY_BYTES, MIN_RING_CAPACITY_BYTES } from './layout.js'
import type { RingMemory } from './memory.js'

/**
 * Throws an INVALID_OPTION TickbusError naming `optionPath` unless `capacityBytes` is a power of
 * two from MIN_RING_CAPACITY_BYTES to MAX_RING_CAPACITY_BYTES. Positions wrap at 2^32 and a data
 * index is `position & (capacity - 1)`, which is only correct for such a capacity.
 */
export function validateRingCapacity (capacityBytes: unknown, optionPath = 'ringCapacityBytes'): number {
  if (!isRingCapacity(capacityBytes)) {
    throw invalidOption(
      optionPath,
      `must be a power of two from ${MIN_RING_CAPACITY_BYTES} to ${MAX_RING_CAPACITY_BYTES} bytes`,
      capacityBytes,
    )
  }
  return capacityBytes
}

/**
 * Allocates a ring: CONTROL_BYTES of control words followed by `capacityBytes` of data, all zero,
 * so both positions start at 0 and the ring is empty. Main thread or worker; allocates once.
 * Throws INVALID_OPTION (naming `optionPath`) for an invalid capacity.
 */
export function createRingBuffer (capacityBytes: number, optionPath = 'ringCapacityBytes'): SharedArrayBuffer {
  validateRingCapacity(capacityBytes, optionPath)
  return new SharedArrayBuffer(CONTROL_BYTES + capacityBytes)
}

/**
 * Throws a RangeError unless `memory` wraps a buffer made by createRingBuffer(). Called by the
 * RingWriter and RingReader constructors.
 */
export function assertRingMemory (memory: RingMemory): void {
  if (!isRingCapacity(memory.capacity)) {
    throw new RangeError(
      `Invalid ring buffer of ${memory.buffer.byteLength} bytes: its data capacity of ${memory.capacity} bytes ` +
      `is not a power of two from ${MIN_RING_CAPACITY_BYTES} to ${MAX_RING_CAPACITY_BYTES}. ` +
      'Allocate the buffer with createRingBuffer().',
    )
  }
}

function isRingCapacity (value: unknown): value is number {
  return typeof value === 'number' &&
    Number.isInteger(value) &&
    value >= MIN_RING_CAPACITY_BYTES &&
    value <= MAX_RING_CAPACITY_BYTES &&
    (value & (value - 1)) === 0
}

/*
 * Figures read from the control words by any thread, for depth gauges and metrics. Each is one
 * or two Atomics.load calls and allocates nothing. A figure may be stale by the time the caller
 * uses it, because the other side keeps moving; none of them orders record memory.
 */

/**
 * Returns the bytes published and not yet released, padding included, from 0 to the capacity. RELEASED is
 * read first because it never passes PUBLISHED, so the difference cannot go negative when both
 * move between the two loads. It can then exceed the capacity, and is clamped to it.
 */
export function readRingUsedBytes (memory: RingMemory): number {
  const released = Atomics.load(memory.i32, Control.RELEASED)
  const published = Atomics.load(memory.i32, Control.PUBLISHED)
  return Math.min((published - released) >>> 0, memory.capacity)
}

/** Returns the records published since the ring was created (padding excluded), wrapping at 2^32. */
export function readRingRecordsWritten (memory: RingMemory): number {
  return Atomics.load(memory.i32, Control.RECORDS_WRITTEN) >>> 0
}

/** Returns the count of reserve calls that found the ring full, wrapping at 2^32. */
export function readRingFullCount (memory: RingMemory): number {
  return Atomics.load(memory.i32, Control.FULL_COUNT) >>> 0
}

/** Returns whether the producer is waiting in RingWriter.waitForSpace() right now. */
export function isRingProducerWaiting (memory: RingMemory): boolean {
  return Atomics.load(memory.i32, Control.WAITING) !== 0
}

/** Returns whether either side has closed the ring. */
export function isRingClosed (memory: RingMemory): boolean {
  return Atomics.load(memory.i32, Control.CLOSED) !== 0
}

/**
 * Marks the ring closed and wakes a producer waiting in waitForSpace(), which then resolves false.
 * Either side may call it; it does not stop reserve() or nextRecord(), so records already
 * published can still be drained.
 */
export function closeRing (memory: RingMemory): void {
  Atomics.store(memory.i32, Control.CLOSED, 1)

  // The producer sleeps on the RELEASED slot, so the wake-up goes there; it rechecks CLOSED
  // before sleeping again.
  Atomics.notify(memory.i32, Control.RELEASED)
}
