import { describeValue, ErrorCode, TickbusError } from '../errors.js'
import { NO_BYTES, RECORD_ALIGN } from '../ring/layout.js'
import type { RingMemory } from '../ring/memory.js'
import { scalarAccessOf, type BodyLayout, type FieldLayout } from './body-layout.js'
import { describeValueRule, FieldKind, invalidValueCondition } from './fields.js'
import { nodeBufferOf, writeUtf8 } from './utf8.js'

/**
 * Writes an event object as a record body at byte `bodyOffset` of `memory` (a multiple of 8) and
 * returns the body size in bytes, a multiple of 8. When the body needs more than
 * `availableBytes`, returns minus the size it needs and leaves the bytes in the range undefined.
 */
export type EncodeInto = (event: object, memory: RingMemory, bodyOffset: number, availableBytes: number) => number

/** Returns the body size, in bytes, that encodeInto needs for an event. */
export type MeasureBody = (event: object) => number

/** Builds the ENCODE_FAILED error for an invalid field value, naming the event, field, rule and value. */
export function invalidFieldValue (eventName: string, field: FieldLayout, value: unknown): TickbusError {
  let problem: string
  if (value === undefined) problem = 'is required'
  else if (value === null) problem = 'is not nullable'
  else problem = describeValueRule(field.kind)
  return new TickbusError(
    ErrorCode.ENCODE_FAILED,
    `Cannot encode event ${eventName}: field ${field.name} ${problem}, received ${describeValue(value)}.`,
  )
}

function notAnObject (eventName: string, value: unknown): TickbusError {
  return new TickbusError(ErrorCode.ENCODE_FAILED, `Cannot encode event ${eventName}: the event must be an object, received ${describeValue(value)}.`)
}

function misalignedBody (eventName: string, bodyOffset: unknown): TickbusError {
  return new TickbusError(
    ErrorCode.ENCODE_FAILED,
    `Cannot encode event ${eventName}: bodyOffset must be a non-negative multiple of ${RECORD_ALIGN}, received ${describeValue(bodyOffset)}.`,
  )
}

/** Builds `measure` for a layout; it checks the string and bytes fields that it sizes. */
export function createMeasure (eventName: string, layout: BodyLayout): MeasureBody {
  const variableFields = layout.fields.filter((field) => field.kind === FieldKind.STRING || field.kind === FieldKind.BYTES)
  const fixedBytes = layout.fixedBytes

  return function measure (event: object): number {
    if (typeof event !== 'object' || event === null) throw notAnObject(eventName, event)
    let end = fixedBytes
    for (const field of variableFields) {
      const value = (event as Record<string, unknown>)[field.name]
      if (value === undefined || value === null) {
        if (!field.nullable) throw invalidFieldValue(eventName, field, value)
      } else if (field.kind === FieldKind.STRING) {
        if (typeof value !== 'string') throw invalidFieldValue(eventName, field, value)
        end += Buffer.byteLength(value, 'utf8')
      } else {
        if (!(value instanceof Uint8Array)) throw invalidFieldValue(eventName, field, value)
        end += value.length
      }
    }
    return (end + RECORD_ALIGN - 1) & ~(RECORD_ALIGN - 1)
  }
}

/**
 * Generates `encodeInto` for a layout with `new Function`: straight-line code with each field's
 * validation inlined, so the hot path allocates nothing and makes no per-field calls except for
 * strings longer than ASCII_LOOP_MAX_LENGTH (utf8.ts) or with non-ASCII text (Buffer.write) and bytes (Uint8Array.set).
 *
 * A call that returns a size has validated every field. A call that returns a negative size may
 * have validated only the string and bytes fields, which the `measure` call that computes the
 * size checks. The retry with enough space validates the rest.
 */
export function generateEncodeInto (eventName: string, layout: BodyLayout, measure: MeasureBody): EncodeInto {
  const lines: string[] = [
    '"use strict";',
    // Makes the source unique per event type: V8 caches `new Function` by source text, and two
    // types with the same layout would otherwise share the type feedback of their field reads.
    `const eventName = ${JSON.stringify(eventName)};`,
    'let cachedMemory = null;',
    'let cachedBuffer = null;',
    'return function encodeInto(event, memory, bodyOffset, availableBytes) {',
    'if (typeof event !== "object" || event === null) throw notAnObject(event);',
    'if ((bodyOffset >>> 0) !== bodyOffset || (bodyOffset & 7) !== 0) throw misalignedBody(bodyOffset);',
    `if (availableBytes < ${layout.minBodyBytes}) return -measure(event);`,
    'if (memory !== cachedMemory) { cachedMemory = memory; cachedBuffer = nodeBufferOf(memory); }',
    'const bytes = memory.u8;',
    'const body = bodyOffset;',
  ]
  const bitmapBytes = layout.bitmapBytes
  for (let i = 0; i < bitmapBytes; i++) lines.push(`let nulls${i} = 0;`)

  // Fields in layout order, so writes move forward through memory.
  const inLayoutOrder = [...layout.fields].sort((a, b) => a.offset - b.offset)
  for (const field of inLayoutOrder) {
    if (field.kind !== FieldKind.STRING && field.kind !== FieldKind.BYTES) lines.push(generateScalarWrite(field))
  }
  for (let i = 0; i < bitmapBytes; i++) lines.push(`bytes[body + ${layout.bitmapOffset + i}] = nulls${i};`)

  lines.push(`let end = ${layout.fixedBytes};`)
  for (const field of layout.fields) {
    if (field.kind === FieldKind.STRING || field.kind === FieldKind.BYTES) lines.push(generateTailWrite(field))
  }

  lines.push(
    `const size = (end + ${RECORD_ALIGN - 1}) & ${~(RECORD_ALIGN - 1)};`,
    'if (size > availableBytes) return -size;',
    'for (let i = end; i < size; i++) bytes[body + i] = 0;',
    'return size;',
    '};',
  )

  const fields = layout.fields
  const factory = new Function(
    'notAnObject', 'misalignedBody', 'fail', 'measure', 'nodeBufferOf', 'writeUtf8', 'Buffer',
    lines.join('\n'),
  )
  return factory(
    (value: unknown) => notAnObject(eventName, value),
    (value: unknown) => misalignedBody(eventName, value),
    (index: number, value: unknown) => invalidFieldValue(eventName, fields[index]!, value),
    measure,
    nodeBufferOf,
    writeUtf8,
    Buffer,
  ) as EncodeInto
}

function generateScalarWrite (field: FieldLayout): string {
  const v = `v${field.index}`
  const access = scalarAccessOf(field.kind)
  const target = `memory.${access.array}[(body + ${field.offset}) >> ${access.shift}]`
  const stored = field.kind === FieldKind.BOOL ? `(${v} ? 1 : 0)` : v
  const zero = field.kind === FieldKind.I64 || field.kind === FieldKind.U64 ? '0n' : '0'
  const validate = `if (${invalidValueCondition(field.kind, v)}) throw fail(${field.index}, ${v});`
  const read = `const ${v} = event.${field.name};`

  if (!field.nullable) {
    return `${read}\nif (${v} === undefined || ${v} === null) throw fail(${field.index}, ${v});\n${validate}\n${target} = ${stored};`
  }
  const bitmapByte = `nulls${field.nullBit >> 3}`
  const mask = 1 << (field.nullBit & 7)
  return `${read}\nif (${v} === undefined || ${v} === null) { ${bitmapByte} |= ${mask}; ${target} = ${zero}; }\n` +
    `else { ${validate}\n${target} = ${stored}; }`
}

function generateTailWrite (field: FieldLayout): string {
  const v = `v${field.index}`
  const n = `n${field.index}`
  const slotOffset = `(body + ${field.offset}) >> 2`
  const slotLength = `(body + ${field.offset + 4}) >> 2`
  const lines = [`const ${v} = event.${field.name};`]

  if (field.nullable) {
    lines.push(`if (${v} === undefined || ${v} === null) { memory.u32[${slotOffset}] = 0; memory.u32[${slotLength}] = ${NO_BYTES}; } else {`)
  } else {
    lines.push(`if (${v} === undefined || ${v} === null) throw fail(${field.index}, ${v});`, '{')
  }

  if (field.kind === FieldKind.STRING) {
    // 3 bytes per UTF-16 unit is the UTF-8 worst case, so below that no length pass is needed.
    lines.push(
      `if (typeof ${v} !== "string") throw fail(${field.index}, ${v});`,
      `let ${n};`,
      `if (${v}.length * 3 <= availableBytes - end) ${n} = writeUtf8(bytes, cachedBuffer, ${v}, body + end, availableBytes - end);`,
      `else { ${n} = Buffer.byteLength(${v}, "utf8"); if (${n} > availableBytes - end) return -measure(event); cachedBuffer.write(${v}, body + end, ${n}, "utf8"); }`,
    )
  } else {
    lines.push(
      `if (!(${v} instanceof Uint8Array)) throw fail(${field.index}, ${v});`,
      `const ${n} = ${v}.length;`,
      `if (${n} > availableBytes - end) return -measure(event);`,
      `bytes.set(${v}, body + end);`,
    )
  }
  lines.push(
    `memory.u32[${slotOffset}] = end;`,
    `memory.u32[${slotLength}] = ${n};`,
    `end += ${n};`,
    '}',
  )
  return lines.join('\n')
}
