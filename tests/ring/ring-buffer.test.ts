import { describe, expect, it } from 'vitest'

import { ErrorCode, TickbusError } from '../../src/errors.js'
import { CONTROL_BYTES, Control, MAX_RING_CAPACITY_BYTES, MIN_RING_CAPACITY_BYTES } from '../../src/ring/layout.js'
import { createRingMemory } from '../../src/ring/memory.js'
import {
  closeRing,
  createRingBuffer,
  isRingClosed,
  readRingUsedBytes,
  validateRingCapacity,
} from '../../src/ring/ring-buffer.js'
import { RingReader } from '../../src/ring/ring-reader.js'
import { RingWriter } from '../../src/ring/ring-writer.js'

function catchError (action: () => unknown): unknown {
  try {
    action()
  } catch (error) {
    return error
  }
  throw new Error('expected the call to throw')
}

describe('createRingBuffer', () => {
  it('adds the control region to the capacity', () => {
    const buffer = createRingBuffer(4096)
    expect(buffer).toBeInstanceOf(SharedArrayBuffer)
    expect(buffer.byteLength).toBe(CONTROL_BYTES + 4096)
  })

  it('accepts the smallest and largest capacity', () => {
    expect(validateRingCapacity(MIN_RING_CAPACITY_BYTES)).toBe(MIN_RING_CAPACITY_BYTES)
    expect(validateRingCapacity(MAX_RING_CAPACITY_BYTES)).toBe(MAX_RING_CAPACITY_BYTES)
  })

  it.each([
    ['not a power of two', 3000],
    ['below the minimum', MIN_RING_CAPACITY_BYTES / 2],
    ['above the maximum', MAX_RING_CAPACITY_BYTES * 2],
    ['zero', 0],
    ['negative', -4096],
    ['fractional', 4096.5],
    ['NaN', Number.NaN],
    ['a string', '4096'],
  ])('rejects a capacity %s', (_case, value) => {
    const error = catchError(() => createRingBuffer(value as number))
    expect(error).toBeInstanceOf(TickbusError)
    expect((error as TickbusError).code).toBe(ErrorCode.INVALID_OPTION)
    expect((error as TickbusError).option).toBe('ringCapacityBytes')
    const message = (error as TickbusError).message
    expect(message).toContain('ringCapacityBytes')
    expect(message).toContain(`power of two from ${MIN_RING_CAPACITY_BYTES} to ${MAX_RING_CAPACITY_BYTES} bytes`)
    expect(message).toContain(`received ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`)
  })

  it('names the option path given by the caller', () => {
    const error = catchError(() => createRingBuffer(1000, 'workers.ringCapacityBytes'))
    expect((error as TickbusError).option).toBe('workers.ringCapacityBytes')
    expect((error as TickbusError).message).toContain('workers.ringCapacityBytes')
  })
})

describe('ring constructors', () => {
  it('reject a buffer not made by createRingBuffer', () => {
    const memory = createRingMemory(new SharedArrayBuffer(CONTROL_BYTES + 3000))
    expect(() => new RingWriter(memory)).toThrow(RangeError)
    expect(() => new RingReader(memory)).toThrow(/createRingBuffer/)
  })
})

describe('ring control figures', () => {
  it('used bytes follow publish and release', () => {
    const memory = createRingMemory(createRingBuffer(1024))
    Atomics.store(memory.i32, Control.PUBLISHED, 640)
    Atomics.store(memory.i32, Control.RELEASED, 128)
    expect(readRingUsedBytes(memory)).toBe(512)
  })

  it('used bytes stay correct across 2^32', () => {
    const memory = createRingMemory(createRingBuffer(1024))
    Atomics.store(memory.i32, Control.PUBLISHED, 64)
    Atomics.store(memory.i32, Control.RELEASED, (2 ** 32 - 64) | 0)
    expect(readRingUsedBytes(memory)).toBe(128)
  })

  it('closeRing sets the closed flag', () => {
    const memory = createRingMemory(createRingBuffer(1024))
    expect(isRingClosed(memory)).toBe(false)
    closeRing(memory)
    expect(isRingClosed(memory)).toBe(true)
  })
})
