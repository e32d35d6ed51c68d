import { endianness } from 'node:os'
import { describe, expect, it } from 'vitest'

import { CONTROL_BYTES, Header, NO_BYTES, RecordFlag, RecordKind } from '../../src/ring/layout.js'
import { createRingMemory } from '../../src/ring/memory.js'
import {
  readRecordEventType,
  readRecordFlags,
  readRecordGroup,
  readRecordHeadersLength,
  readRecordHeadersOffset,
  readRecordKafkaOffset,
  readRecordKeyLength,
  readRecordKeyOffset,
  readRecordKind,
  readRecordLength,
  readRecordPartition,
  readRecordTimestamp,
  readRecordTopic,
  writeRecordEventType,
  writeRecordFlags,
  writeRecordHeader,
  writeRecordHeadersSpan,
  writeRecordKeySpan,
  writeRecordSource,
} from '../../src/ring/record-header.js'
import { createRingBuffer } from '../../src/ring/ring-buffer.js'

const littleEndian = endianness() === 'LE'
const offset = CONTROL_BYTES + 64

describe('record header', () => {
  it('round-trips every field', () => {
    const memory = createRingMemory(createRingBuffer(1024))
    writeRecordHeader(memory, offset, 96, RecordKind.EVENT)
    writeRecordFlags(memory, offset, RecordFlag.BATCH_END)
    writeRecordEventType(memory, offset, 0xfffe)
    writeRecordSource(memory, offset, 65000, 12, -1, 2 ** 53 - 1, 1_700_000_000_123)
    writeRecordKeySpan(memory, offset, 0, NO_BYTES)
    writeRecordHeadersSpan(memory, offset, 72, 20)

    expect(readRecordLength(memory, offset)).toBe(96)
    expect(readRecordKind(memory, offset)).toBe(RecordKind.EVENT)
    expect(readRecordFlags(memory, offset)).toBe(RecordFlag.BATCH_END)
    expect(readRecordEventType(memory, offset)).toBe(0xfffe)
    expect(readRecordTopic(memory, offset)).toBe(65000)
    expect(readRecordGroup(memory, offset)).toBe(12)
    expect(readRecordPartition(memory, offset)).toBe(-1)
    expect(readRecordKafkaOffset(memory, offset)).toBe(2 ** 53 - 1)
    expect(readRecordTimestamp(memory, offset)).toBe(1_700_000_000_123)
    expect(readRecordKeyOffset(memory, offset)).toBe(0)
    expect(readRecordKeyLength(memory, offset)).toBe(NO_BYTES)
    expect(readRecordHeadersOffset(memory, offset)).toBe(72)
    expect(readRecordHeadersLength(memory, offset)).toBe(20)
  })

  it('places fields at the layout offsets', () => {
    const memory = createRingMemory(createRingBuffer(1024))
    writeRecordHeader(memory, offset, 104, RecordKind.DECODE_ERROR)
    writeRecordFlags(memory, offset, 0x81)
    writeRecordEventType(memory, offset, 0x1234)
    writeRecordSource(memory, offset, 0x2345, 0x3456, -7, 123456789, -1)
    writeRecordKeySpan(memory, offset, 48, 5)
    writeRecordHeadersSpan(memory, offset, 56, 9)

    const view = memory.view
    expect(view.getUint32(offset + Header.LENGTH, littleEndian)).toBe(104)
    expect(view.getUint8(offset + Header.KIND)).toBe(RecordKind.DECODE_ERROR)
    expect(view.getUint8(offset + Header.FLAGS)).toBe(0x81)
    expect(view.getUint16(offset + Header.EVENT_TYPE, littleEndian)).toBe(0x1234)
    expect(view.getUint16(offset + Header.TOPIC, littleEndian)).toBe(0x2345)
    expect(view.getUint16(offset + Header.GROUP, littleEndian)).toBe(0x3456)
    expect(view.getInt32(offset + Header.PARTITION, littleEndian)).toBe(-7)
    expect(view.getFloat64(offset + Header.OFFSET, littleEndian)).toBe(123456789)
    expect(view.getFloat64(offset + Header.TIMESTAMP, littleEndian)).toBe(-1)
    expect(view.getUint32(offset + Header.KEY_OFFSET, littleEndian)).toBe(48)
    expect(view.getUint32(offset + Header.KEY_LENGTH, littleEndian)).toBe(5)
    expect(view.getUint32(offset + Header.HEADERS_OFFSET, littleEndian)).toBe(56)
    expect(view.getUint32(offset + Header.HEADERS_LENGTH, littleEndian)).toBe(9)
  })

  it('writeRecordHeader clears flags and event type', () => {
    const memory = createRingMemory(createRingBuffer(1024))
    writeRecordFlags(memory, offset, RecordFlag.BATCH_END)
    writeRecordEventType(memory, offset, 77)
    writeRecordHeader(memory, offset, 48, RecordKind.BUS_ERROR)
    expect(readRecordFlags(memory, offset)).toBe(0)
    expect(readRecordEventType(memory, offset)).toBe(0)
    expect(readRecordKind(memory, offset)).toBe(RecordKind.BUS_ERROR)
  })

  it('writeRecordHeader touches only the first 8 bytes', () => {
    const memory = createRingMemory(createRingBuffer(1024))
    memory.u8.fill(0xee, offset - 8, offset + 24)
    writeRecordHeader(memory, offset, 8, RecordKind.PADDING)
    expect([...memory.u8.subarray(offset - 8, offset)]).toEqual(new Array(8).fill(0xee))
    expect([...memory.u8.subarray(offset + 8, offset + 24)]).toEqual(new Array(16).fill(0xee))
  })
})
