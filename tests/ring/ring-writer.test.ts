import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'

import { ErrorCode, TickbusError } from '../../src/errors.js'
import { CONTROL_BYTES, Control, RECORD_HEADER_BYTES, RecordFlag, RecordKind } from '../../src/ring/layout.js'
import { createRingMemory, type RingMemory } from '../../src/ring/memory.js'
import {
  readRecordEventType,
  readRecordFlags,
  readRecordKind,
  readRecordLength,
  writeRecordEventType,
  writeRecordFlags,
} from '../../src/ring/record-header.js'
import { createRingBuffer, isRingProducerWaiting, readRingFullCount, readRingRecordsWritten } from '../../src/ring/ring-buffer.js'
import { NO_RECORD, RingReader } from '../../src/ring/ring-reader.js'
import { RING_FULL, RingWriter } from '../../src/ring/ring-writer.js'

const CAPACITY = 1024

interface Ring {
  memory: RingMemory
  writer: RingWriter
  reader: RingReader
}

function createRing (startPosition = 0): Ring {
  const memory = createRingMemory(createRingBuffer(CAPACITY))
  Atomics.store(memory.i32, Control.PUBLISHED, startPosition | 0)
  Atomics.store(memory.i32, Control.RELEASED, startPosition | 0)
  return { memory, writer: new RingWriter(memory), reader: new RingReader(memory) }
}

/** Writes `count` records of `bytes` each, publishes them, reads them all and releases them. */
function passRecords (ring: Ring, count: number, bytes: number): void {
  for (let i = 0; i < count; i++) expect(ring.writer.reserve(bytes, RecordKind.EVENT)).not.toBe(RING_FULL)
  ring.writer.publish()
  ring.reader.claim()
  while (ring.reader.nextRecord() !== NO_RECORD);
  ring.reader.release(ring.reader.mark())
}

function catchError (action: () => unknown): unknown {
  try {
    action()
  } catch (error) {
    return error
  }
  throw new Error('expected the call to throw')
}

describe('RingWriter.reserve', () => {
  it('returns consecutive aligned offsets', () => {
    const { writer } = createRing()
    expect(writer.reserve(48, RecordKind.EVENT)).toBe(CONTROL_BYTES)
    expect(writer.reserve(50, RecordKind.EVENT)).toBe(CONTROL_BYTES + 48)
    expect(writer.reserve(64, RecordKind.EVENT)).toBe(CONTROL_BYTES + 48 + 56)
  })

  it('writes length and kind and clears flags', () => {
    const { memory, writer } = createRing()
    const stale = CONTROL_BYTES
    writeRecordFlags(memory, stale, RecordFlag.BATCH_END)
    writeRecordEventType(memory, stale, 99)

    const offset = writer.reserve(61, RecordKind.DECODE_ERROR)
    expect(offset).toBe(stale)
    expect(readRecordLength(memory, offset)).toBe(64)
    expect(readRecordKind(memory, offset)).toBe(RecordKind.DECODE_ERROR)
    expect(readRecordFlags(memory, offset)).toBe(0)
    expect(readRecordEventType(memory, offset)).toBe(0)
  })

  it('pads to the end and wraps', () => {
    const ring = createRing()
    passRecords(ring, 7, 128)

    const offset = ring.writer.reserve(192, RecordKind.EVENT)
    expect(offset).toBe(CONTROL_BYTES)
    const paddingOffset = CONTROL_BYTES + 7 * 128
    expect(readRecordKind(ring.memory, paddingOffset)).toBe(RecordKind.PADDING)
    expect(readRecordLength(ring.memory, paddingOffset)).toBe(128)

    ring.writer.publish()
    expect(ring.reader.claim()).toBe(128 + 192)
    expect(ring.reader.nextRecord()).toBe(CONTROL_BYTES)
    expect(ring.reader.nextRecord()).toBe(NO_RECORD)
  })

  it('fills up to the end without padding', () => {
    const ring = createRing()
    passRecords(ring, 7, 128)
    expect(ring.writer.reserve(128, RecordKind.EVENT)).toBe(CONTROL_BYTES + 7 * 128)
    expect(ring.writer.reserve(48, RecordKind.EVENT)).toBe(CONTROL_BYTES)
  })

  it('returns RING_FULL when the ring is full', () => {
    const { memory, writer } = createRing()
    for (let i = 0; i < 8; i++) expect(writer.reserve(128, RecordKind.EVENT)).not.toBe(RING_FULL)
    expect(writer.reserve(48, RecordKind.EVENT)).toBe(RING_FULL)
    expect(writer.reserve(48, RecordKind.EVENT)).toBe(RING_FULL)
    expect(readRingFullCount(memory)).toBe(2)
  })

  it('counts unreleased records as full', () => {
    const ring = createRing()
    for (let i = 0; i < 8; i++) ring.writer.reserve(128, RecordKind.EVENT)
    ring.writer.publish()
    ring.reader.claim()
    ring.reader.nextRecord()
    expect(ring.writer.reserve(48, RecordKind.EVENT)).toBe(RING_FULL)

    ring.reader.release(ring.reader.mark())
    expect(ring.writer.reserve(128, RecordKind.EVENT)).toBe(CONTROL_BYTES)
    expect(ring.writer.reserve(48, RecordKind.EVENT)).toBe(RING_FULL)
  })

  it('leaves no padding when the padding does not fit', () => {
    const ring = createRing()
    // Data index 512 released in the previous lap, write position at data index 256 of this lap:
    // 256 bytes free, 768 bytes up to the end.
    passRecords(ring, 4, 128)
    for (let i = 0; i < 6; i++) ring.writer.reserve(128, RecordKind.EVENT)
    ring.writer.publish()
    expect(ring.writer.freeBytes).toBe(256)
    const lengthBefore = readRecordLength(ring.memory, CONTROL_BYTES + 256)

    expect(ring.writer.reserve(800, RecordKind.EVENT)).toBe(RING_FULL)
    expect(readRecordLength(ring.memory, CONTROL_BYTES + 256)).toBe(lengthBefore)
    expect(ring.writer.reserve(256, RecordKind.EVENT)).toBe(CONTROL_BYTES + 256)
  })

  it('accepts a record of the whole capacity', () => {
    const ring = createRing()
    expect(ring.writer.maxRecordBytes).toBe(CAPACITY)
    expect(ring.writer.reserve(CAPACITY, RecordKind.EVENT)).toBe(CONTROL_BYTES)
  })

  it('pads first for a full-capacity record mid-ring', () => {
    const ring = createRing()
    passRecords(ring, 1, 128)

    expect(ring.writer.reserve(CAPACITY, RecordKind.EVENT)).toBe(RING_FULL)
    expect(readRecordKind(ring.memory, CONTROL_BYTES + 128)).toBe(RecordKind.PADDING)
    expect(readRecordLength(ring.memory, CONTROL_BYTES + 128)).toBe(CAPACITY - 128)

    ring.writer.publish()
    ring.reader.claim()
    expect(ring.reader.nextRecord()).toBe(NO_RECORD)
    ring.reader.release(ring.reader.mark())
    expect(ring.writer.reserve(CAPACITY, RecordKind.EVENT)).toBe(CONTROL_BYTES)
  })

  it('rejects a record above the maximum', () => {
    const { writer } = createRing()
    const error = catchError(() => writer.reserve(CAPACITY + 1, RecordKind.EVENT))
    expect(error).toBeInstanceOf(TickbusError)
    expect((error as TickbusError).code).toBe(ErrorCode.RECORD_TOO_LARGE)
    expect((error as TickbusError).message).toBe(
      `Record of ${CAPACITY + 1} bytes exceeds the maximum record size of ${CAPACITY} bytes (the ring capacity). ` +
      'Raise ringCapacityBytes or make the event smaller.',
    )
  })

  it.each([RECORD_HEADER_BYTES - 1, 0, -8, Number.NaN])('rejects a record of %s bytes', (bytes) => {
    const { writer } = createRing()
    expect(() => writer.reserve(bytes, RecordKind.EVENT)).toThrow(RangeError)
    expect(() => writer.reserve(bytes, RecordKind.EVENT)).toThrow(`at least ${RECORD_HEADER_BYTES} bytes`)
  })

  it('wraps positions past 2^32', () => {
    const start = 2 ** 32 - 512
    const ring = createRing(start)
    for (let i = 0; i < 12; i++) {
      const offset = ring.writer.reserve(128, RecordKind.EVENT)
      expect(offset).toBe(CONTROL_BYTES + ((start + i * 128) % CAPACITY))
      ring.writer.publish()
      expect(ring.reader.claim()).toBe(128)
      expect(ring.reader.nextRecord()).toBe(offset)
      ring.reader.release(ring.reader.mark())
    }
    expect(ring.reader.mark()).toBe(12 * 128 - 512)
    expect(ring.reader.usedBytes).toBe(0)
  })

  it('pads across 2^32', () => {
    const ring = createRing(2 ** 32 - 64)
    expect(ring.writer.reserve(128, RecordKind.EVENT)).toBe(CONTROL_BYTES)
    expect(readRecordLength(ring.memory, CONTROL_BYTES + CAPACITY - 64)).toBe(64)
    ring.writer.publish()
    expect(Atomics.load(ring.memory.i32, Control.PUBLISHED)).toBe(128)
    expect(ring.reader.claim()).toBe(192)
    expect(ring.reader.nextRecord()).toBe(CONTROL_BYTES)
    expect(ring.reader.mark()).toBe(128)
  })
})

describe('RingWriter.publish', () => {
  it('hides records until published', () => {
    const { memory, writer, reader } = createRing()
    writer.reserve(64, RecordKind.EVENT)
    writer.reserve(64, RecordKind.EVENT)
    expect(writer.unpublishedRecords).toBe(2)
    expect(reader.claim()).toBe(0)
    expect(reader.nextRecord()).toBe(NO_RECORD)

    writer.publish()
    expect(writer.unpublishedRecords).toBe(0)
    expect(Atomics.load(memory.i32, Control.PUBLISHED)).toBe(128)
    expect(readRingRecordsWritten(memory)).toBe(2)
    expect(reader.claim()).toBe(128)
  })

  it('does not count padding as a record', () => {
    const ring = createRing()
    passRecords(ring, 7, 128)
    ring.writer.reserve(192, RecordKind.EVENT)
    ring.writer.publish()
    expect(readRingRecordsWritten(ring.memory)).toBe(8)
  })

  it('reports the write position', () => {
    const ring = createRing(2 ** 32 - 64)
    expect(ring.writer.writePosition).toBe(-64)
    ring.writer.reserve(64, RecordKind.EVENT)
    expect(ring.writer.writePosition).toBe(0)
    ring.writer.reserve(64, RecordKind.EVENT)
    expect(ring.writer.writePosition).toBe(64)
  })

  it('resumes after the last published record', () => {
    const { memory, writer } = createRing()
    writer.reserve(64, RecordKind.EVENT)
    writer.publish()
    writer.reserve(64, RecordKind.EVENT)
    const resumed = new RingWriter(memory)
    expect(resumed.reserve(48, RecordKind.EVENT)).toBe(CONTROL_BYTES + 64)
  })
})

describe('RingWriter.reserveSpan', () => {
  it('spans up to the end of the data region', () => {
    const { memory, writer, reader } = createRing()
    const offset = writer.reserveSpan(100)
    expect(offset).toBe(CONTROL_BYTES)
    expect(writer.spanBytes).toBe(CAPACITY)

    writer.commit(70, RecordKind.EVENT)
    expect(writer.spanBytes).toBe(0)
    expect(readRecordLength(memory, offset)).toBe(72)
    expect(readRecordKind(memory, offset)).toBe(RecordKind.EVENT)
    expect(writer.reserveSpan(48)).toBe(CONTROL_BYTES + 72)
    expect(writer.spanBytes).toBe(CAPACITY - 72)

    writer.publish()
    expect(reader.claim()).toBe(72)
  })

  it('spans up to the released position', () => {
    const ring = createRing()
    passRecords(ring, 6, 128)
    for (let i = 0; i < 6; i++) ring.writer.reserve(128, RecordKind.EVENT)
    // Write position at data index 512 of the next lap, released at data index 768.
    expect(ring.writer.reserveSpan(48)).toBe(CONTROL_BYTES + 512)
    expect(ring.writer.spanBytes).toBe(256)
  })

  it('pads and wraps for a span that does not fit before the end', () => {
    const ring = createRing()
    passRecords(ring, 7, 128)
    expect(ring.writer.reserveSpan(129)).toBe(CONTROL_BYTES)
    expect(readRecordKind(ring.memory, CONTROL_BYTES + 7 * 128)).toBe(RecordKind.PADDING)
    expect(ring.writer.spanBytes).toBe(CAPACITY - 128)
  })

  it('returns RING_FULL and closes the span when full', () => {
    const { writer } = createRing()
    for (let i = 0; i < 8; i++) writer.reserve(128, RecordKind.EVENT)
    expect(writer.reserveSpan(48)).toBe(RING_FULL)
    expect(writer.spanBytes).toBe(0)
  })

  it('rejects a commit larger than the span', () => {
    const { writer } = createRing()
    for (let i = 0; i < 7; i++) writer.reserve(128, RecordKind.EVENT)
    writer.reserveSpan(64)
    const error = catchError(() => writer.commit(129, RecordKind.EVENT))
    expect((error as TickbusError).code).toBe(ErrorCode.RECORD_TOO_LARGE)
    expect((error as TickbusError).message).toContain('Record of 129 bytes exceeds the open span of 128 bytes')
  })

  it('rejects a commit without a span', () => {
    const { writer } = createRing()
    const error = catchError(() => writer.commit(64, RecordKind.EVENT))
    expect((error as TickbusError).code).toBe(ErrorCode.RECORD_TOO_LARGE)
    expect((error as TickbusError).message).toContain('without an open span')

    writer.reserveSpan(64)
    writer.commit(64, RecordKind.EVENT)
    expect(() => writer.commit(64, RecordKind.EVENT)).toThrow('without an open span')
  })
})

describe('RingWriter.waitForSpace', () => {
  function fillRing (ring: Ring): void {
    for (let i = 0; i < 8; i++) ring.writer.reserve(128, RecordKind.EVENT)
  }

  it('resolves true at once when the record fits', async () => {
    const { writer } = createRing()
    await expect(writer.waitForSpace(CAPACITY)).resolves.toBe(true)
  })

  it('resolves true after a release', async () => {
    const ring = createRing()
    fillRing(ring)
    const waiting = ring.writer.waitForSpace(200, 5000)

    // The pending records were published before the wait, so the reader can see them.
    expect(ring.reader.claim()).toBe(CAPACITY)
    expect(isRingProducerWaiting(ring.memory)).toBe(true)
    ring.reader.nextRecord()
    ring.reader.release(ring.reader.mark())
    await sleep(5)
    expect(isRingProducerWaiting(ring.memory)).toBe(true)

    ring.reader.nextRecord()
    ring.reader.release(ring.reader.mark())
    await expect(waiting).resolves.toBe(true)
    expect(isRingProducerWaiting(ring.memory)).toBe(false)
    expect(ring.writer.reserve(200, RecordKind.EVENT)).toBe(CONTROL_BYTES)
  })

  it('resolves false on timeout', async () => {
    const ring = createRing()
    fillRing(ring)
    const startedAt = performance.now()
    await expect(ring.writer.waitForSpace(48, 30)).resolves.toBe(false)
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(25)
    expect(isRingProducerWaiting(ring.memory)).toBe(false)
  })

  it('resolves false when the ring closes', async () => {
    const ring = createRing()
    fillRing(ring)
    const waiting = ring.writer.waitForSpace(48, 5000)
    await sleep(5)
    ring.reader.close()
    await expect(waiting).resolves.toBe(false)
    await expect(ring.writer.waitForSpace(48)).resolves.toBe(false)
  })

  it('rejects a record above the maximum', async () => {
    const { writer } = createRing()
    await expect(writer.waitForSpace(CAPACITY + 8)).rejects.toThrow(TickbusError)
  })
})
