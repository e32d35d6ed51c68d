import { describe, expect, it } from 'vitest'
import { defineEvent } from '../../src/schema/define-event.js'
import { t } from '../../src/schema/fields.js'

describe('body layout', () => {
  it('sorts 8-byte fields, slots, then smaller fields', () => {
    const Move = defineEvent('Move', {
      alive: t.bool(),
      playerId: t.u32(),
      name: t.string(),
      x: t.f32(),
      seq: t.i64(),
      kills: t.u16(),
      speed: t.f64(),
      avatar: t.bytes(),
      team: t.i8(),
    })
    const offsets = Object.fromEntries(Move.fields.map((field) => [field.name, field.offset]))
    expect(offsets).toEqual({
      seq: 0,
      speed: 8,
      name: 16,
      avatar: 24,
      playerId: 32,
      x: 36,
      kills: 40,
      alive: 42,
      team: 43,
    })
    expect(Move.layout.bitmapBytes).toBe(0)
    expect(Move.layout.fixedBytes).toBe(44)
    expect(Move.layout.minBodyBytes).toBe(48)
  })

  it('aligns every field to its size', () => {
    const Mixed = defineEvent('Mixed', {
      a: t.u8(), b: t.i16(), c: t.i32(), d: t.u64(), e: t.bool(), f: t.f32(), g: t.u16(), h: t.f64(), i: t.string(),
    })
    for (const field of Mixed.fields) {
      const alignment = field.kind === 'string' || field.kind === 'bytes' ? 4 : field.size
      expect(field.offset % alignment, field.name).toBe(0)
    }
  })

  it('keeps declaration order within a size group', () => {
    const Type = defineEvent('Order', { z: t.u32(), a: t.i32(), m: t.f32() })
    expect(Type.fields.map((field) => field.offset)).toEqual([0, 4, 8])
  })

  it('gives nullable scalars bitmap bits', () => {
    const Type = defineEvent('Nulls', {
      a: t.u8().nullable(),
      s: t.string().nullable(),
      b: t.i64().nullable(),
      c: t.bool(),
    })
    const [a, s, b, c] = Type.fields
    expect(a!.nullBit).toBe(0)
    expect(b!.nullBit).toBe(1)
    expect(s!.nullBit).toBe(-1)
    expect(c!.nullBit).toBe(-1)
    // b@0, s@8, a@16, c@17, bitmap@18
    expect(Type.layout.bitmapOffset).toBe(18)
    expect(Type.layout.bitmapBytes).toBe(1)
    expect(Type.layout.fixedBytes).toBe(19)
    expect(Type.layout.minBodyBytes).toBe(24)
  })

  it('uses one bitmap byte per 8 nullable fields', () => {
    const schema = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`f${i}`, t.u8().nullable()]))
    const Type = defineEvent('Nine', schema)
    expect(Type.layout.bitmapOffset).toBe(9)
    expect(Type.layout.bitmapBytes).toBe(2)
    expect(Type.fields[8]!.nullBit).toBe(8)
    expect(Type.layout.minBodyBytes).toBe(16)
  })

  it('is empty for an event without fields', () => {
    const Empty = defineEvent('Empty', {})
    expect(Empty.layout.fixedBytes).toBe(0)
    expect(Empty.layout.minBodyBytes).toBe(0)
  })

  it('signature changes with the layout', () => {
    const a = defineEvent('A', { x: t.u32(), y: t.f32() })
    const same = defineEvent('A', { x: t.u32(), y: t.f32() })
    const swapped = defineEvent('A', { y: t.f32(), x: t.u32() })
    const nullable = defineEvent('A', { x: t.u32().nullable(), y: t.f32() })
    expect(same.signature).toBe(a.signature)
    expect(swapped.signature).not.toBe(a.signature)
    expect(nullable.signature).not.toBe(a.signature)
  })
})
