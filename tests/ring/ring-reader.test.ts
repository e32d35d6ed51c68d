import { describe, expect, it } from 'vitest'

import { CONTROL_BYTES, Control, RecordKind } from '../../src/ring/layout.js'
import { createRingMemory, type RingMemory } from '../../src/ring/memory.js'
import { createRingBuffer } from '../../src/ring/ring-buffer.js'
import { NO_RECORD, RingReader } from '../../src/ring/ring-reader.js'
import { RING_FULL, RingWriter } from '../../src/ring/ring-writer.js'

const CAPACITY = 1024

interface Ring {
  memory: RingMemory
  writer: RingWriter
  reader: RingReader
}

function createRing (): Ring {
  const memory = createRingMemory(createRingBuffer(CAPACITY))
  return { memory, writer: new RingWriter(memory), reader: new RingReader(memory) }
}

/** Writes `count` 64-byte records numbered from `first` in their first body word and publishes them. */
function publishNumbered (ring: Ring, first: number, count: number): void {
  for (let i = 0; i < count; i++) {
    const offset = ring.writer.reserve(64, RecordKind.EVENT)
    expect(offset).not.toBe(RING_FULL)
    ring.memory.u32[(offset + 48) >>> 2] = first + i
  }
  ring.writer.publish()
}

/** Returns the numbers of the next `limit` claimed records. */
function readNumbers (ring: Ring, limit: number): number[] {
  const numbers: number[] = []
  for (let n = 0; n < limit; n++) {
    const offset = ring.reader.nextRecord()
    if (offset === NO_RECORD) break
    numbers.push(ring.memory.u32[(offset + 48) >>> 2]!)
  }
  return numbers
}

describe('RingReader.claim', () => {
  it('returns the bytes newly published', () => {
    const ring = createRing()
    expect(ring.reader.claim()).toBe(0)
    publishNumbered(ring, 0, 3)
    expect(ring.reader.claim()).toBe(192)
    expect(ring.reader.claim()).toBe(0)
    publishNumbered(ring, 3, 1)
    expect(ring.reader.claim()).toBe(64)
  })

  it('keeps unread records for later ticks', () => {
    const ring = createRing()
    publishNumbered(ring, 0, 10)
    ring.reader.claim()
    expect(readNumbers(ring, 3)).toEqual([0, 1, 2])
    expect(ring.reader.unreadBytes).toBe(7 * 64)

    expect(ring.reader.claim()).toBe(0)
    expect(readNumbers(ring, 4)).toEqual([3, 4, 5, 6])
    publishNumbered(ring, 10, 2)
    expect(readNumbers(ring, 100)).toEqual([7, 8, 9])

    expect(ring.reader.claim()).toBe(128)
    expect(readNumbers(ring, 100)).toEqual([10, 11])
    expect(ring.reader.unreadBytes).toBe(0)
  })
})

describe('RingReader.nextRecord', () => {
  it('skips padding records', () => {
    const ring = createRing()
    publishNumbered(ring, 0, 15)
    ring.reader.claim()
    expect(readNumbers(ring, 100)).toHaveLength(15)
    ring.reader.release(ring.reader.mark())

    // 64 bytes left before the end: a 128-byte record pads them and starts at the front.
    const offset = ring.writer.reserve(128, RecordKind.EVENT)
    expect(offset).toBe(CONTROL_BYTES)
    ring.writer.publish()
    expect(ring.reader.claim()).toBe(64 + 128)
    expect(ring.reader.nextRecord()).toBe(CONTROL_BYTES)
    expect(ring.reader.nextRecord()).toBe(NO_RECORD)
  })

  it('returns NO_RECORD on an empty ring', () => {
    const ring = createRing()
    ring.reader.claim()
    expect(ring.reader.nextRecord()).toBe(NO_RECORD)
  })

  it('starts at the released position', () => {
    const ring = createRing()
    publishNumbered(ring, 0, 4)
    ring.reader.claim()
    readNumbers(ring, 1)
    ring.reader.release(ring.reader.mark())
    readNumbers(ring, 1)

    const restarted = new RingReader(ring.memory)
    restarted.claim()
    expect(restarted.mark()).toBe(64)
    expect(restarted.nextRecord()).toBe(CONTROL_BYTES + 64)
  })
})

describe('RingReader.rewind', () => {
  it('returns records again from a mark', () => {
    const ring = createRing()
    publishNumbered(ring, 0, 4)
    ring.reader.claim()
    readNumbers(ring, 1)
    const mark = ring.reader.mark()
    expect(readNumbers(ring, 2)).toEqual([1, 2])

    ring.reader.rewind(mark)
    expect(ring.reader.unreadBytes).toBe(3 * 64)
    expect(readNumbers(ring, 100)).toEqual([1, 2, 3])
  })

  it('rejects a position past the read cursor', () => {
    const ring = createRing()
    publishNumbered(ring, 0, 4)
    ring.reader.claim()
    readNumbers(ring, 1)
    expect(() => ring.reader.rewind(128)).toThrow(RangeError)
    expect(ring.reader.mark()).toBe(64)
  })

  it('rejects a position before the released one', () => {
    const ring = createRing()
    publishNumbered(ring, 0, 4)
    ring.reader.claim()
    readNumbers(ring, 2)
    ring.reader.release(64)
    expect(() => ring.reader.rewind(0)).toThrow('Invalid rewind position 0')
    expect(ring.reader.mark()).toBe(128)
  })
})

describe('RingReader.release', () => {
  it('frees space for the writer', () => {
    const ring = createRing()
    publishNumbered(ring, 0, 16)
    expect(ring.writer.reserve(64, RecordKind.EVENT)).toBe(RING_FULL)

    ring.reader.claim()
    readNumbers(ring, 2)
    ring.reader.release(ring.reader.mark())
    expect(Atomics.load(ring.memory.i32, Control.RELEASED)).toBe(128)
    expect(ring.writer.reserve(64, RecordKind.EVENT)).toBe(CONTROL_BYTES)
    expect(ring.writer.reserve(64, RecordKind.EVENT)).toBe(CONTROL_BYTES + 64)
    expect(ring.writer.reserve(64, RecordKind.EVENT)).toBe(RING_FULL)
  })

  it('keeps records of the previous tick', () => {
    const ring = createRing()
    let previousMark = ring.reader.mark()
    publishNumbered(ring, 0, 8)

    ring.reader.claim()
    expect(readNumbers(ring, 8)).toHaveLength(8)
    ring.reader.release(previousMark)
    previousMark = ring.reader.mark()
    expect(ring.reader.heldBytes).toBe(512)

    publishNumbered(ring, 8, 8)
    expect(ring.writer.reserve(64, RecordKind.EVENT)).toBe(RING_FULL)

    ring.reader.claim()
    expect(readNumbers(ring, 8)).toEqual([8, 9, 10, 11, 12, 13, 14, 15])
    ring.reader.release(previousMark)
    expect(ring.reader.heldBytes).toBe(512)
    expect(ring.writer.reserve(64, RecordKind.EVENT)).toBe(CONTROL_BYTES)
  })

  it('rejects a position past the read cursor', () => {
    const ring = createRing()
    publishNumbered(ring, 0, 4)
    ring.reader.claim()
    readNumbers(ring, 1)
    expect(() => ring.reader.release(128)).toThrow(RangeError)
    expect(() => ring.reader.release(128)).toThrow(
      'Invalid release position 128: it must lie between the released position 0 and the read cursor 64.',
    )
    expect(Atomics.load(ring.memory.i32, Control.RELEASED)).toBe(0)
  })

  it('rejects a position before the released one', () => {
    const ring = createRing()
    publishNumbered(ring, 0, 4)
    ring.reader.claim()
    readNumbers(ring, 2)
    ring.reader.release(128)
    expect(() => ring.reader.release(64)).toThrow(RangeError)
  })

  it('ignores the same position twice', () => {
    const ring = createRing()
    publishNumbered(ring, 0, 2)
    ring.reader.claim()
    readNumbers(ring, 2)
    ring.reader.release(128)
    ring.reader.release(128)
    expect(ring.reader.usedBytes).toBe(0)
  })
})

describe('RingReader figures', () => {
  it('report depth and counters', () => {
    const ring = createRing()
    publishNumbered(ring, 0, 16)
    ring.writer.reserve(64, RecordKind.EVENT)
    ring.reader.claim()
    readNumbers(ring, 5)
    ring.reader.release(ring.reader.mark())

    expect(ring.reader.usedBytes).toBe(11 * 64)
    expect(ring.reader.unreadBytes).toBe(11 * 64)
    expect(ring.reader.heldBytes).toBe(11 * 64)
    expect(ring.reader.recordsWritten).toBe(16)
    expect(ring.reader.fullCount).toBe(1)
    expect(ring.reader.producerWaiting).toBe(false)
    expect(ring.reader.closed).toBe(false)
  })
})
