import { describe, expect, it } from 'vitest'
import { ErrorCode, TickbusError } from '../../src/errors.js'
import { CONTROL_BYTES, NO_BYTES, RECORD_HEADER_BYTES } from '../../src/ring/layout.js'
import { defineEvent } from '../../src/schema/define-event.js'
import { t } from '../../src/schema/fields.js'
import { ASCII_LOOP_MAX_LENGTH } from '../../src/schema/utf8.js'
import { createViewContext } from '../../src/schema/view.js'
import { createTestMemory, writeTestHeader } from './record-fixture.js'

const RECORD = CONTROL_BYTES + 64
const BODY = RECORD + RECORD_HEADER_BYTES

const Move = defineEvent('Move', {
  playerId: t.u32(),
  x: t.f32(),
  name: t.string(),
  seq: t.i64(),
  avatar: t.bytes().nullable(),
})

function encodeError (encode: () => unknown): TickbusError {
  try {
    encode()
  } catch (error) {
    expect(error).toBeInstanceOf(TickbusError)
    expect((error as TickbusError).code).toBe(ErrorCode.ENCODE_FAILED)
    return error as TickbusError
  }
  throw new Error('expected encoding to throw')
}

describe('encodeInto', () => {
  it('writes fields at their layout offsets', () => {
    const memory = createTestMemory()
    const size = Move.encodeInto({ playerId: 7, x: 1.5, name: 'ab', seq: -2n, avatar: null }, memory, BODY, 1000)

    expect(size).toBe(Move.layout.minBodyBytes + 8)
    expect(memory.i64[(BODY + Move.field('seq')!.offset) >> 3]).toBe(-2n)
    expect(memory.u32[(BODY + Move.field('playerId')!.offset) >> 2]).toBe(7)
    expect(memory.f32[(BODY + Move.field('x')!.offset) >> 2]).toBe(1.5)

    const nameSlot = BODY + Move.field('name')!.offset
    expect(memory.u32[nameSlot >> 2]).toBe(Move.layout.fixedBytes)
    expect(memory.u32[(nameSlot + 4) >> 2]).toBe(2)
    expect(Buffer.from(memory.u8.subarray(BODY + Move.layout.fixedBytes, BODY + Move.layout.fixedBytes + 2)).toString()).toBe('ab')

    const avatarSlot = BODY + Move.field('avatar')!.offset
    expect(memory.u32[avatarSlot >> 2]).toBe(0)
    expect(memory.u32[(avatarSlot + 4) >> 2]).toBe(NO_BYTES)
  })

  it('returns a multiple of 8 and zeroes the padding', () => {
    const memory = createTestMemory()
    memory.u8.fill(0xee)
    const size = Move.encodeInto({ playerId: 1, x: 0, name: 'abc', seq: 0n, avatar: new Uint8Array([9]) }, memory, BODY, 1000)
    const end = Move.layout.fixedBytes + 4
    expect(size % 8).toBe(0)
    expect(size).toBeGreaterThanOrEqual(end)
    for (let i = end; i < size; i++) expect(memory.u8[BODY + i], `padding byte ${i}`).toBe(0)
    expect(memory.u8[BODY + size]).toBe(0xee)
  })

  it('equals measure', () => {
    const memory = createTestMemory()
    const events = [
      { playerId: 1, x: 0, name: '', seq: 0n, avatar: null },
      { playerId: 1, x: 0, name: 'é😀', seq: 0n, avatar: new Uint8Array(13) },
      { playerId: 1, x: 0, name: 'x'.repeat(100), seq: 0n },
    ]
    for (const event of events) {
      expect(Move.encodeInto(event, memory, BODY, 10_000)).toBe(Move.measure(event))
    }
  })

  it('returns minus the size needed when the body does not fit', () => {
    const memory = createTestMemory()
    const event = { playerId: 1, x: 0, name: 'hello world', seq: 0n, avatar: new Uint8Array(20) }
    const needed = Move.measure(event)
    expect(Move.encodeInto(event, memory, BODY, 0)).toBe(-needed)
    expect(Move.encodeInto(event, memory, BODY, Move.layout.minBodyBytes)).toBe(-needed)
    expect(Move.encodeInto(event, memory, BODY, Move.layout.fixedBytes + 11)).toBe(-needed)
    expect(Move.encodeInto(event, memory, BODY, needed - 1)).toBe(-needed)
    expect(Move.encodeInto(event, memory, BODY, needed)).toBe(needed)
  })

  it('sizes long and multi-byte strings exactly near the limit', () => {
    const memory = createTestMemory()
    const name = '😀'.repeat(40)
    const event = { playerId: 1, x: 0, name, seq: 0n }
    const needed = Move.measure(event)
    expect(needed).toBe(Move.layout.minBodyBytes + 160)
    expect(Move.encodeInto(event, memory, BODY, needed - 8)).toBe(-needed)
    expect(Move.encodeInto(event, memory, BODY, needed)).toBe(needed)
    const view = Move.createView(createViewContext({ devMode: false }))
    writeTestHeader(memory, RECORD, needed)
    expect(view.$bind(memory, RECORD, 1).name).toBe(name)
  })

  it('writes strings around the ASCII loop limit', () => {
    const memory = createTestMemory()
    const view = Move.createView(createViewContext({ devMode: false }))
    for (const length of [ASCII_LOOP_MAX_LENGTH - 1, ASCII_LOOP_MAX_LENGTH, ASCII_LOOP_MAX_LENGTH + 1]) {
      for (const name of ['a'.repeat(length), 'a'.repeat(length - 1) + 'é', 'é' + 'a'.repeat(length - 1)]) {
        const size = Move.encodeInto({ playerId: 1, x: 0, name, seq: 0n }, memory, BODY, 1000)
        expect(size).toBe(Move.measure({ playerId: 1, x: 0, name, seq: 0n }))
        writeTestHeader(memory, RECORD, size)
        expect(view.$bind(memory, RECORD, 1).name).toBe(name)
      }
    }
  })

  it('writes lone surrogates as U+FFFD', () => {
    const memory = createTestMemory()
    const event = { playerId: 1, x: 0, name: 'a\ud800b', seq: 0n }
    expect(Move.measure(event)).toBe(Move.layout.minBodyBytes + 8)
    const size = Move.encodeInto(event, memory, BODY, 1000)
    writeTestHeader(memory, RECORD, size)
    expect(Move.createView(createViewContext()).$bind(memory, RECORD, 1).name).toBe('a\ufffdb')
  })

  it('writes an event type without fields', () => {
    const Ping = defineEvent('Ping', {})
    expect(Ping.encodeInto({}, createTestMemory(), BODY, 0)).toBe(0)
  })

  it('rejects a string for a u32 field', () => {
    const error = encodeError(() => Move.encodeInto({ playerId: '5' as unknown as number, x: 0, name: '', seq: 0n }, createTestMemory(), BODY, 1000))
    expect(error.message).toBe('Cannot encode event Move: field playerId must be an integer from 0 to 4294967295, received "5".')
  })

  it('rejects out-of-range and fractional integers', () => {
    const memory = createTestMemory()
    for (const playerId of [-1, 2 ** 32, 1.5, NaN]) {
      const error = encodeError(() => Move.encodeInto({ playerId, x: 0, name: '', seq: 0n }, memory, BODY, 1000))
      expect(error.message).toContain('field playerId must be an integer from 0 to 4294967295')
      expect(error.message).toContain(`received ${String(playerId)}`)
    }
  })

  it('rejects a number for an i64 field', () => {
    const error = encodeError(() => Move.encodeInto({ playerId: 1, x: 0, name: '', seq: 5 as unknown as bigint }, createTestMemory(), BODY, 1000))
    expect(error.message).toContain('field seq must be a bigint from -9223372036854775808 to 9223372036854775807, received 5')
  })

  it('rejects an f32 value that overflows', () => {
    const error = encodeError(() => Move.encodeInto({ playerId: 1, x: 1e39, name: '', seq: 0n }, createTestMemory(), BODY, 1000))
    expect(error.message).toContain('field x must be a number within the f32 range')
  })

  it('rejects a missing non-nullable field', () => {
    const event = { playerId: 1, x: 0, seq: 0n } as unknown as { playerId: number, x: number, name: string, seq: bigint }
    const error = encodeError(() => Move.encodeInto(event, createTestMemory(), BODY, 1000))
    expect(error.message).toBe('Cannot encode event Move: field name is required, received undefined.')
  })

  it('rejects null for a non-nullable field', () => {
    const error = encodeError(() => Move.encodeInto({ playerId: null as unknown as number, x: 0, name: '', seq: 0n }, createTestMemory(), BODY, 1000))
    expect(error.message).toBe('Cannot encode event Move: field playerId is not nullable, received null.')
  })

  it('rejects a string for a bytes field', () => {
    const error = encodeError(() => Move.encodeInto({ playerId: 1, x: 0, name: '', seq: 0n, avatar: 'AQID' as unknown as Uint8Array }, createTestMemory(), BODY, 1000))
    expect(error.message).toContain('field avatar must be a Uint8Array, received "AQID"')
  })

  it('validates string fields when the body does not fit', () => {
    const error = encodeError(() => Move.encodeInto({ playerId: 1, x: 0, name: 5 as unknown as string, seq: 0n }, createTestMemory(), BODY, 0))
    expect(error.message).toContain('field name must be a string, received 5')
  })

  it('rejects a non-object event', () => {
    const error = encodeError(() => Move.encodeInto(null as unknown as { playerId: number, x: number, name: string, seq: bigint }, createTestMemory(), BODY, 1000))
    expect(error.message).toContain('the event must be an object, received null')
  })

  it('rejects a misaligned body offset', () => {
    const memory = createTestMemory()
    const event = { playerId: 1, x: 0, name: '', seq: 0n }
    for (const offset of [BODY + 4, -8, 8.5]) {
      expect(encodeError(() => Move.encodeInto(event, memory, offset, 1000)).message).toContain('bodyOffset must be a non-negative multiple of 8')
    }
  })
})

describe('measure', () => {
  it('counts UTF-8 bytes and rounds up to 8', () => {
    expect(Move.measure({ playerId: 1, x: 0, name: 'é', seq: 0n })).toBe(Move.layout.minBodyBytes + 8)
    expect(Move.measure({ playerId: 1, x: 0, name: '', seq: 0n, avatar: new Uint8Array(0) })).toBe(Move.layout.minBodyBytes)
  })

  it('rejects mistyped variable-length fields', () => {
    expect(encodeError(() => Move.measure({ playerId: 1, x: 0, name: [] as unknown as string, seq: 0n })).message).toContain('field name must be a string')
  })
})
