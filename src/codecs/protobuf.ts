import type { Field, Message, Type } from 'protobufjs'
import { describeValue, ErrorCode, TickbusError } from '../errors.js'
import type { FieldLayout } from '../schema/body-layout.js'
import { invalidFieldValue } from '../schema/body-writer.js'
import type { EventInput, EventObject, EventType } from '../schema/define-event.js'
import { FieldKind, INTEGER_RANGES, invalidValueCondition, isValidFieldValue, type EventSchema } from '../schema/fields.js'
import type { Codec } from './codec.js'

/**
 * Protobuf codec of an event type, over a protobufjs 7 message type. Event fields map onto proto
 * fields of the same name as protobufjs reports it (protobufjs turns snake_case into camelCase
 * unless the .proto was parsed with `keepCase: true`). Proto fields without an event field are
 * decoded by protobufjs and dropped.
 *
 * Which proto types an event field accepts:
 *
 *   bool                  bool
 *   i8, u8, i16, u16      int32, sint32, sfixed32, uint32, fixed32, enum   (range-checked on decode)
 *   i32                   int32, sint32, sfixed32, enum
 *   u32                   uint32, fixed32
 *   i64, u64              int64, sint64, sfixed64, uint64, fixed64         (range-checked on decode)
 *   f32                   float (double is rejected: decoding would round silently)
 *   f64                   double, float (float widens exactly; encode rounds to float)
 *   string                string
 *   bytes                 bytes
 *
 * A nullable event field needs a proto field with presence: proto3 `optional`, a proto2
 * optional field, a oneof member, or a google.protobuf wrapper message (Int32Value, StringValue
 * and the rest) around an accepted type. An absent field then decodes as null, and null is encoded
 * by leaving the field out. A non-nullable event field decodes an absent proto field as the
 * proto default (0, false, "", empty bytes, or a proto2 `[default = ...]`). It cannot map onto a
 * wrapper message. Repeated, map and other message fields are rejected.
 *
 * NOTE: protobufjs 7 parses a proto2 `[default = ...]` of a 64-bit field as a JavaScript number,
 * so a default beyond ±(2^53 - 1) arrives already rounded. Values on the wire are exact.
 *
 * Encoding checks each value against the proto type's range too: a u64 above 2^63 - 1 cannot go
 * into an int64 field, nor a negative i8 into a uint32 field.
 *
 * 64-bit values convert between bigint and protobufjs Long through their 32-bit halves, so values
 * beyond 2^53 stay exact. Decoded bytes fields are subarrays of the input bytes (see Codec.decode).
 */
export interface ProtobufCodec<S extends EventSchema> extends Codec<EventObject<S>> {
  /** Also accepts events whose nullable fields are left out (encoded as absent). */
  encode (event: EventInput<S>): Uint8Array
  /** The protobufjs message type. */
  readonly type: Type
}

/** Mapping of one event field onto its proto field, computed once per codec. */
interface FieldMapping {
  readonly field: FieldLayout
  readonly protoName: string
  /** Proto scalar type of the value, or 'enum'; for wrappers, the type of the wrapper's `value`. */
  readonly protoType: string
  readonly wrapper: boolean
  /** Value of an absent non-nullable field, already converted to the event field's kind. */
  readonly absentValue: unknown
  /** Whether protobufjs reads the 64-bit proto type as unsigned. */
  readonly unsigned: boolean
  /** Integer values the proto type can carry, or undefined for non-integer types. */
  readonly protoRange: { readonly min: number | bigint, readonly max: number | bigint } | undefined
}

const INT32_TYPES = ['int32', 'sint32', 'sfixed32', 'enum'] as const
const UINT32_TYPES = ['uint32', 'fixed32'] as const
const SIGNED_64_TYPES = ['int64', 'sint64', 'sfixed64'] as const
const UNSIGNED_64_TYPES = ['uint64', 'fixed64'] as const

const ACCEPTED_PROTO_TYPES: Record<FieldKind, readonly string[]> = {
  bool: ['bool'],
  i8: [...INT32_TYPES, ...UINT32_TYPES],
  u8: [...INT32_TYPES, ...UINT32_TYPES],
  i16: [...INT32_TYPES, ...UINT32_TYPES],
  u16: [...INT32_TYPES, ...UINT32_TYPES],
  i32: INT32_TYPES,
  u32: UINT32_TYPES,
  i64: [...SIGNED_64_TYPES, ...UNSIGNED_64_TYPES],
  u64: [...SIGNED_64_TYPES, ...UNSIGNED_64_TYPES],
  f32: ['float'],
  f64: ['double', 'float'],
  string: ['string'],
  bytes: ['bytes'],
}

/** Range of the integer values each proto integer type can carry. */
function protoRangeOf (protoType: string): { min: number | bigint, max: number | bigint } | undefined {
  if ((INT32_TYPES as readonly string[]).includes(protoType)) return INTEGER_RANGES.i32
  if ((UINT32_TYPES as readonly string[]).includes(protoType)) return INTEGER_RANGES.u32
  if ((SIGNED_64_TYPES as readonly string[]).includes(protoType)) return INTEGER_RANGES.i64
  if ((UNSIGNED_64_TYPES as readonly string[]).includes(protoType)) return INTEGER_RANGES.u64
  return undefined
}

/** google.protobuf wrapper messages by full name; each has one field named `value`. */
const WRAPPER_TYPES: ReadonlySet<string> = new Set([
  '.google.protobuf.DoubleValue',
  '.google.protobuf.FloatValue',
  '.google.protobuf.Int64Value',
  '.google.protobuf.UInt64Value',
  '.google.protobuf.Int32Value',
  '.google.protobuf.UInt32Value',
  '.google.protobuf.BoolValue',
  '.google.protobuf.StringValue',
  '.google.protobuf.BytesValue',
])

/**
 * Creates the protobuf codec of `eventType` over the protobufjs message `type`, from
 * protobuf.load/parse or Root.fromJSON. Resolves the type's references first. Callable from any
 * thread; the codec keeps no state between calls.
 *
 * @throws TickbusError INVALID_SCHEMA naming the event field and proto field when the two do not
 * map (see {@link ProtobufCodec} for the rules), or when the type's references do not resolve.
 */
export function protobufCodec<S extends EventSchema> (eventType: EventType<S>, type: Type): ProtobufCodec<S> {
  if (typeof type !== 'object' || type === null || typeof (type as Partial<Type>).decode !== 'function' || typeof (type as Partial<Type>).fields !== 'object') {
    throw new TickbusError(ErrorCode.INVALID_SCHEMA, `Cannot create a protobuf codec for event ${eventType.name}: expected a protobufjs Type, received ${describeValue(type)}.`)
  }
  try {
    type.resolveAll()
  } catch (cause) {
    throw new TickbusError(
      ErrorCode.INVALID_SCHEMA,
      `Cannot create a protobuf codec for event ${eventType.name}: resolving protobuf message ${type.fullName} failed (${(cause as Error).message}).`,
      { cause },
    )
  }

  const mappings = eventType.fields.map((field) => mapField(eventType.name, type, field))
  const eventName = eventType.name

  function decode (bytes: Uint8Array): EventObject<S> {
    let message: Message
    try {
      message = type.decode(bytes)
    } catch (cause) {
      throw new TickbusError(
        ErrorCode.DECODE_FAILED,
        `Cannot decode event ${eventName} from protobuf message ${type.fullName}: ${(cause as Error).message}.`,
        { cause },
      )
    }
    return toEvent(message)
  }
  const toEvent = generateToEvent<S>(eventName, mappings)

  function encode (event: EventInput<S>): Uint8Array {
    return type.encode(toMessage(event)).finish()
  }
  const toMessage = generateToMessage<S>(eventName, mappings)

  return { name: `protobuf(${type.fullName})`, type, decode, encode }
}

function mapField (eventName: string, type: Type, field: FieldLayout): FieldMapping {
  const describeField = `field ${field.name} (${field.kind}${field.nullable ? ', nullable' : ''})`
  const fail = (problem: string): TickbusError => new TickbusError(
    ErrorCode.INVALID_SCHEMA,
    `Cannot map event ${eventName} onto protobuf message ${type.fullName}: ${describeField} ${problem}.`,
  )

  const protoField: Field | undefined = type.fields[field.name]
  if (protoField === undefined) {
    throw fail(`has no proto field named ${field.name}; protobufjs turns snake_case names into camelCase unless the .proto was parsed with keepCase: true`)
  }
  if (protoField.repeated || protoField.map) {
    throw fail(`maps onto proto field ${protoField.name}, which is ${protoField.map ? 'a map' : 'repeated'}; only singular fields map onto event fields`)
  }

  let protoType = protoField.type
  let wrapper = false
  const resolved = protoField.resolvedType
  if (resolved !== null) {
    if (!('fields' in resolved)) {
      protoType = 'enum'
    } else if (WRAPPER_TYPES.has(resolved.fullName)) {
      if (!field.nullable) {
        throw fail(`maps onto proto field ${protoField.name} of wrapper type ${resolved.fullName}; declare the event field nullable, or use the wrapped scalar type in the .proto`)
      }
      wrapper = true
      protoType = resolved.fields.value!.type
    } else {
      throw fail(`maps onto proto field ${protoField.name} of message type ${resolved.fullName}; only scalars, enums and google.protobuf wrapper messages map onto event fields`)
    }
  }

  const accepted = ACCEPTED_PROTO_TYPES[field.kind]
  if (!accepted.includes(protoType)) {
    throw fail(`cannot map onto proto field ${protoField.name} of type ${protoType}${wrapper ? ' (wrapped)' : ''}; accepted types: ${accepted.join(', ')}`)
  }
  if (field.nullable && !wrapper && !protoField.hasPresence) {
    throw fail(`needs a proto field with presence, but proto field ${protoField.name} has none; declare it optional in the .proto, or use a google.protobuf wrapper type`)
  }

  const unsigned = (UNSIGNED_64_TYPES as readonly string[]).includes(protoType)
  const absentValue = wrapper || field.nullable ? null : convertAbsent(eventName, field, protoType, protoField.typeDefault)
  return { field, protoName: protoField.name, protoType, wrapper, absentValue, unsigned, protoRange: protoRangeOf(protoType) }
}

/** Converts the proto default of a non-nullable field once, at codec creation. */
function convertAbsent (eventName: string, field: FieldLayout, protoType: string, typeDefault: unknown): unknown {
  const unsigned = (UNSIGNED_64_TYPES as readonly string[]).includes(protoType)
  const mapping: FieldMapping = { field, protoName: field.name, protoType, wrapper: false, absentValue: null, unsigned, protoRange: protoRangeOf(protoType) }
  if (typeDefault === null || typeDefault === undefined) return zeroOf(field.kind)
  if (field.kind === FieldKind.BYTES) {
    return typeDefault instanceof Uint8Array && typeDefault.length > 0 ? new Uint8Array(typeDefault) : EMPTY_BYTES
  }
  return convertFromProto(eventName, mapping, typeDefault)
}

function zeroOf (kind: FieldKind): unknown {
  switch (kind) {
    case FieldKind.BOOL: return false
    case FieldKind.I64:
    case FieldKind.U64: return 0n
    case FieldKind.STRING: return ''
    case FieldKind.BYTES: return EMPTY_BYTES
    default: return 0
  }
}

// A zero-length array has no elements to change, so one instance can be shared.
const EMPTY_BYTES = new Uint8Array(0)

/**
 * Generates the function that turns a decoded protobufjs message into an event, with
 * `new Function`: one block per field, then an object literal. Every decoded event of a type
 * thus has one hidden class, and the record writer's property reads stay monomorphic. Proto field
 * names appear only as JSON string literals, and event field names are validated identifiers.
 */
function generateToEvent<S extends EventSchema> (eventName: string, mappings: readonly FieldMapping[]): (message: Message) => EventObject<S> {
  const lines = [
    '"use strict";',
    // Makes the source unique per event type, as V8 shares feedback between identical sources.
    `const eventName = ${JSON.stringify(eventName)};`,
    'const hasOwn = Object.prototype.hasOwnProperty;',
    'return function toEvent(message) {',
  ]
  mappings.forEach((mapping, i) => {
    const protoName = JSON.stringify(mapping.protoName)
    const convert = generateConversion(mapping, i)
    lines.push(`let d${i};`)
    if (mapping.wrapper) {
      lines.push(
        `const w${i} = message[${protoName}];`,
        `if (w${i} === null || w${i} === undefined) d${i} = null;`,
        `else { const v = w${i}.value; d${i} = v === null || v === undefined ? zeroOf(${i}) : ${convert}; }`,
      )
    } else {
      // protobufjs sets own properties only for fields on the wire; defaults live on the prototype.
      lines.push(
        `if (hasOwn.call(message, ${protoName})) { const v = message[${protoName}]; d${i} = ${convert}; }`,
        `else d${i} = ${mapping.field.nullable ? 'null' : `absentValue(${i})`};`,
      )
    }
  })
  lines.push(`return { ${mappings.map((mapping, i) => `${mapping.field.name}: d${i}`).join(', ')} };`, '};')

  const factory = new Function('zeroOf', 'absentValue', 'convert64', 'throwOutOfRange', 'toBytes', lines.join('\n'))
  return factory(
    (index: number) => zeroOf(mappings[index]!.field.kind),
    (index: number) => {
      const absent = mappings[index]!.absentValue
      // A non-empty bytes default is copied so that no caller can change the next decode's value.
      return absent instanceof Uint8Array && absent.length > 0 ? absent.slice() : absent
    },
    (index: number, raw: unknown) => convert64(eventName, mappings[index]!, raw),
    (index: number, raw: unknown) => {
      throw outOfRange(eventName, mappings[index]!, raw, raw)
    },
    toBytes,
  ) as (message: Message) => EventObject<S>
}

/** Returns JavaScript source for converting the proto value `v` of a mapping to its event field's kind. */
function generateConversion (mapping: FieldMapping, index: number): string {
  switch (mapping.field.kind) {
    case FieldKind.I64:
    case FieldKind.U64:
      return `convert64(${index}, v)`
    case FieldKind.I8:
    case FieldKind.U8:
    case FieldKind.I16:
    case FieldKind.U16:
    case FieldKind.I32:
    case FieldKind.U32:
      return `(${invalidValueCondition(mapping.field.kind, 'v')} ? throwOutOfRange(${index}, v) : v)`
    case FieldKind.BYTES:
      return 'toBytes(v)'
    default:
      // bool, f32, f64 and string arrive as the JavaScript type the event field uses.
      return 'v'
  }
}

// Scratch space to assemble 64-bit integers from their 32-bit halves without going through number.
const scratch = new DataView(new ArrayBuffer(8))

/** Converts a proto default value, read once at codec creation, to its event field's kind. */
function convertFromProto (eventName: string, mapping: FieldMapping, raw: unknown): unknown {
  switch (mapping.field.kind) {
    case FieldKind.I64:
    case FieldKind.U64:
      return convert64(eventName, mapping, raw)
    case FieldKind.BYTES:
      return toBytes(raw as Uint8Array)
    default:
      if (isIntegerKind(mapping.field.kind) && !isValidFieldValue(mapping.field.kind, raw)) throw outOfRange(eventName, mapping, raw, raw)
      return raw
  }
}

function isIntegerKind (kind: FieldKind): boolean {
  return kind !== FieldKind.BOOL && kind !== FieldKind.F32 && kind !== FieldKind.F64 && kind !== FieldKind.STRING && kind !== FieldKind.BYTES
}

function convert64 (eventName: string, mapping: FieldMapping, raw: unknown): bigint {
  const value = longToBigInt(raw, mapping.unsigned)
  const range = INTEGER_RANGES[mapping.field.kind as 'i64' | 'u64']
  if (value === undefined || value < range.min || value > range.max) throw outOfRange(eventName, mapping, raw, value)
  return value
}

/** Returns protobufjs bytes (a Buffer in Node.js) as a plain Uint8Array over the same memory. */
function toBytes (bytes: Uint8Array): Uint8Array {
  if (bytes.length === 0) return EMPTY_BYTES
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/**
 * Converts a protobufjs 64-bit value to bigint from its two 32-bit halves. protobufjs returns a
 * Long when the `long` package is installed, which protobufjs 7 depends on, and a number
 * otherwise. A number is exact only within ±(2^53 - 1), so a larger one returns undefined.
 */
function longToBigInt (raw: unknown, unsigned: boolean): bigint | undefined {
  if (typeof raw === 'number') return Number.isSafeInteger(raw) ? BigInt(raw) : undefined
  const { low, high } = raw as { low: number, high: number }
  scratch.setInt32(0, low, true)
  scratch.setInt32(4, high, true)
  return unsigned ? scratch.getBigUint64(0, true) : scratch.getBigInt64(0, true)
}

function outOfRange (eventName: string, mapping: FieldMapping, raw: unknown, value: unknown): TickbusError {
  const field = mapping.field
  const range = INTEGER_RANGES[field.kind as keyof typeof INTEGER_RANGES]
  return new TickbusError(
    ErrorCode.DECODE_FAILED,
    `Cannot decode event ${eventName} from protobuf: field ${field.name} must be an integer from ${range.min} to ${range.max}, ` +
    `received ${describeValue(value ?? raw)} in proto field ${mapping.protoName} (${mapping.protoType}).`,
  )
}

/**
 * Generates the function that turns an event into a plain object for protobufjs's encoder, with
 * `new Function`: each field's check inlined from fields.ts, then one object literal. A null
 * field becomes undefined, which protobufjs leaves out.
 */
function generateToMessage<S extends EventSchema> (eventName: string, mappings: readonly FieldMapping[]): (event: EventInput<S>) => object {
  const lines = [
    '"use strict";',
    // Makes the source unique per event type, as V8 shares feedback between identical sources.
    `const eventName = ${JSON.stringify(eventName)};`,
    'return function toMessage(event) {',
    'if (typeof event !== "object" || event === null) throw notAnObject(event);',
  ]
  mappings.forEach((mapping, i) => {
    const field = mapping.field
    const value = `v${i}`
    lines.push(`const ${value} = event.${field.name};`, `let p${i};`)
    if (field.nullable) {
      lines.push(`if (${value} !== undefined && ${value} !== null) {`)
    } else {
      lines.push(`if (${value} === undefined || ${value} === null) throw invalidField(${i}, ${value});`, '{')
    }
    lines.push(`if (${invalidValueCondition(field.kind, value)}) throw invalidField(${i}, ${value});`)

    const schemaRange = INTEGER_RANGES[field.kind as keyof typeof INTEGER_RANGES] as { min: number | bigint, max: number | bigint } | undefined
    const range = mapping.protoRange
    if (range !== undefined && schemaRange !== undefined && (schemaRange.min < range.min || schemaRange.max > range.max)) {
      const literal = (bound: number | bigint): string => typeof bound === 'bigint' ? `${bound}n` : String(bound)
      lines.push(`if (${value} < ${literal(range.min)} || ${value} > ${literal(range.max)}) throw outOfProtoRange(${i}, ${value});`)
    }
    const converted = field.kind === FieldKind.I64 || field.kind === FieldKind.U64 ? `toLongBits(${value})` : value
    lines.push(`p${i} = ${mapping.wrapper ? `{ value: ${converted} }` : converted};`, '}')
  })
  lines.push(`return { ${mappings.map((mapping, i) => `${JSON.stringify(mapping.protoName)}: p${i}`).join(', ')} };`, '};')

  const factory = new Function('notAnObject', 'invalidField', 'outOfProtoRange', 'toLongBits', lines.join('\n'))
  return factory(
    (value: unknown) => new TickbusError(ErrorCode.ENCODE_FAILED, `Cannot encode event ${eventName}: the event must be an object, received ${describeValue(value)}.`),
    (index: number, value: unknown) => invalidFieldValue(eventName, mappings[index]!.field, value),
    (index: number, value: unknown) => {
      const mapping = mappings[index]!
      return new TickbusError(
        ErrorCode.ENCODE_FAILED,
        `Cannot encode event ${eventName} as protobuf: field ${mapping.field.name} maps onto proto field ${mapping.protoName} (${mapping.protoType}), ` +
        `which holds integers from ${mapping.protoRange!.min} to ${mapping.protoRange!.max}, received ${describeValue(value)}.`,
      )
    },
    toLongBits,
  ) as (event: EventInput<S>) => object
}

/** Splits a 64-bit integer into the { low, high } 32-bit halves that protobufjs writes as given. */
function toLongBits (value: bigint): { low: number, high: number } {
  scratch.setBigUint64(0, BigInt.asUintN(64, value), true)
  return { low: scratch.getInt32(0, true), high: scratch.getInt32(4, true) }
}
