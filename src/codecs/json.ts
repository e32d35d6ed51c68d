import { describeValue, ErrorCode, TickbusError } from '../errors.js'
import type { FieldLayout } from '../schema/body-layout.js'
import { invalidFieldValue } from '../schema/body-writer.js'
import type { EventInput, EventObject, EventType } from '../schema/define-event.js'
import { F32_OVERFLOW_THRESHOLD, FieldKind, INTEGER_RANGES, invalidValueCondition, type EventSchema } from '../schema/fields.js'
import type { Codec } from './codec.js'

/**
 * JSON codec of an event type. A message value is a UTF-8 JSON object with one member per field:
 *
 *   bool            true or false
 *   i8 ... u32      a JSON integer within the kind's range (1e3 counts as an integer, 1.5 does not)
 *   i64, u64        a JSON integer within ±(2^53 - 1), or a decimal string ("-12", no sign "+",
 *                   no leading zeros) for any value in range; encode writes a number when the value
 *                   is within ±(2^53 - 1) and a string otherwise, so every value round-trips exactly
 *   f32, f64        a JSON number, or the string "NaN", "Infinity" or "-Infinity"; -0 is written
 *                   as -0 and keeps its sign; an f32 value whose magnitude is at least 2^128 - 2^103
 *                   is rejected because it would round to Infinity
 *   string          a JSON string
 *   bytes           a base64 string (RFC 4648 standard alphabet, with padding)
 *   nullable        null or a missing member decodes as null; encode writes null
 *
 * Members that are not fields are ignored on decode, so producers can add fields before
 * consumers know them. Decoded bytes fields are fresh arrays that share nothing with the input.
 */
export interface JsonCodec<S extends EventSchema> extends Codec<EventObject<S>> {
  /**
   * Also accepts events whose nullable fields are left out (written as null). Returns a Node.js
   * Buffer, which may share Buffer's allocation pool, as KafkaJS message values do.
   */
  encode (event: EventInput<S>): Uint8Array
  /** Returns the JSON text that encode would return as UTF-8 bytes. */
  stringify (event: EventInput<S>): string
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const DECIMAL_INTEGER = /^-?(?:0|[1-9][0-9]*)$/
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * Creates the JSON codec of an event type; `eventType.json` returns the same codec, made once.
 * Callable from any thread; the codec keeps no state between calls.
 */
export function jsonCodec<S extends EventSchema> (eventType: EventType<S>): JsonCodec<S> {
  const eventName = eventType.name
  const fields = eventType.fields

  function decodeFailed (rule: string, cause?: unknown): TickbusError {
    return new TickbusError(ErrorCode.DECODE_FAILED, `Cannot decode event ${eventName} from JSON: ${rule}.`, cause === undefined ? {} : { cause })
  }

  function decode (bytes: Uint8Array): EventObject<S> {
    let text: string
    try {
      text = utf8Decoder.decode(bytes)
    } catch (cause) {
      throw decodeFailed('the message value is not valid UTF-8', cause)
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (cause) {
      throw decodeFailed(`the message value is not valid JSON (${(cause as Error).message})`, cause)
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw decodeFailed(`the message value must be a JSON object, received ${describeValue(parsed)}`)
    }

    return decodeFields(parsed)
  }

  function invalidField (index: number, value: unknown): TickbusError {
    const field = fields[index]!
    return decodeFailed(`field ${field.name} ${describeJsonProblem(field, value)}, received ${describeValue(value)}`)
  }
  const decodeFields = generateDecodeFields<S>(eventName, fields, invalidField)

  const stringify = generateStringify<S>(eventName, fields)

  return {
    name: `json(${eventName})`,
    decode,
    // Buffer.from measured several times faster than TextEncoder.encode for short texts.
    encode: (event) => Buffer.from(stringify(event), 'utf8'),
    stringify,
  }
}

/**
 * Generates the function that checks a parsed JSON object and builds the event, with
 * `new Function`. The checks of bool, integer and string fields are inlined from fields.ts. The
 * event is an object literal, so every decoded event of a type has one hidden class and the
 * record writer's property reads stay monomorphic. Field names are validated identifiers that
 * exclude every Object.prototype member, so `parsed.name` reads only own members.
 */
function generateDecodeFields<S extends EventSchema> (
  eventName: string,
  fields: readonly FieldLayout[],
  invalidField: (index: number, value: unknown) => TickbusError,
): (parsed: object) => EventObject<S> {
  const lines = [
    '"use strict";',
    // Makes the source unique per event type, as V8 shares feedback between identical sources.
    `const eventName = ${JSON.stringify(eventName)};`,
    'return function decodeFields(parsed) {',
  ]
  for (const field of fields) {
    const i = field.index
    const value = `v${i}`
    const decoded = `d${i}`
    lines.push(`const ${value} = parsed.${field.name};`, `let ${decoded} = null;`)
    if (field.nullable) {
      lines.push(`if (${value} !== undefined && ${value} !== null) {`)
    } else {
      lines.push(`if (${value} === undefined || ${value} === null) throw invalidField(${i}, ${value});`, '{')
    }

    switch (field.kind) {
      case FieldKind.I64:
      case FieldKind.U64:
      case FieldKind.BYTES:
        lines.push(`${decoded} = decodeField(fields[${i}], ${value});`, `if (${decoded} === INVALID) throw invalidField(${i}, ${value});`)
        break
      case FieldKind.F32:
      case FieldKind.F64:
        lines.push(
          `if (typeof ${value} === "string") { ${decoded} = decodeField(fields[${i}], ${value}); if (${decoded} === INVALID) throw invalidField(${i}, ${value}); }`,
          `else if (${invalidValueCondition(field.kind, value)}) throw invalidField(${i}, ${value});`,
          `else ${decoded} = ${value};`,
        )
        break
      default:
        // bool, the integers up to 32 bits and string: JSON gives exactly the JavaScript type.
        lines.push(`if (${invalidValueCondition(field.kind, value)}) throw invalidField(${i}, ${value});`, `${decoded} = ${value};`)
    }
    lines.push('}')
  }
  lines.push(`return { ${fields.map((field) => `${field.name}: d${field.index}`).join(', ')} };`, '};')

  const factory = new Function('fields', 'invalidField', 'decodeField', 'INVALID', lines.join('\n'))
  return factory(fields, invalidField, decodeField, INVALID) as (parsed: object) => EventObject<S>
}

/**
 * Generates `stringify` with `new Function`: each field's check inlined from fields.ts, and one
 * concatenation of constant member prefixes and encoded values, in declaration order.
 */
function generateStringify<S extends EventSchema> (eventName: string, fields: readonly FieldLayout[]): (event: EventInput<S>) => string {
  const lines = [
    '"use strict";',
    // Makes the source unique per event type, as V8 shares feedback between identical sources.
    `const eventName = ${JSON.stringify(eventName)};`,
    'return function stringify(event) {',
    'if (typeof event !== "object" || event === null) throw notAnObject(event);',
  ]
  const parts: string[] = []
  for (const field of fields) {
    const i = field.index
    const value = `v${i}`
    const text = `s${i}`
    lines.push(`const ${value} = event.${field.name};`, `let ${text} = "null";`)
    if (field.nullable) {
      lines.push(`if (${value} !== undefined && ${value} !== null) {`)
    } else {
      lines.push(`if (${value} === undefined || ${value} === null) throw invalidField(${i}, ${value});`, '{')
    }
    lines.push(
      `if (${invalidValueCondition(field.kind, value)}) throw invalidField(${i}, ${value});`,
      `${text} = ${generateEncodeExpression(field.kind, value)};`,
      '}',
    )
    parts.push(JSON.stringify((parts.length === 0 ? '{' : ',') + JSON.stringify(field.name) + ':'), text)
  }
  lines.push(`return ${parts.length === 0 ? '"{}"' : parts.join(' + ') + ' + "}"'};`, '};')

  const factory = new Function('notAnObject', 'invalidField', 'encodeBigInt', 'encodeFloat', 'encodeBytes', lines.join('\n'))
  return factory(
    (value: unknown) => new TickbusError(ErrorCode.ENCODE_FAILED, `Cannot encode event ${eventName}: the event must be an object, received ${describeValue(value)}.`),
    (index: number, value: unknown) => invalidFieldValue(eventName, fields[index]!, value),
    encodeBigInt,
    encodeFloat,
    encodeBytes,
  ) as (event: EventInput<S>) => string
}

/** Returns JavaScript source that encodes the valid, non-null value `value` of `kind` as JSON. */
function generateEncodeExpression (kind: FieldKind, value: string): string {
  switch (kind) {
    case FieldKind.BOOL:
      return `(${value} ? "true" : "false")`
    case FieldKind.I64:
    case FieldKind.U64:
      return `encodeBigInt(${value})`
    case FieldKind.F32:
    case FieldKind.F64:
      return `encodeFloat(${value})`
    case FieldKind.STRING:
      return `JSON.stringify(${value})`
    case FieldKind.BYTES:
      return `encodeBytes(${value})`
    default:
      // Integers up to 32 bits; -0 is written as 0.
      return `("" + ${value})`
  }
}

/** Returned by decodeField for a value that breaks the field's JSON rule. */
const INVALID = Symbol('invalid')

/**
 * Decodes a non-null JSON value of a 64-bit, bytes or float field, for the generated code; the
 * float path is only called for strings. Returns INVALID when the value breaks the rule.
 */
function decodeField (field: FieldLayout, value: unknown): unknown {
  switch (field.kind) {
    case FieldKind.I64:
    case FieldKind.U64:
      return decodeBigInt(field.kind, value)
    case FieldKind.F32:
    case FieldKind.F64:
      return typeof value === 'string' ? parseNonFinite(value) : INVALID
    case FieldKind.BYTES:
      if (typeof value !== 'string' || !BASE64.test(value)) return INVALID
      // Copied out of Buffer's shared allocation pool into an array of its own.
      return new Uint8Array(Buffer.from(value, 'base64'))
    default:
      return INVALID
  }
}

function parseNonFinite (value: string): number | typeof INVALID {
  switch (value) {
    case 'NaN': return NaN
    case 'Infinity': return Infinity
    case '-Infinity': return -Infinity
    default: return INVALID
  }
}

function decodeBigInt (kind: 'i64' | 'u64', value: unknown): bigint | typeof INVALID {
  let result: bigint
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) return INVALID
    result = BigInt(value)
  } else if (typeof value === 'string' && DECIMAL_INTEGER.test(value)) {
    result = BigInt(value)
  } else {
    return INVALID
  }
  const range = INTEGER_RANGES[kind]
  return result >= range.min && result <= range.max ? result : INVALID
}

function describeJsonProblem (field: FieldLayout, value: unknown): string {
  if (value === undefined) return 'is required'
  if (value === null) return 'is not nullable'
  switch (field.kind) {
    case FieldKind.BOOL:
      return 'must be true or false'
    case FieldKind.I8:
    case FieldKind.U8:
    case FieldKind.I16:
    case FieldKind.U16:
    case FieldKind.I32:
    case FieldKind.U32:
      return `must be an integer from ${INTEGER_RANGES[field.kind].min} to ${INTEGER_RANGES[field.kind].max}`
    case FieldKind.I64:
    case FieldKind.U64:
      return `must be an integer from ${INTEGER_RANGES[field.kind].min} to ${INTEGER_RANGES[field.kind].max}, ` +
        'as a JSON number within ±(2^53 - 1) or as a decimal string'
    case FieldKind.F32:
      return `must be a number of magnitude below ${F32_OVERFLOW_THRESHOLD} (2^128 - 2^103), or "NaN", "Infinity" or "-Infinity"`
    case FieldKind.F64:
      return 'must be a number, or "NaN", "Infinity" or "-Infinity"'
    case FieldKind.STRING:
      return 'must be a string'
    case FieldKind.BYTES:
      return 'must be a base64 string (standard alphabet, with padding)'
  }
}

/** Writes a 64-bit integer as a JSON number within ±(2^53 - 1) and as a decimal string beyond. */
function encodeBigInt (integer: bigint): string {
  const safe = integer <= MAX_SAFE && integer >= -MAX_SAFE
  return safe ? integer.toString() : `"${integer}"`
}

function encodeBytes (bytes: Uint8Array): string {
  return `"${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}"`
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

function encodeFloat (value: number): string {
  if (Number.isFinite(value)) return Object.is(value, -0) ? '-0' : String(value)
  if (Number.isNaN(value)) return '"NaN"'
  return value > 0 ? '"Infinity"' : '"-Infinity"'
}
