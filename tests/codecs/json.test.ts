import { describe, expect, it } from 'vitest'
import { jsonCodec } from '../../src/codecs/json.js'
import { ErrorCode, TickbusError } from '../../src/errors.js'
import { defineEvent } from '../../src/schema/define-event.js'
import { t } from '../../src/schema/fields.js'

const Move = defineEvent('Move', {
  playerId: t.u32(),
  x: t.f32(),
  speed: t.f64(),
  name: t.string(),
  seq: t.i64(),
  total: t.u64(),
  alive: t.bool(),
  team: t.i8(),
  avatar: t.bytes().nullable(),
  hp: t.u16().nullable(),
})

const base = { playerId: 7, x: 1.5, speed: 2.25, name: 'ann', seq: 1n, total: 2n, alive: true, team: -3, avatar: null, hp: null }

/** Serializes a test value, writing bigints as decimal strings. */
function json (value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value, (_key, member: unknown) => typeof member === 'bigint' ? member.toString() : member))
}

function decodeError (bytes: Uint8Array): TickbusError {
  try {
    Move.json.decode(bytes)
  } catch (error) {
    expect(error).toBeInstanceOf(TickbusError)
    expect((error as TickbusError).code).toBe(ErrorCode.DECODE_FAILED)
    return error as TickbusError
  }
  throw new Error('expected decoding to throw')
}

describe('JSON codec', () => {
  it('is created once per type', () => {
    expect(Move.json).toBe(Move.json)
    expect(Move.json.name).toBe('json(Move)')
    expect(jsonCodec(Move).name).toBe('json(Move)')
  })

  it('round-trips an event', () => {
    const event = { ...base, avatar: new Uint8Array([0, 1, 255]), hp: 65535 }
    expect(Move.json.decode(Move.json.encode(event))).toEqual(event)
  })

  it('writes fields in declaration order with nulls', () => {
    expect(Move.json.stringify(base)).toBe(
      '{"playerId":7,"x":1.5,"speed":2.25,"name":"ann","seq":1,"total":2,"alive":true,"team":-3,"avatar":null,"hp":null}',
    )
  })

  it('encodes left-out nullable fields as null', () => {
    const { avatar: _avatar, hp: _hp, ...required } = base
    expect(Move.json.stringify(required)).toContain('"avatar":null,"hp":null')
  })

  it('decodes missing nullable fields as null', () => {
    const { avatar: _avatar, hp: _hp, ...required } = base
    expect(Move.json.decode(json(required))).toEqual(base)
  })

  it('ignores unknown members', () => {
    expect(Move.json.decode(json({ ...base, extra: { nested: [1] } }))).toEqual(base)
  })

  it('accepts a byte order mark', () => {
    expect(Move.json.decode(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json(base)]))).toEqual(base)
  })

  describe('64-bit integers', () => {
    it('encode safe values as numbers', () => {
      const text = Move.json.stringify({ ...base, seq: -(2n ** 53n - 1n), total: 2n ** 53n - 1n })
      expect(text).toContain('"seq":-9007199254740991,"total":9007199254740991')
    })

    it('encode larger values as strings', () => {
      const text = Move.json.stringify({ ...base, seq: -(2n ** 63n), total: 2n ** 64n - 1n })
      expect(text).toContain('"seq":"-9223372036854775808","total":"18446744073709551615"')
    })

    it('round-trip values beyond 2^53 exactly', () => {
      for (const seq of [2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n]) {
        expect(Move.json.decode(Move.json.encode({ ...base, seq })).seq).toBe(seq)
      }
      expect(Move.json.decode(Move.json.encode({ ...base, total: 2n ** 64n - 1n })).total).toBe(2n ** 64n - 1n)
    })

    it('accept decimal strings and safe numbers', () => {
      expect(Move.json.decode(json({ ...base, seq: '-12', total: 0 })).seq).toBe(-12n)
      expect(Move.json.decode(json({ ...base, seq: 1e3 })).seq).toBe(1000n)
    })

    it('reject unsafe numbers', () => {
      const error = decodeError(Buffer.from(Move.json.stringify(base).replace('"seq":1', '"seq":9007199254740993')))
      expect(error.message).toContain('field seq must be an integer from -9223372036854775808 to 9223372036854775807')
      expect(error.message).toContain('decimal string')
    })

    it('reject malformed strings', () => {
      for (const seq of ['+1', '01', '1.0', '', ' 1', '0x10', '1e3']) {
        expect(decodeError(json({ ...base, seq })).message, seq).toContain(`received ${JSON.stringify(seq)}`)
      }
    })

    it('reject values out of range', () => {
      expect(decodeError(json({ ...base, total: '-1' })).message).toContain('field total must be an integer from 0 to 18446744073709551615')
      expect(decodeError(json({ ...base, total: '18446744073709551616' })).message).toContain('field total')
      expect(decodeError(json({ ...base, seq: '9223372036854775808' })).message).toContain('field seq')
    })
  })

  describe('floats', () => {
    it('round-trip NaN and infinities as strings', () => {
      for (const value of [NaN, Infinity, -Infinity]) {
        const decoded = Move.json.decode(Move.json.encode({ ...base, x: value, speed: value }))
        expect(decoded.x).toBe(value)
        expect(decoded.speed).toBe(value)
      }
      expect(Move.json.stringify({ ...base, speed: -Infinity })).toContain('"speed":"-Infinity"')
    })

    it('keep the sign of -0', () => {
      expect(Move.json.stringify({ ...base, speed: -0 })).toContain('"speed":-0')
      expect(Object.is(Move.json.decode(Move.json.encode({ ...base, speed: -0 })).speed, -0)).toBe(true)
    })

    it('round-trip extreme doubles', () => {
      for (const speed of [Number.MAX_VALUE, Number.MIN_VALUE, -1e-300, 0.1 + 0.2]) {
        expect(Move.json.decode(Move.json.encode({ ...base, speed })).speed).toBe(speed)
      }
    })

    it('reject f32 overflow', () => {
      expect(decodeError(json({ ...base, x: 1e39 })).message).toContain('field x must be a number of magnitude below')
    })

    it('reject other strings', () => {
      expect(decodeError(json({ ...base, speed: 'nan' })).message).toContain('field speed must be a number, or "NaN"')
      expect(decodeError(json({ ...base, speed: '1.5' })).message).toContain('received "1.5"')
    })
  })

  describe('strings and bytes', () => {
    it('round-trip empty and multi-byte strings', () => {
      for (const name of ['', 'é', '😀👍🏽', 'line\nbreak "quoted" \\', '\u0000']) {
        expect(Move.json.decode(Move.json.encode({ ...base, name })).name).toBe(name)
      }
    })

    it('encode bytes as padded base64', () => {
      expect(Move.json.stringify({ ...base, avatar: new Uint8Array([1, 2, 3, 4]) })).toContain('"avatar":"AQIDBA=="')
      expect(Move.json.stringify({ ...base, avatar: new Uint8Array(0) })).toContain('"avatar":""')
    })

    it('encode bytes of a subarray only', () => {
      const whole = new Uint8Array([9, 1, 2, 9])
      expect(Move.json.stringify({ ...base, avatar: whole.subarray(1, 3) })).toContain('"avatar":"AQI="')
    })

    it('decode bytes into arrays of their own', () => {
      const avatar = Move.json.decode(json({ ...base, avatar: 'AQID' })).avatar!
      expect(avatar).toEqual(new Uint8Array([1, 2, 3]))
      expect(avatar.byteOffset).toBe(0)
      expect(avatar.buffer.byteLength).toBe(3)
    })

    it('reject invalid base64', () => {
      for (const avatar of ['AQI', 'AQ==x', '*AAA', 'AQID\n', 'AQ-_']) {
        expect(decodeError(json({ ...base, avatar })).message, avatar).toContain('field avatar must be a base64 string')
      }
    })

    it('reject numbers for strings', () => {
      expect(decodeError(json({ ...base, name: 5 })).message).toContain('field name must be a string, received 5')
    })
  })

  describe('decode errors', () => {
    it('name the event, field, rule and value', () => {
      expect(decodeError(json({ ...base, playerId: '5' })).message).toBe(
        'Cannot decode event Move from JSON: field playerId must be an integer from 0 to 4294967295, received "5".',
      )
    })

    it('reject integers out of range', () => {
      expect(decodeError(json({ ...base, team: 128 })).message).toContain('field team must be an integer from -128 to 127, received 128')
      expect(decodeError(json({ ...base, playerId: 1.5 })).message).toContain('received 1.5')
      expect(decodeError(json({ ...base, hp: -1 })).message).toContain('field hp')
    })

    it('reject numbers for bool', () => {
      expect(decodeError(json({ ...base, alive: 1 })).message).toContain('field alive must be true or false, received 1')
    })

    it('reject a missing required field', () => {
      const { name: _name, ...rest } = base
      expect(decodeError(json(rest)).message).toContain('field name is required, received undefined')
    })

    it('reject null for a non-nullable field', () => {
      expect(decodeError(json({ ...base, x: null })).message).toContain('field x is not nullable, received null')
    })

    it('reject invalid JSON', () => {
      const error = decodeError(Buffer.from('{"playerId":'))
      expect(error.message).toContain('not valid JSON')
      expect(error.cause).toBeInstanceOf(SyntaxError)
    })

    it('reject invalid UTF-8', () => {
      expect(decodeError(new Uint8Array([0x7b, 0xff, 0x7d])).message).toContain('not valid UTF-8')
    })

    it('reject values that are not objects', () => {
      for (const text of ['[]', 'null', '5', '"x"']) {
        expect(decodeError(Buffer.from(text)).message, text).toContain('must be a JSON object')
      }
    })
  })

  describe('encode errors', () => {
    it('reject invalid field values', () => {
      try {
        Move.json.encode({ ...base, seq: 5 as unknown as bigint })
        expect.unreachable()
      } catch (error) {
        expect((error as TickbusError).code).toBe(ErrorCode.ENCODE_FAILED)
        expect((error as TickbusError).message).toContain('field seq must be a bigint')
      }
    })

    it('reject a non-object event', () => {
      expect(() => Move.json.encode(null as unknown as typeof base)).toThrow(expect.objectContaining({ code: ErrorCode.ENCODE_FAILED }))
    })
  })

  it('handles an event type without fields', () => {
    const Ping = defineEvent('Ping', {})
    expect(Ping.json.stringify({})).toBe('{}')
    expect(Ping.json.decode(Buffer.from('{"a":1}'))).toEqual({})
  })
})
