import { describe, expect, it } from 'vitest'

import { createEventWriter } from '../../src/bus/event-writer.js'
import { createProducerControl, ProducerSlot, WaitState } from '../../src/bus/producer-control.js'
import { ErrorCode } from '../../src/errors.js'
import { Header, RecordKind } from '../../src/ring/layout.js'
import { createRingMemory } from '../../src/ring/memory.js'
import { createRingBuffer } from '../../src/ring/ring-buffer.js'
import { NO_RECORD, RingReader } from '../../src/ring/ring-reader.js'
import { defineEvent } from '../../src/schema/define-event.js'
import { t } from '../../src/schema/fields.js'
import { createViewContext } from '../../src/schema/view.js'
import { createTopology } from '../../src/topology/builder.js'

const Move = defineEvent('Move', { playerId: t.u32(), x: t.f32(), name: t.string(), avatar: t.bytes().nullable() })
const Score = defineEvent('Score', { points: t.i64() })
const Unbound = defineEvent('Unbound', { id: t.u8() })
const Stray = defineEvent('Stray', { id: t.u8() })

const topology = createTopology()
  .topic('moves', { partitions: 4 })
  .topic('scores-a', { partitions: 1 })
  .topic('scores-b', { partitions: 1 })
  .bind('moves', Move)
  .bind('scores-a', Score)
  .bind('scores-b', Score)
  .event(Unbound)
  .build()

function setup (capacityBytes = 4096) {
  const ring = createRingBuffer(capacityBytes)
  const control = createProducerControl()
  const writer = createEventWriter({ topology, ring, control })
  const memory = createRingMemory(ring)
  const reader = new RingReader(memory)
  const context = createViewContext({ topics: ['', ...topology.topics.map((topic) => topic.name)], devMode: false })
  return { writer, memory, reader, context, control }
}

/** Deterministic PRNG (mulberry32), so a failing sequence can be replayed. */
function createRandom (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let value = state
    value = Math.imul(value ^ (value >>> 15), value | 1)
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61)
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296
  }
}

describe('EventWriter', () => {
  it('writes fields, key, headers and routing into the record', () => {
    const { writer, memory, reader, context } = setup()
    const avatar = new Uint8Array([1, 2, 3])
    expect(writer.write(Move, { playerId: 7, x: 1.5, name: 'ann', avatar }, {
      key: 'player-7',
      headers: { source: 'tick', raw: new Uint8Array([0xff, 0]) },
      partition: 2,
      timestamp: 1_700_000_000_000,
    })).toBe(true)
    writer.publish()

    reader.claim()
    const offset = reader.nextRecord()
    expect(memory.u8[offset + Header.KIND]).toBe(RecordKind.EVENT)
    const view = Move.createView(context).$bind(memory, offset, 1)
    expect(view.toObject()).toEqual({ playerId: 7, x: 1.5, name: 'ann', avatar })
    expect(view.topic).toBe('moves')
    expect(view.partition).toBe(2)
    expect(view.offset).toBe(0)
    expect(view.timestamp).toBe(1_700_000_000_000)
    expect(view.keyString).toBe('player-7')
    expect(view.headers).toEqual({ source: 'tick', raw: '\uFFFD\u0000' })
    expect([...view.headerBytes('raw')!]).toEqual([0xff, 0])
    expect(reader.nextRecord()).toBe(NO_RECORD)
  })

  it('uses defaults without options', () => {
    const { writer, memory, reader, context } = setup()
    writer.write(Move, { playerId: 1, x: 0, name: '' })
    writer.write(Move, { playerId: 2, x: 0, name: 'b' })
    writer.publish()

    reader.claim()
    const view = Move.createView(context)
    view.$bind(memory, reader.nextRecord(), 1)
    expect(view.topic).toBe('moves')
    expect(view.partition).toBe(-1)
    expect(view.timestamp).toBe(-1)
    expect(view.key).toBeNull()
    expect(view.headers).toEqual({})
    expect(view.avatar).toBeNull()
    view.$bind(memory, reader.nextRecord(), 1)
    expect(view.offset).toBe(1)
    expect(writer.written).toBe(2)
  })

  it('returns false when the ring is full', () => {
    const { writer, reader } = setup(1024)
    let accepted = 0
    while (writer.write(Move, { playerId: accepted, x: 0, name: 'a fairly long name' })) accepted++

    expect(accepted).toBeGreaterThan(5)
    expect(writer.write(Move, { playerId: 0, x: 0, name: 'again' })).toBe(false)
    expect(writer.rejected).toBe(2)
    expect(writer.takeRejected()).toBe(2)
    expect(writer.takeRejected()).toBe(0)
    expect(writer.written).toBe(accepted)
    // The writer publishes and tries again before it reports full, so the ring counts more.
    expect(reader.fullCount).toBeGreaterThanOrEqual(2)

    reader.claim()
    while (reader.nextRecord() !== NO_RECORD);
    reader.release(reader.mark())
    expect(writer.write(Move, { playerId: 0, x: 0, name: 'after release' })).toBe(true)
  })

  it('keeps sequence order across many ring laps', () => {
    const { writer, memory, reader, context } = setup(1024)
    const random = createRandom(42)
    const view = Move.createView(context)
    let written = 0
    let read = 0
    while (read < 5000) {
      const name = 'n'.repeat(Math.floor(random() * 120))
      const key = random() < 0.5 ? `k${written}` : undefined
      if (writer.write(Move, { playerId: written, x: written / 4, name }, key === undefined ? undefined : { key })) written++
      if (random() < 0.3) {
        writer.publish()
        reader.claim()
        for (let offset = reader.nextRecord(); offset !== NO_RECORD; offset = reader.nextRecord()) {
          view.$bind(memory, offset, 1)
          expect(view.offset).toBe(read)
          expect(view.playerId).toBe(read)
          expect(view.x).toBe(read / 4)
          read++
        }
        reader.release(reader.mark())
      }
    }
    expect(writer.rejected).toBeGreaterThan(0)
  })

  it('publishes at once to an idle worker', () => {
    const { writer, reader, control } = setup()
    writer.write(Move, { playerId: 1, x: 0, name: '' })
    expect(reader.claim()).toBe(0)

    // No thread waits here, so the notify wakes no thread; the record is published all the same.
    Atomics.store(new Int32Array(control), ProducerSlot.WAIT_EPOCH, (1 << 2) | WaitState.IDLE)
    writer.write(Move, { playerId: 2, x: 0, name: '' })
    expect(reader.claim()).toBeGreaterThan(0)
  })

  it('stores empty headers as none', () => {
    const { writer, memory, reader, context } = setup()
    writer.write(Move, { playerId: 1, x: 0, name: 'a' }, { headers: {} })
    writer.write(Move, { playerId: 2, x: 0, name: 'b' })
    writer.publish()

    reader.claim()
    const view = Move.createView(context)
    view.$bind(memory, reader.nextRecord(), 1)
    expect(view.headers).toEqual({})
    view.$bind(memory, reader.nextRecord(), 1)
    expect(view.playerId).toBe(2)
  })

  it('publishes in batches to a lingering worker', () => {
    const { writer, reader, control } = setup(64 * 1024)
    Atomics.store(new Int32Array(control), ProducerSlot.WAIT_EPOCH, (2 << 2) | WaitState.SLEEPING)
    for (let i = 0; i < 63; i++) writer.write(Move, { playerId: i, x: 0, name: '' })
    expect(reader.claim()).toBe(0)

    writer.write(Move, { playerId: 63, x: 0, name: '' })
    expect(reader.claim()).toBeGreaterThan(0)
  })

  it('publishes before it reports full', () => {
    const { writer, reader } = setup(1024)
    let accepted = 0
    while (writer.write(Move, { playerId: accepted, x: 0, name: '' })) accepted++
    reader.claim()
    let count = 0
    while (reader.nextRecord() !== NO_RECORD) count++
    expect(count).toBe(accepted)
  })

  it('rejects misuse with the option named', () => {
    const { writer } = setup()
    const cases: Array<{ name: string, write: () => unknown, code: string, parts: string[] }> = [
      { name: 'type outside topology', write: () => writer.write(Stray, { id: 1 }), code: ErrorCode.INVALID_OPTION, parts: ['write(eventType)', 'Stray'] },
      { name: 'ambiguous topic', write: () => writer.write(Score, { points: 1n }), code: ErrorCode.INVALID_OPTION, parts: ['write options.topic', 'scores-a, scores-b'] },
      { name: 'unbound type', write: () => writer.write(Unbound, { id: 1 }), code: ErrorCode.INVALID_OPTION, parts: ['no topic of the topology binds event type Unbound'] },
      { name: 'unknown topic', write: () => writer.write(Move, { playerId: 1, x: 0, name: '' }, { topic: 'nope' }), code: ErrorCode.INVALID_OPTION, parts: ['"nope"', 'moves, scores-a, scores-b'] },
      { name: 'partition out of range', write: () => writer.write(Move, { playerId: 1, x: 0, name: '' }, { partition: 4 }), code: ErrorCode.INVALID_OPTION, parts: ['from 0 to 3', 'received 4'] },
      { name: 'key of wrong type', write: () => writer.write(Move, { playerId: 1, x: 0, name: '' }, { key: 5 as never }), code: ErrorCode.INVALID_OPTION, parts: ['write options.key', 'received 5'] },
      { name: 'header of wrong type', write: () => writer.write(Move, { playerId: 1, x: 0, name: '' }, { headers: { a: 1 as never } }), code: ErrorCode.INVALID_OPTION, parts: ['write options.headers["a"]'] },
      { name: 'negative timestamp', write: () => writer.write(Move, { playerId: 1, x: 0, name: '' }, { timestamp: -5 }), code: ErrorCode.INVALID_OPTION, parts: ['write options.timestamp'] },
      { name: 'field out of range', write: () => writer.write(Move, { playerId: -1, x: 0, name: '' }), code: ErrorCode.ENCODE_FAILED, parts: ['playerId', 'received -1'] },
      { name: 'missing field', write: () => writer.write(Move, { playerId: 1, x: 0 } as never), code: ErrorCode.ENCODE_FAILED, parts: ['name is required'] },
    ]
    for (const testCase of cases) {
      let caught: unknown
      try {
        testCase.write()
      } catch (error) {
        caught = error
      }
      expect(caught, testCase.name).toMatchObject({ code: testCase.code })
      for (const part of testCase.parts) expect((caught as Error).message, testCase.name).toContain(part)
    }
    expect(writer.written).toBe(0)
    expect(writer.write(Score, { points: 5n }, { topic: 'scores-b' })).toBe(true)
  })

  it('rejects an event type whose fields differ from the topology', () => {
    const { writer } = setup()
    const OtherMove = defineEvent('Move', { playerId: t.u16() })
    expect(() => writer.write(OtherMove, { playerId: 1 })).toThrow(expect.objectContaining({ code: ErrorCode.TOPOLOGY_MISMATCH }))
  })

  it('throws NOT_RUNNING after close', () => {
    const { writer } = setup()
    writer.close()
    expect(() => writer.write(Move, { playerId: 1, x: 0, name: '' })).toThrow(expect.objectContaining({ code: ErrorCode.NOT_RUNNING }))
  })
})
