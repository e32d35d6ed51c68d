import { describe, expect, it } from 'vitest'
import { F32_OVERFLOW_THRESHOLD, FieldKind, isValidFieldValue, t } from '../../src/schema/fields.js'

describe('field builders', () => {
  it('declare non-nullable fields', () => {
    const field = t.u32()
    expect(field.kind).toBe('u32')
    expect(field.isNullable).toBe(false)
  })

  it('nullable() returns a nullable copy', () => {
    const field = t.u32()
    const nullable = field.nullable()
    expect(nullable.kind).toBe('u32')
    expect(nullable.isNullable).toBe(true)
    expect(field.isNullable).toBe(false)
  })

  it('cover every kind', () => {
    const kinds = Object.values(t).map((build) => build().kind).sort()
    expect(kinds).toEqual(Object.values(FieldKind).sort())
  })
})

describe('isValidFieldValue', () => {
  const cases: Array<[FieldKind, unknown[], unknown[]]> = [
    ['bool', [true, false], [0, 1, 'true', null]],
    ['i8', [-128, 127, 0, -0], [-129, 128, 1.5, '1', NaN, 1n, true]],
    ['u8', [0, 255], [-1, 256, 0.5, '0']],
    ['i16', [-32768, 32767], [-32769, 32768]],
    ['u16', [0, 65535], [-1, 65536]],
    ['i32', [-(2 ** 31), 2 ** 31 - 1], [-(2 ** 31) - 1, 2 ** 31, Infinity]],
    ['u32', [0, 2 ** 32 - 1], [-1, 2 ** 32, 2 ** 32 + 0.5]],
    ['i64', [-(2n ** 63n), 2n ** 63n - 1n, 0n], [-(2n ** 63n) - 1n, 2n ** 63n, 5, '5']],
    ['u64', [0n, 2n ** 64n - 1n], [-1n, 2n ** 64n, 1]],
    ['f32', [0, -0, NaN, Infinity, -Infinity, 3.4028234663852886e38, F32_OVERFLOW_THRESHOLD - 2 ** 80], [F32_OVERFLOW_THRESHOLD, -F32_OVERFLOW_THRESHOLD, 1e39, '1', 1n]],
    ['f64', [0, -0, NaN, Infinity, Number.MAX_VALUE, -Number.MIN_VALUE], ['1', 1n, null]],
    ['string', ['', 'é😀'], [1, null, new Uint8Array(0)]],
    ['bytes', [new Uint8Array(0), Buffer.from('ab')], ['ab', [1, 2], new ArrayBuffer(2)]],
  ]

  for (const [kind, valid, invalid] of cases) {
    it(`${kind} accepts its range`, () => {
      for (const value of valid) expect(isValidFieldValue(kind, value), String(value)).toBe(true)
    })
    it(`${kind} rejects other values`, () => {
      for (const value of invalid) expect(isValidFieldValue(kind, value), String(value)).toBe(false)
    })
  }

  it('f32 overflow threshold is where fround reaches Infinity', () => {
    expect(Math.fround(F32_OVERFLOW_THRESHOLD)).toBe(Infinity)
    expect(Math.fround(F32_OVERFLOW_THRESHOLD - 2 ** 80)).toBe(3.4028234663852886e38)
  })
})
