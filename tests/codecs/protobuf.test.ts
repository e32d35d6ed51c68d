import protobuf from 'protobufjs'
import { describe, expect, it } from 'vitest'
import { protobufCodec } from '../../src/codecs/protobuf.js'
import { ErrorCode, TickbusError } from '../../src/errors.js'
import { defineEvent } from '../../src/schema/define-event.js'
import { t, type EventSchema } from '../../src/schema/fields.js'

/** protobufjs's Long class (from the `long` package), typed for the calls these tests make. */
const Long = protobuf.util.Long as unknown as {
  fromString (value: string, unsigned?: boolean): object
  fromBits (low: number, high: number, unsigned?: boolean): object
}

/** Parses a .proto body in package `test` (proto3 unless `syntax` says otherwise), with the google.protobuf wrappers available. */
function parseType (body: string, name = 'Event', syntax = 'proto3'): protobuf.Type {
  const root = new protobuf.Root()
  root.addJSON(protobuf.common.get('google/protobuf/wrappers.proto')!.nested!)
  protobuf.parse(`syntax = "${syntax}"; package test; import "google/protobuf/wrappers.proto"; ${body}`, root)
  return root.lookupType(`test.${name}`)
}

function mappingError (schema: EventSchema, body: string, syntax = 'proto3'): TickbusError {
  const eventType = defineEvent('Event', schema)
  try {
    protobufCodec(eventType, parseType(body, 'Event', syntax))
  } catch (error) {
    expect(error).toBeInstanceOf(TickbusError)
    expect((error as TickbusError).code).toBe(ErrorCode.INVALID_SCHEMA)
    return error as TickbusError
  }
  throw new Error('expected the mapping to be rejected')
}

function codecError (code: ErrorCode, run: () => unknown): TickbusError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(TickbusError)
    expect((error as TickbusError).code).toBe(code)
    return error as TickbusError
  }
  throw new Error('expected the codec to throw')
}

const MOVE_PROTO = `
message Move {
  uint32 player_id = 1;
  float x = 2;
  double speed = 3;
  string name = 4;
  int64 seq = 5;
  uint64 total = 6;
  bool alive = 7;
  optional bytes avatar = 8;
  google.protobuf.UInt32Value hp = 9;
  string ignored = 10;
}`

const Move = defineEvent('Move', {
  playerId: t.u32(),
  x: t.f32(),
  speed: t.f64(),
  name: t.string(),
  seq: t.i64(),
  total: t.u64(),
  alive: t.bool(),
  avatar: t.bytes().nullable(),
  hp: t.u16().nullable(),
})

const base = { playerId: 7, x: 1.5, speed: -2.25, name: 'ann 😀', seq: -5n, total: 6n, alive: true, avatar: null, hp: null }

describe('protobuf codec', () => {
  const MoveType = parseType(MOVE_PROTO, 'Move')
  const codec = protobufCodec(Move, MoveType)

  it('names the message type', () => {
    expect(codec.name).toBe('protobuf(.test.Move)')
    expect(codec.type).toBe(MoveType)
  })

  it('round-trips an event', () => {
    const event = { ...base, avatar: new Uint8Array([1, 2, 3]), hp: 65535 }
    expect(codec.decode(codec.encode(event))).toEqual(event)
  })

  it('decodes what protobufjs encodes', () => {
    const bytes = MoveType.encode({ playerId: 9, x: 0.5, speed: 1e300, name: 'é', seq: -1, total: 3, alive: true, avatar: Buffer.from([4]), hp: { value: 12 }, ignored: 'x' }).finish()
    expect(codec.decode(bytes)).toEqual({ playerId: 9, x: 0.5, speed: 1e300, name: 'é', seq: -1n, total: 3n, alive: true, avatar: new Uint8Array([4]), hp: 12 })
  })

  it('encodes what protobufjs decodes', () => {
    const message = MoveType.toObject(MoveType.decode(codec.encode({ ...base, avatar: new Uint8Array([5]), hp: 0 })), { longs: String, bytes: Array })
    expect(message).toEqual({ playerId: 7, x: 1.5, speed: -2.25, name: 'ann 😀', seq: '-5', total: '6', alive: true, avatar: [5], hp: { value: 0 } })
  })

  it('decodes an empty message as defaults and nulls', () => {
    expect(codec.decode(new Uint8Array(0))).toEqual({ playerId: 0, x: 0, speed: 0, name: '', seq: 0n, total: 0n, alive: false, avatar: null, hp: null })
  })

  it('keeps zero values of present optional fields', () => {
    const decoded = codec.decode(codec.encode({ ...base, avatar: new Uint8Array(0), hp: 0 }))
    expect(decoded.avatar).toEqual(new Uint8Array(0))
    expect(decoded.hp).toBe(0)
  })

  it('decodes bytes as plain Uint8Array views of the input', () => {
    const input = codec.encode({ ...base, avatar: new Uint8Array([1, 2]) })
    const avatar = codec.decode(input).avatar!
    expect(Object.getPrototypeOf(avatar)).toBe(Uint8Array.prototype)
    expect(avatar.buffer).toBe(input.buffer)
  })

  it('rejects truncated input', () => {
    const bytes = codec.encode({ ...base, name: 'a long enough name' })
    const error = codecError(ErrorCode.DECODE_FAILED, () => codec.decode(bytes.subarray(0, bytes.length - 3)))
    expect(error.message).toContain('Cannot decode event Move from protobuf message .test.Move')
    expect(error.cause).toBeInstanceOf(Error)
  })

  it('rejects invalid field values on encode', () => {
    const error = codecError(ErrorCode.ENCODE_FAILED, () => codec.encode({ ...base, playerId: -1 }))
    expect(error.message).toBe('Cannot encode event Move: field playerId must be an integer from 0 to 4294967295, received -1.')
    expect(codecError(ErrorCode.ENCODE_FAILED, () => codec.encode({ ...base, name: null as unknown as string })).message).toContain('field name is not nullable')
  })

  it('works with a type from Root.fromJSON', () => {
    const root = protobuf.Root.fromJSON({
      nested: { Ping: { fields: { n: { type: 'sint32', id: 1 }, label: { type: 'string', id: 2 } } } },
    })
    const Ping = defineEvent('Ping', { n: t.i16(), label: t.string() })
    const pingCodec = protobufCodec(Ping, root.lookupType('Ping'))
    expect(pingCodec.decode(pingCodec.encode({ n: -300, label: 'x' }))).toEqual({ n: -300, label: 'x' })
  })
})

describe('protobuf 64-bit integers', () => {
  const Wide = defineEvent('Wide', { a: t.i64(), b: t.i64(), c: t.i64(), d: t.u64(), e: t.u64() })
  const WideType = parseType('message Wide { int64 a = 1; sint64 b = 2; sfixed64 c = 3; uint64 d = 4; fixed64 e = 5; }', 'Wide')
  const codec = protobufCodec(Wide, WideType)

  it('round-trip the limits of every 64-bit type', () => {
    for (const event of [
      { a: -(2n ** 63n), b: -(2n ** 63n), c: -(2n ** 63n), d: 0n, e: 0n },
      { a: 2n ** 63n - 1n, b: 2n ** 63n - 1n, c: 2n ** 63n - 1n, d: 2n ** 64n - 1n, e: 2n ** 64n - 1n },
      { a: 2n ** 53n + 1n, b: -(2n ** 53n) - 1n, c: 2n ** 53n + 3n, d: 2n ** 53n + 1n, e: 2n ** 63n + 1n },
      { a: -1n, b: -1n, c: -1n, d: 2n ** 32n, e: 2n ** 32n - 1n },
    ]) {
      expect(codec.decode(codec.encode(event))).toEqual(event)
    }
  })

  it('decode protobufjs strings above 2^53 exactly', () => {
    const bytes = WideType.encode({ a: '9007199254740993', b: '-9007199254740995', c: '9223372036854775807', d: '18446744073709551615', e: '18446744073709551614' }).finish()
    expect(codec.decode(bytes)).toEqual({ a: 9007199254740993n, b: -9007199254740995n, c: 9223372036854775807n, d: 18446744073709551615n, e: 18446744073709551614n })
  })

  it('decode protobufjs Longs above 2^53 exactly', () => {
    const bytes = WideType.encode({
      a: Long.fromString('9007199254740993'),
      b: Long.fromBits(0xffffffff, 0x7fffffff, false),
      c: Long.fromBits(0, 0x80000000, false),
      d: Long.fromString('18446744073709551615', true),
      e: Long.fromBits(1, 0x00200000, true),
    }).finish()
    expect(codec.decode(bytes)).toEqual({ a: 9007199254740993n, b: 2n ** 63n - 1n, c: -(2n ** 63n), d: 2n ** 64n - 1n, e: 2n ** 53n + 1n })
  })

  it('encode values that protobufjs reads back as Longs', () => {
    const message = WideType.toObject(WideType.decode(codec.encode({ a: 2n ** 53n + 1n, b: -(2n ** 62n), c: 1n, d: 2n ** 64n - 2n, e: 7n })), { longs: String })
    expect(message).toEqual({ a: '9007199254740993', b: '-4611686018427387904', c: '1', d: '18446744073709551614', e: '7' })
  })

  it('decode across signedness within range', () => {
    const Cross = defineEvent('Cross', { signed: t.i64(), unsigned: t.u64() })
    const CrossType = parseType('message Cross { uint64 signed = 1; int64 unsigned = 2; }', 'Cross')
    const crossCodec = protobufCodec(Cross, CrossType)
    expect(crossCodec.decode(CrossType.encode({ signed: '9223372036854775807', unsigned: '5' }).finish())).toEqual({ signed: 2n ** 63n - 1n, unsigned: 5n })

    const tooLarge = codecError(ErrorCode.DECODE_FAILED, () => crossCodec.decode(CrossType.encode({ signed: '9223372036854775808' }).finish()))
    expect(tooLarge.message).toContain('field signed must be an integer from -9223372036854775808 to 9223372036854775807, received 9223372036854775808n')
    const negative = codecError(ErrorCode.DECODE_FAILED, () => crossCodec.decode(CrossType.encode({ unsigned: '-1' }).finish()))
    expect(negative.message).toContain('field unsigned must be an integer from 0 to 18446744073709551615, received -1n')
    expect(negative.message).toContain('proto field unsigned (int64)')
  })

  it('reject values the proto type cannot carry on encode', () => {
    const Cross = defineEvent('Cross', { signed: t.i64(), unsigned: t.u64() })
    const crossCodec = protobufCodec(Cross, parseType('message Cross { uint64 signed = 1; int64 unsigned = 2; }', 'Cross'))
    expect(codecError(ErrorCode.ENCODE_FAILED, () => crossCodec.encode({ signed: -1n, unsigned: 0n })).message)
      .toContain('field signed maps onto proto field signed (uint64), which holds integers from 0 to 18446744073709551615, received -1n')
    expect(codecError(ErrorCode.ENCODE_FAILED, () => crossCodec.encode({ signed: 0n, unsigned: 2n ** 63n })).message)
      .toContain('field unsigned maps onto proto field unsigned (int64)')
  })
})

describe('protobuf narrow integers and enums', () => {
  const Small = defineEvent('Small', { tiny: t.u8(), small: t.i16(), level: t.i32(), mode: t.u8() })
  const SmallType = parseType('enum Mode { IDLE = 0; RUN = 2; } message Small { uint32 tiny = 1; sint32 small = 2; Mode level = 3; Mode mode = 4; }', 'Small')
  const codec = protobufCodec(Small, SmallType)

  it('round-trip in range', () => {
    const event = { tiny: 255, small: -32768, level: 2, mode: 2 }
    expect(codec.decode(codec.encode(event))).toEqual(event)
  })

  it('reject out-of-range values on decode', () => {
    const error = codecError(ErrorCode.DECODE_FAILED, () => codec.decode(SmallType.encode({ tiny: 256 }).finish()))
    expect(error.message).toContain('field tiny must be an integer from 0 to 255, received 256 in proto field tiny (uint32)')
    expect(codecError(ErrorCode.DECODE_FAILED, () => codec.decode(SmallType.encode({ small: 40000 }).finish())).message).toContain('field small')
    expect(codecError(ErrorCode.DECODE_FAILED, () => codec.decode(SmallType.encode({ mode: -1 }).finish())).message).toContain('field mode')
  })

  it('reject negative values for unsigned proto fields on encode', () => {
    const Signed = defineEvent('Signed', { delta: t.i8() })
    const signedCodec = protobufCodec(Signed, parseType('message Signed { fixed32 delta = 1; }', 'Signed'))
    expect(signedCodec.decode(signedCodec.encode({ delta: 127 }))).toEqual({ delta: 127 })
    expect(codecError(ErrorCode.ENCODE_FAILED, () => signedCodec.encode({ delta: -1 })).message).toContain('proto field delta (fixed32), which holds integers from 0 to 4294967295')
  })
})

describe('protobuf floats', () => {
  it('widen float into f64 exactly', () => {
    const Wide = defineEvent('Wide', { value: t.f64() })
    const codec = protobufCodec(Wide, parseType('message Wide { float value = 1; }', 'Wide'))
    expect(codec.decode(codec.encode({ value: 0.1 })).value).toBe(Math.fround(0.1))
  })

  it('keep special values', () => {
    const Floats = defineEvent('Floats', { single: t.f32(), double: t.f64() })
    const codec = protobufCodec(Floats, parseType('message Floats { float single = 1; double double = 2; }', 'Floats'))
    for (const value of [NaN, Infinity, -Infinity, -0, 3.4028234663852886e38]) {
      const decoded = codec.decode(codec.encode({ single: value, double: value }))
      expect(decoded.single).toBe(value)
      expect(decoded.double).toBe(value)
    }
  })
})

describe('protobuf presence', () => {
  it('maps nullable fields onto oneof members', () => {
    const Choice = defineEvent('Choice', { id: t.u32().nullable(), label: t.string().nullable() })
    const codec = protobufCodec(Choice, parseType('message Choice { oneof key { uint32 id = 1; string label = 2; } }', 'Choice'))
    expect(codec.decode(codec.encode({ id: 0 }))).toEqual({ id: 0, label: null })
    expect(codec.decode(codec.encode({ label: '' }))).toEqual({ id: null, label: '' })
  })

  it('maps every wrapper type', () => {
    const Wrapped = defineEvent('Wrapped', {
      d: t.f64().nullable(), f: t.f32().nullable(), i64: t.i64().nullable(), u64: t.u64().nullable(),
      i32: t.i32().nullable(), u32: t.u32().nullable(), b: t.bool().nullable(), s: t.string().nullable(), by: t.bytes().nullable(),
    })
    const codec = protobufCodec(Wrapped, parseType(`message Wrapped {
      google.protobuf.DoubleValue d = 1; google.protobuf.FloatValue f = 2; google.protobuf.Int64Value i64 = 3;
      google.protobuf.UInt64Value u64 = 4; google.protobuf.Int32Value i32 = 5; google.protobuf.UInt32Value u32 = 6;
      google.protobuf.BoolValue b = 7; google.protobuf.StringValue s = 8; google.protobuf.BytesValue by = 9; }`, 'Wrapped'))
    const full = { d: 0.5, f: 1.5, i64: -(2n ** 60n), u64: 2n ** 64n - 1n, i32: -1, u32: 2 ** 32 - 1, b: false, s: '', by: new Uint8Array([1]) }
    expect(codec.decode(codec.encode(full))).toEqual(full)
    const empty = codec.decode(codec.encode({}))
    for (const field of Wrapped.fields) expect(empty[field.name as keyof typeof empty], field.name).toBeNull()
  })

  it('decodes an empty wrapper as the zero value', () => {
    const Hp = defineEvent('Hp', { hp: t.u32().nullable() })
    const HpType = parseType('message Hp { google.protobuf.UInt32Value hp = 1; }', 'Hp')
    expect(protobufCodec(Hp, HpType).decode(HpType.encode({ hp: {} }).finish())).toEqual({ hp: 0 })
  })

  it('uses proto2 defaults for absent fields', () => {
    const Legacy = defineEvent('Legacy', { level: t.i32(), name: t.string(), big: t.i64(), tag: t.bytes(), maybe: t.u32().nullable() })
    const codec = protobufCodec(Legacy, parseType(
      'message Legacy { optional int32 level = 1 [default = 5]; optional string name = 2 [default = "anon"]; optional int64 big = 3 [default = -9007199254740991]; optional bytes tag = 4 [default = "ab"]; optional uint32 maybe = 5; }',
      'Legacy', 'proto2',
    ))
    const first = codec.decode(new Uint8Array(0))
    expect(first).toEqual({ level: 5, name: 'anon', big: -9007199254740991n, tag: new Uint8Array([0x61, 0x62]), maybe: null })
    first.tag[0] = 0
    expect(codec.decode(new Uint8Array(0)).tag).toEqual(new Uint8Array([0x61, 0x62]))
  })
})

describe('protobuf mapping errors', () => {
  it('name a missing proto field', () => {
    const error = mappingError({ playerId: t.u32() }, 'message Event { uint32 player = 1; }')
    expect(error.message).toBe(
      'Cannot map event Event onto protobuf message .test.Event: field playerId (u32) has no proto field named playerId; ' +
      'protobufjs turns snake_case names into camelCase unless the .proto was parsed with keepCase: true.',
    )
  })

  it('reject incompatible scalar types', () => {
    const cases: Array<[EventSchema, string, string]> = [
      [{ v: t.u32() }, 'int32 v = 1;', 'of type int32; accepted types: uint32, fixed32'],
      [{ v: t.i32() }, 'uint32 v = 1;', 'of type uint32; accepted types: int32, sint32, sfixed32, enum'],
      [{ v: t.i64() }, 'int32 v = 1;', 'of type int32'],
      [{ v: t.u8() }, 'int64 v = 1;', 'of type int64'],
      [{ v: t.f32() }, 'double v = 1;', 'of type double; accepted types: float'],
      [{ v: t.f64() }, 'int32 v = 1;', 'of type int32; accepted types: double, float'],
      [{ v: t.string() }, 'bytes v = 1;', 'of type bytes; accepted types: string'],
      [{ v: t.bytes() }, 'string v = 1;', 'of type string'],
      [{ v: t.bool() }, 'uint32 v = 1;', 'of type uint32; accepted types: bool'],
      [{ v: t.u32().nullable() }, 'google.protobuf.Int32Value v = 1;', 'of type int32 (wrapped)'],
    ]
    for (const [schema, field, expected] of cases) {
      const error = mappingError(schema, `message Event { ${field} }`)
      expect(error.message, field).toContain('field v (')
      expect(error.message, field).toContain(expected)
    }
  })

  it('reject repeated and map fields', () => {
    expect(mappingError({ v: t.u32() }, 'message Event { repeated uint32 v = 1; }').message).toContain('field v (u32) maps onto proto field v, which is repeated')
    expect(mappingError({ v: t.u32() }, 'message Event { map<string, uint32> v = 1; }').message).toContain('which is a map')
  })

  it('reject nested messages', () => {
    expect(mappingError({ v: t.u32() }, 'message Inner { uint32 x = 1; } message Event { Inner v = 1; }').message)
      .toContain('field v (u32) maps onto proto field v of message type .test.Inner')
  })

  it('reject wrappers for non-nullable fields', () => {
    expect(mappingError({ v: t.u32() }, 'message Event { google.protobuf.UInt32Value v = 1; }').message)
      .toContain('field v (u32) maps onto proto field v of wrapper type .google.protobuf.UInt32Value; declare the event field nullable')
  })

  it('reject nullable fields without presence', () => {
    expect(mappingError({ v: t.string().nullable() }, 'message Event { string v = 1; }').message)
      .toContain('field v (string, nullable) needs a proto field with presence, but proto field v has none; declare it optional')
  })

  it('reject unresolvable types', () => {
    const root = new protobuf.Root()
    root.add(protobuf.Type.fromJSON('Event', { fields: { v: { type: 'Missing', id: 1 } } }))
    const error = codecError(ErrorCode.INVALID_SCHEMA, () => protobufCodec(defineEvent('Event', { v: t.u32() }), root.lookupType('Event')))
    expect(error.message).toContain('resolving protobuf message .Event failed')
  })

  it('reject a value that is not a protobufjs Type', () => {
    const error = codecError(ErrorCode.INVALID_SCHEMA, () => protobufCodec(defineEvent('Event', {}), {} as protobuf.Type))
    expect(error.message).toContain('expected a protobufjs Type')
  })
})
