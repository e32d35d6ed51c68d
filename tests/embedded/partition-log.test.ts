import { describe, expect, it } from 'vitest'

import { PartitionLog, recordBytes } from '../../src/backends/embedded/partition-log.js'

const UNLIMITED = { maxRecords: Number.POSITIVE_INFINITY, maxAgeMs: Number.POSITIVE_INFINITY }

function value (text: string): { timestamp: number, key: null, value: Uint8Array, headers: [] } {
  return { timestamp: 1000, key: null, value: Buffer.from(text), headers: [] }
}

describe('embedded partition log', () => {
  it('assigns consecutive offsets from 0', () => {
    const log = new PartitionLog(UNLIMITED)
    expect(log.append(value('a'), 0)).toBe(0)
    expect(log.append(value('b'), 0)).toBe(1)
    expect(log.logStartOffset).toBe(0)
    expect(log.endOffset).toBe(2)
    const read = log.read(0, 10, 1024, true)
    expect(read.records.map((record) => record.offset)).toEqual([0, 1])
    expect(read.nextOffset).toBe(2)
  })

  it('reads nothing at the end offset', () => {
    const log = new PartitionLog(UNLIMITED)
    log.append(value('a'), 0)
    const read = log.read(1, 10, 1024, true)
    expect(read.records).toEqual([])
    expect(read.nextOffset).toBe(1)
  })

  it('rejects offsets outside the log', () => {
    const log = new PartitionLog({ maxRecords: 2, maxAgeMs: Number.POSITIVE_INFINITY })
    for (let i = 0; i < 5; i++) log.append(value(`r${i}`), 0)
    expect(() => log.read(2, 10, 1024, true)).toThrow(RangeError)
    expect(() => log.read(6, 10, 1024, true)).toThrow(RangeError)
  })

  it('limits a read by records and bytes', () => {
    const log = new PartitionLog(UNLIMITED)
    for (let i = 0; i < 10; i++) log.append(value('0123456789'), 0)
    expect(log.read(0, 3, 1024, true).records).toHaveLength(3)
    expect(log.read(0, 10, 25, true).records).toHaveLength(2)
    expect(log.read(0, 10, 25, true).bytes).toBe(20)
  })

  it('returns an oversized first record alone', () => {
    const log = new PartitionLog(UNLIMITED)
    log.append(value('x'.repeat(100)), 0)
    log.append(value('y'), 0)
    expect(log.read(0, 10, 10, true).records.map((record) => record.offset)).toEqual([0])
    expect(log.read(0, 10, 10, false).records).toEqual([])
  })

  it('keeps at most maxRecords', () => {
    const log = new PartitionLog({ maxRecords: 3, maxAgeMs: Number.POSITIVE_INFINITY })
    for (let i = 0; i < 5000; i++) log.append(value(`r${i}`), 0)
    expect(log.size).toBe(3)
    expect(log.logStartOffset).toBe(4997)
    expect(log.endOffset).toBe(5000)
    expect(log.read(4997, 10, 1024, true).records.map((record) => Buffer.from(record.value!).toString())).toEqual(['r4997', 'r4998', 'r4999'])
  })

  it('removes records older than maxAgeMs as a prefix', () => {
    const log = new PartitionLog({ maxRecords: Number.POSITIVE_INFINITY, maxAgeMs: 1000 })
    log.append({ ...value('old'), timestamp: 100 }, 100)
    log.append({ ...value('new'), timestamp: 2000 }, 2000)
    // Older than the record before it, so it stays until that one expires.
    log.append({ ...value('late'), timestamp: 50 }, 2000)
    expect(log.logStartOffset).toBe(1)
    log.applyRetention(3001)
    expect(log.logStartOffset).toBe(3)
    expect(log.size).toBe(0)
    expect(log.endOffset).toBe(3)
  })

  it('counts key, value and header bytes', () => {
    expect(recordBytes({ offset: 0, timestamp: 0, key: Buffer.from('ab'), value: Buffer.from('cde'), headers: [['ü', Buffer.from('f')], ['g', null]] })).toBe(2 + 3 + 2 + 1 + 1)
  })
})
