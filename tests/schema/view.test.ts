import { afterEach, describe, expect, it, vi } from 'vitest'
import { ErrorCode, TickbusError } from '../../src/errors.js'
import { CONTROL_BYTES, RECORD_HEADER_BYTES, RecordKind } from '../../src/ring/layout.js'
import { defineEvent, type EventInput } from '../../src/schema/define-event.js'
import { t, type EventSchema } from '../../src/schema/fields.js'
import { createViewContext, EventView, isDevMode } from '../../src/schema/view.js'
import { createTestMemory, writeTestHeader, type TestRecordHeader } from './record-fixture.js'

const RECORD = CONTROL_BYTES + 128

const AllKinds = defineEvent('AllKinds', {
  flag: t.bool(),
  i8: t.i8(),
  u8: t.u8(),
  i16: t.i16(),
  u16: t.u16(),
  i32: t.i32(),
  u32: t.u32(),
  i64: t.i64(),
  u64: t.u64(),
  f32: t.f32(),
  f64: t.f64(),
  text: t.string(),
  data: t.bytes(),
})

const NullableKinds = defineEvent('NullableKinds', {
  flag: t.bool().nullable(),
  i8: t.i8().nullable(),
  u16: t.u16().nullable(),
  i32: t.i32().nullable(),
  u64: t.u64().nullable(),
  f32: t.f32().nullable(),
  f64: t.f64().nullable(),
  text: t.string().nullable(),
  data: t.bytes().nullable(),
})

/** Writes `event` as a record at RECORD and returns a production-mode view bound to it. */
function writeAndView<S extends EventSchema> (type: ReturnType<typeof defineEvent<S>>, event: EventInput<S>, header: TestRecordHeader = {}) {
  const memory = createTestMemory()
  const size = type.encodeInto(event, memory, RECORD + RECORD_HEADER_BYTES, 4096)
  expect(size).toBeGreaterThanOrEqual(0)
  writeTestHeader(memory, RECORD, size, header)
  return type.createView(createViewContext({ devMode: false, topics: ['', 'moves'], groups: ['', 'game-server'] })).$bind(memory, RECORD, 1)
}

const minimums = {
  flag: false, i8: -128, u8: 0, i16: -32768, u16: 0, i32: -(2 ** 31), u32: 0,
  i64: -(2n ** 63n), u64: 0n, f32: -3.4028234663852886e38, f64: -Number.MAX_VALUE, text: '', data: new Uint8Array(0),
}
const maximums = {
  flag: true, i8: 127, u8: 255, i16: 32767, u16: 65535, i32: 2 ** 31 - 1, u32: 2 ** 32 - 1,
  i64: 2n ** 63n - 1n, u64: 2n ** 64n - 1n, f32: 3.4028234663852886e38, f64: Number.MAX_VALUE, text: '😀é\u0000x', data: new Uint8Array([0, 255, 1]),
}

describe('generated view getters', () => {
  it('read every kind at its minimum', () => {
    const view = writeAndView(AllKinds, minimums)
    for (const [name, value] of Object.entries(minimums)) expect(view[name as keyof typeof minimums], name).toEqual(value)
  })

  it('read every kind at its maximum', () => {
    const view = writeAndView(AllKinds, maximums)
    for (const [name, value] of Object.entries(maximums)) expect(view[name as keyof typeof maximums], name).toEqual(value)
  })

  it('read special float values', () => {
    for (const value of [NaN, Infinity, -Infinity, -0, Number.MIN_VALUE]) {
      const view = writeAndView(AllKinds, { ...minimums, f32: value, f64: value })
      expect(view.f64).toBe(value)
      expect(view.f32).toBe(Math.fround(value))
    }
  })

  it('round f32 values to single precision', () => {
    const view = writeAndView(AllKinds, { ...minimums, f32: 0.1 })
    expect(view.f32).toBe(Math.fround(0.1))
  })

  it('read -0 integers as 0', () => {
    const view = writeAndView(AllKinds, { ...minimums, i32: -0 })
    expect(Object.is(view.i32, 0)).toBe(true)
  })

  it('read null for every nullable kind', () => {
    const view = writeAndView(NullableKinds, {})
    for (const field of NullableKinds.fields) expect(view[field.name as keyof typeof NullableKinds.schema], field.name).toBeNull()
  })

  it('read zero values of nullable kinds as values', () => {
    const zeros = { flag: false, i8: 0, u16: 0, i32: 0, u64: 0n, f32: 0, f64: 0, text: '', data: new Uint8Array(0) }
    const view = writeAndView(NullableKinds, zeros)
    for (const [name, value] of Object.entries(zeros)) expect(view[name as keyof typeof zeros], name).toEqual(value)
  })

  it('mix null and non-null nullable fields', () => {
    const view = writeAndView(NullableKinds, { i8: -1, u64: null, text: 'x', data: null })
    expect(view.i8).toBe(-1)
    expect(view.u64).toBeNull()
    expect(view.text).toBe('x')
    expect(view.data).toBeNull()
    expect(view.flag).toBeNull()
  })

  it('return bytes as subarrays of shared memory', () => {
    const view = writeAndView(AllKinds, maximums)
    const data = view.data
    expect(data.buffer).toBeInstanceOf(SharedArrayBuffer)
    expect(data.length).toBe(3)
  })

  it('fieldBytes returns raw UTF-8', () => {
    const view = writeAndView(AllKinds, maximums)
    expect(Buffer.from(view.fieldBytes('text')!).toString('utf8')).toBe(maximums.text)
    expect(view.fieldBytes('data')).toEqual(maximums.data)
  })

  it('fieldBytes returns null for null fields', () => {
    const view = writeAndView(NullableKinds, {})
    expect(view.fieldBytes('text')).toBeNull()
    expect(view.fieldBytes('data')).toBeNull()
  })

  it('fieldBytes rejects scalar and unknown fields', () => {
    const view = writeAndView(AllKinds, maximums)
    for (const name of ['u32', 'missing']) {
      try {
        view.fieldBytes(name as 'text')
        expect.unreachable()
      } catch (error) {
        expect((error as TickbusError).code).toBe(ErrorCode.INVALID_SCHEMA)
        expect((error as TickbusError).message).toContain(`"${name}"`)
      }
    }
  })

  it('toObject copies every field', () => {
    const view = writeAndView(AllKinds, maximums)
    const copy = view.toObject()
    expect(copy).toEqual(maximums)
    expect(Object.keys(copy)).toEqual(AllKinds.fields.map((field) => field.name))
    expect(copy.data.buffer).toBeInstanceOf(ArrayBuffer)
    copy.data[0] = 99
    expect(view.data[0]).toBe(0)
  })

  it('toObject keeps nulls', () => {
    const view = writeAndView(NullableKinds, { i8: 3 })
    expect(view.toObject()).toEqual({ flag: null, i8: 3, u16: null, i32: null, u64: null, f32: null, f64: null, text: null, data: null })
  })

  it('$bind moves one view between records', () => {
    const memory = createTestMemory()
    const second = RECORD + 512
    for (const [offset, u32] of [[RECORD, 1], [second, 2]] as const) {
      const size = AllKinds.encodeInto({ ...minimums, u32 }, memory, offset + RECORD_HEADER_BYTES, 400)
      writeTestHeader(memory, offset, size)
    }
    const view = AllKinds.createView(createViewContext({ devMode: false }))
    expect(view.$bind(memory, RECORD, 1).u32).toBe(1)
    expect(view.$bind(memory, second, 1).u32).toBe(2)
  })
})

describe('view binding', () => {
  it('$bind switches between ring buffers', () => {
    const Named = defineEvent('Named', { name: t.string(), n: t.u8() })
    const view = Named.createView(createViewContext({ devMode: false }))
    const memories = ['first', 'second'].map((name, n) => {
      const memory = createTestMemory()
      const size = Named.encodeInto({ name, n }, memory, RECORD + RECORD_HEADER_BYTES, 400)
      writeTestHeader(memory, RECORD, size, { key: Buffer.from(name) })
      return memory
    })
    for (let round = 0; round < 2; round++) {
      expect(view.$bind(memories[0]!, RECORD, 1).name).toBe('first')
      expect(view.keyString).toBe('first')
      expect(view.$bind(memories[1]!, RECORD, 1).name).toBe('second')
      expect(view.n).toBe(1)
      expect(view.keyString).toBe('second')
    }
  })

  it('generated classes of one layout stay distinct', () => {
    const schema = { n: t.u8() }
    const First = defineEvent('a.b', schema)
    const Second = defineEvent('a_b', schema)
    const context = createViewContext({ devMode: false })
    expect(First.createView(context).constructor).not.toBe(Second.createView(context).constructor)
    expect(First.createView(context).constructor).toBe(First.createView(context).constructor)
  })
})

describe('view metadata', () => {
  const Ping = defineEvent('Ping', { n: t.u8() })

  it('reads the record header', () => {
    const view = writeAndView(Ping, { n: 1 }, { eventTypeId: 42, topic: 1, group: 1, partition: 7, offset: 2 ** 53 - 1, timestamp: 1_700_000_000_123 })
    expect(view.kind).toBe(RecordKind.EVENT)
    expect(view.eventTypeId).toBe(42)
    expect(view.topic).toBe('moves')
    expect(view.groupId).toBe('game-server')
    expect(view.partition).toBe(7)
    expect(view.offset).toBe(2 ** 53 - 1)
    expect(view.timestamp).toBe(1_700_000_000_123)
  })

  it('reads unknown partition, offset and timestamp as -1', () => {
    const view = writeAndView(Ping, { n: 1 })
    expect(view.partition).toBe(-1)
    expect(view.offset).toBe(-1)
    expect(view.timestamp).toBe(-1)
  })

  it('rejects a topic id outside the table', () => {
    const view = writeAndView(Ping, { n: 1 }, { topic: 9 })
    expect(() => view.topic).toThrow(expect.objectContaining({ code: ErrorCode.TOPOLOGY_MISMATCH, message: expect.stringContaining('topic id 9') }))
  })

  it('reads a null key', () => {
    const view = writeAndView(Ping, { n: 1 }, { key: null })
    expect(view.key).toBeNull()
    expect(view.keyString).toBeNull()
  })

  it('reads an empty key', () => {
    const view = writeAndView(Ping, { n: 1 }, { key: new Uint8Array(0) })
    expect(view.key).toEqual(new Uint8Array(0))
    expect(view.keyString).toBe('')
  })

  it('reads a UTF-8 key', () => {
    const view = writeAndView(Ping, { n: 1 }, { key: Buffer.from('player-😀') })
    expect(view.keyString).toBe('player-😀')
    expect(view.key!.buffer).toBeInstanceOf(SharedArrayBuffer)
    expect(Buffer.from(view.key!).toString()).toBe('player-😀')
  })

  it('decodes headers', () => {
    const view = writeAndView(Ping, { n: 1 }, {
      headers: [['trace', Buffer.from('abc')], ['empty', new Uint8Array(0)], ['ünï', Buffer.from('✓')], ['gone', null]],
    })
    expect({ ...view.headers }).toEqual({ trace: 'abc', empty: '', ünï: '✓' })
    expect(view.headers).toBe(view.headers)
  })

  it('reads no headers as an empty object', () => {
    const view = writeAndView(Ping, { n: 1 })
    expect(Object.keys(view.headers)).toEqual([])
    expect(view.headerBytes('trace')).toBeNull()
  })

  it('keeps the last of repeated headers', () => {
    const view = writeAndView(Ping, { n: 1 }, {
      headers: [['a', Buffer.from('1')], ['b', Buffer.from('x')], ['a', Buffer.from('2')], ['b', null]],
    })
    expect({ ...view.headers }).toEqual({ a: '2' })
    expect(Buffer.from(view.headerBytes('a')!).toString()).toBe('2')
    expect(view.headerBytes('b')).toBeNull()
  })

  it('stores a __proto__ header as a plain key', () => {
    const view = writeAndView(Ping, { n: 1 }, { headers: [['__proto__', Buffer.from('x')]] })
    expect(view.headers['__proto__']).toBe('x')
    expect(Object.getPrototypeOf(view.headers)).toBeNull()
  })

  it('headerBytes matches names exactly', () => {
    const view = writeAndView(Ping, { n: 1 }, {
      headers: [['é', Buffer.from('two-byte')], ['Ã©', Buffer.from('latin1 lookalike')], ['ab', Buffer.from('ascii')]],
    })
    expect(Buffer.from(view.headerBytes('é')!).toString()).toBe('two-byte')
    expect(Buffer.from(view.headerBytes('Ã©')!).toString()).toBe('latin1 lookalike')
    expect(Buffer.from(view.headerBytes('ab')!).toString()).toBe('ascii')
    expect(view.headerBytes('a')).toBeNull()
    expect(view.headerBytes('abc')).toBeNull()
    expect(view.headerBytes('AB')).toBeNull()
  })

  it('refreshes headers after $bind', () => {
    const memory = createTestMemory()
    const second = RECORD + 512
    for (const [offset, value] of [[RECORD, 'one'], [second, 'two']] as const) {
      const size = Ping.encodeInto({ n: 1 }, memory, offset + RECORD_HEADER_BYTES, 400)
      writeTestHeader(memory, offset, size, { headers: [['h', Buffer.from(value)]] })
    }
    const view = Ping.createView(createViewContext({ devMode: false }))
    expect(view.$bind(memory, RECORD, 1).headers['h']).toBe('one')
    expect(view.$bind(memory, second, 1).headers['h']).toBe('two')
  })

  it('base EventView reads metadata of any record', () => {
    const memory = createTestMemory()
    writeTestHeader(memory, RECORD, 0, { kind: RecordKind.DECODE_ERROR, partition: 3 })
    const view = new EventView(createViewContext({ devMode: true })).$bind(memory, RECORD, 1)
    expect(view.kind).toBe(RecordKind.DECODE_ERROR)
    expect(view.partition).toBe(3)
    expect(view.toObject()).toEqual({})
  })
})

describe('development mode', () => {
  const Ping = defineEvent('Ping', { n: t.u8(), s: t.string() })

  function setUp () {
    const memory = createTestMemory()
    const size = Ping.encodeInto({ n: 5, s: 'x' }, memory, RECORD + RECORD_HEADER_BYTES, 400)
    writeTestHeader(memory, RECORD, size)
    const context = createViewContext({ devMode: true })
    return { memory, context, view: Ping.createView(context) }
  }

  function expectReleased (read: () => unknown, member: string): TickbusError {
    try {
      read()
    } catch (error) {
      expect((error as TickbusError).code).toBe(ErrorCode.VIEW_RELEASED)
      expect((error as TickbusError).message).toContain(`Ping.${member}`)
      return error as TickbusError
    }
    throw new Error(`expected reading ${member} to throw`)
  }

  it('reads while the generation is held', () => {
    const { memory, context, view } = setUp()
    view.$bind(memory, RECORD, 3)
    context.releasedGeneration = 2
    expect(view.n).toBe(5)
    expect(view.s).toBe('x')
    expect(view.partition).toBe(-1)
  })

  it('throws VIEW_RELEASED after release', () => {
    const { memory, context, view } = setUp()
    view.$bind(memory, RECORD, 3)
    context.releasedGeneration = 3
    const error = expectReleased(() => view.n, 'n')
    expect(error.message).toContain('generation 3')
    expect(error.message).toContain('toObject()')
    expectReleased(() => view.s, 's')
    expectReleased(() => view.toObject(), 'n')
    expectReleased(() => view.topic, 'topic')
    expectReleased(() => view.offset, 'offset')
    expectReleased(() => view.key, 'key')
    expectReleased(() => view.headers, 'headers')
    expectReleased(() => view.headerBytes('a'), 'headerBytes')
    expectReleased(() => view.fieldBytes('s'), 's')
  })

  it('keeps an old view released after rebinding another', () => {
    const { memory, context } = setUp()
    const kept = Ping.createView(context).$bind(memory, RECORD, 1)
    const current = Ping.createView(context).$bind(memory, RECORD, 2)
    context.releasedGeneration = 1
    expect(current.n).toBe(5)
    expectReleased(() => kept.n, 'n')
  })

  it('throws VIEW_RELEASED for an unbound view', () => {
    const { view } = setUp()
    expect(expectReleased(() => view.n, 'n').message).toContain('not bound')
  })

  it('production views do not check', () => {
    const memory = createTestMemory()
    const size = Ping.encodeInto({ n: 5, s: 'x' }, memory, RECORD + RECORD_HEADER_BYTES, 400)
    writeTestHeader(memory, RECORD, size)
    const context = createViewContext({ devMode: false })
    const view = Ping.createView(context).$bind(memory, RECORD, 1)
    context.releasedGeneration = 5
    expect(view.n).toBe(5)
  })

  it('production views fail on unbound reads', () => {
    const view = Ping.createView(createViewContext({ devMode: false }))
    expect(() => view.n).toThrow(TypeError)
  })
})

describe('isDevMode', () => {
  afterEach(() => {
    vi.unstubAllEnvs()
  })

  it('follows the option', () => {
    vi.stubEnv('TICKBUS_DEV', '1')
    expect(isDevMode(false)).toBe(false)
    vi.stubEnv('TICKBUS_DEV', '')
    expect(isDevMode(true)).toBe(true)
  })

  it('falls back to TICKBUS_DEV=1', () => {
    vi.stubEnv('TICKBUS_DEV', '1')
    expect(isDevMode()).toBe(true)
    expect(createViewContext().devMode).toBe(true)
  })

  it('is off for other TICKBUS_DEV values', () => {
    for (const value of ['', '0', 'true', 'yes']) {
      vi.stubEnv('TICKBUS_DEV', value)
      expect(isDevMode(), value).toBe(false)
    }
  })
})
