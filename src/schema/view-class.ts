import { NO_BYTES, RECORD_HEADER_BYTES } from '../ring/layout.js'
import { scalarAccessOf, type BodyLayout, type FieldLayout } from './body-layout.js'
import { FieldKind } from './fields.js'
import { nodeBufferOf } from './utf8.js'
import { EventView, type ViewContext } from './view.js'

/** Constructor of a generated view class. */
export type ViewClass = new (context: ViewContext) => EventView

/**
 * Generates the view class of an event type with `new Function`: one getter per field, reading
 * at a constant offset. Each getter is its own function, so V8 keeps its property access
 * monomorphic even when one loop reads many event types. Getters made from one shared closure
 * share their type feedback across event types: bench/views.bench.ts measures them as fast with
 * one event type and several times slower with eight.
 *
 * With `checked`, every getter first verifies that the view's records are still held (development
 * mode); without it the getters contain no check at all.
 *
 * The generated source contains only validated identifiers (field names), numbers, `eventName`
 * as a JSON string literal, and a class name derived from `eventName` with every character
 * outside [A-Za-z0-9_$] replaced by `_`.
 */
export function generateViewClass (eventName: string, layout: BodyLayout, checked: boolean): ViewClass {
  const members = layout.fields.map((field) => generateGetter(field, layout, checked))
  members.push(generateToObject(layout), BIND_METHOD)

  const className = toIdentifier(eventName) + (checked ? 'CheckedView' : 'View')
  // The event name makes the source of each event type unique: V8 caches `new Function` by
  // source text, and two types with the same layout would otherwise share type feedback.
  const source = [
    '"use strict";',
    `const eventName = ${JSON.stringify(eventName)};`,
    `return class ${className} extends EventView {`,
    ...members,
    '};',
  ].join('\n')
  const ViewClassOfEvent = new Function('EventView', 'copyBytes', 'nodeBufferOf', source)(EventView, copyBytes, nodeBufferOf) as ViewClass

  const slotOffsets = Object.create(null) as Record<string, number>
  for (const field of layout.fields) {
    if (field.kind === FieldKind.STRING || field.kind === FieldKind.BYTES) slotOffsets[field.name] = field.offset
  }
  Object.defineProperty(ViewClassOfEvent.prototype, '$eventName', { value: eventName })
  Object.defineProperty(ViewClassOfEvent.prototype, '$slotOffsets', { value: Object.freeze(slotOffsets) })
  return ViewClassOfEvent
}

/**
 * Copy of EventView.$bind for each generated class. One shared $bind would store into every view
 * class of the process, and V8 makes a property access megamorphic, and slower, beyond four
 * object shapes. bench/views.bench.ts shows the cost in its tables with several event types.
 */
const BIND_METHOD = `$bind(memory, recordOffset, generation) {
if (memory !== this.$memory) {
this.$memory = memory;
this.$buffer = nodeBufferOf(memory);
}
this.$recordOffset = recordOffset;
this.$generation = generation;
this.$headers = undefined;
return this;
}`

function generateGetter (field: FieldLayout, layout: BodyLayout, checked: boolean): string {
  const check = checked
    ? `if (this.$generation <= this.$context.releasedGeneration) this.$assertReadable(${JSON.stringify(field.name)});\n`
    : ''
  const at = RECORD_HEADER_BYTES + field.offset
  return `get ${field.name}() {\n${check}${generateRead(field, layout, at)}\n}`
}

function generateRead (field: FieldLayout, layout: BodyLayout, at: number): string {
  if (field.kind === FieldKind.STRING || field.kind === FieldKind.BYTES) {
    const nullCheck = field.nullable ? `if (length === ${NO_BYTES}) return null;\n` : ''
    const value = field.kind === FieldKind.STRING
      ? 'this.$buffer.toString("utf8", start, start + length)'
      : 'memory.u8.subarray(start, start + length)'
    return [
      'const memory = this.$memory;',
      'const record = this.$recordOffset;',
      `const length = memory.u32[(record + ${at + 4}) >> 2];`,
      nullCheck + `const start = record + ${RECORD_HEADER_BYTES} + memory.u32[(record + ${at}) >> 2];`,
      `return ${value};`,
    ].join('\n')
  }

  const access = scalarAccessOf(field.kind)
  const read = `memory.${access.array}[(record + ${at}) >> ${access.shift}]`
  const value = field.kind === FieldKind.BOOL ? `${read} !== 0` : read
  const nullCheck = field.nullBit >= 0
    ? `if ((memory.u8[record + ${RECORD_HEADER_BYTES + layout.bitmapOffset + (field.nullBit >> 3)}] & ${1 << (field.nullBit & 7)}) !== 0) return null;\n`
    : ''
  return `const memory = this.$memory;\nconst record = this.$recordOffset;\n${nullCheck}return ${value};`
}

function generateToObject (layout: BodyLayout): string {
  const properties = layout.fields.map((field) => field.kind === FieldKind.BYTES
    ? `${field.name}: copyBytes(this.${field.name})`
    : `${field.name}: this.${field.name}`)
  return `toObject() {\nreturn {\n${properties.join(',\n')}\n};\n}`
}

/** Copies bytes out of shared memory into a fresh, non-shared Uint8Array. */
function copyBytes (bytes: Uint8Array | null): Uint8Array | null {
  return bytes === null ? null : bytes.slice()
}

/** Turns an event name into an identifier for the generated class name (stack traces only). */
function toIdentifier (name: string): string {
  const identifier = name.replace(/[^A-Za-z0-9_$]/g, '_')
  return /^[0-9]/.test(identifier) ? '_' + identifier : identifier
}
