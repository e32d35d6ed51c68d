import { jsonCodec, type JsonCodec } from '../codecs/json.js'
import { describeValue, ErrorCode, TickbusError } from '../errors.js'
import type { RingMemory } from '../ring/memory.js'
import { computeBodyLayout, describeLayout, type BodyLayout, type FieldLayout } from './body-layout.js'
import { createMeasure, generateEncodeInto, type EncodeInto, type MeasureBody } from './body-writer.js'
import { FieldKind, isFieldKind, type EventSchema, type FieldSpec, type FieldValue } from './fields.js'
import { generateViewClass, type ViewClass } from './view-class.js'
import { EventView, type ViewContext } from './view.js'

/** An event as a plain object: every field present, nullable fields possibly null. */
export type EventObject<S extends EventSchema> = { -readonly [K in keyof S]: FieldValue<S[K]> }

type NullableKeys<S extends EventSchema> = {
  [K in keyof S]: S[K] extends FieldSpec<FieldKind, true> ? K : never
}[keyof S]

/** An event as the writer and codecs accept it: nullable fields may also be left out. */
export type EventInput<S extends EventSchema> =
  & { [K in Exclude<keyof S, NullableKeys<S>>]: FieldValue<S[K]> }
  & { [K in NullableKeys<S>]?: FieldValue<S[K]> | undefined }

/** The plain-object type of an event type: `EventOf<typeof Move>`. */
export type EventOf<E> = E extends EventType<infer S> ? EventObject<S> : never

/** Names of the string and bytes fields of a schema. */
export type VariableFieldName<S extends EventSchema> = {
  [K in keyof S]: S[K] extends FieldSpec<'string' | 'bytes', boolean> ? K : never
}[keyof S] & string

/**
 * Read-only field getters of a schema. The generic EventSchema (string keys) gets none, so that
 * every specific event type's view is assignable to the view of EventType<EventSchema>.
 */
type FieldGetters<S extends EventSchema> = string extends keyof S ? unknown : { readonly [K in keyof S]: FieldValue<S[K]> }

/** A view of one event type: the EventView metadata plus one read-only getter per field. */
export type EventViewOf<S extends EventSchema> =
  & Omit<EventView, 'toObject' | 'fieldBytes' | '$bind'>
  & FieldGetters<S>
  & {
    /** Copies the event out of shared memory; bytes fields get fresh, non-shared arrays. */
    toObject(): EventObject<S>
    fieldBytes(name: VariableFieldName<S>): Uint8Array | null
    $bind(memory: RingMemory, recordOffset: number, generation: number): EventViewOf<S>
  }

/** The view type of an event type: `ViewOf<typeof Move>`. */
export type ViewOf<E> = E extends EventType<infer S> ? EventViewOf<S> : never

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Names a field cannot have because views or plain objects already use them: the EventView
 * members, Object.prototype members (a view inherits them) and toJSON (JSON.stringify calls it).
 */
const RESERVED_FIELD_NAMES: ReadonlySet<string> = new Set([
  ...Object.getOwnPropertyNames(EventView.prototype),
  ...Object.getOwnPropertyNames(Object.prototype),
  'toJSON',
])

/**
 * Defines an event type from its name and fields:
 *
 *   const Move = defineEvent('Move', { playerId: t.u32(), x: t.f32(), name: t.string(), avatar: t.bytes().nullable() })
 *   type Move = EventOf<typeof Move>
 *
 * Field names match /^[A-Za-z_][A-Za-z0-9_]*$/ and must not be EventView members (topic, offset,
 * key, headers, toObject and the rest) or Object.prototype members. The event name is any
 * non-empty string without control characters or surrounding whitespace.
 *
 * The returned type has no numeric id: an EventRegistry assigns ids, so one definition can be
 * registered with several buses. Callable from any thread; event types are plain data plus
 * generated functions and are not sent between threads, so workers import the same definition.
 *
 * @throws TickbusError INVALID_SCHEMA naming the offending field or event name.
 */
export function defineEvent<const S extends EventSchema> (name: string, fields: S): EventType<S> {
  return new EventType(name, fields)
}

/** An event type: its schema, record body layout, writer, views and JSON codec. Immutable. */
export class EventType<S extends EventSchema = EventSchema> {
  readonly name: string
  readonly schema: S
  readonly layout: BodyLayout
  /** Description of the layout, equal between two definitions exactly when their records are interchangeable. */
  readonly signature: string
  readonly #encodeInto: EncodeInto
  readonly #measure: MeasureBody
  readonly #fieldsByName: ReadonlyMap<string, FieldLayout>
  #viewClass: ViewClass | undefined
  #checkedViewClass: ViewClass | undefined
  #json: JsonCodec<S> | undefined

  /** Use {@link defineEvent}. */
  constructor (name: string, schema: S) {
    validateEventName(name)
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
      throw new TickbusError(ErrorCode.INVALID_SCHEMA, `Invalid event ${name}: fields must be an object of field declarations, received ${describeValue(schema)}.`)
    }
    const declarations = Object.entries(schema).map(([fieldName, spec]) => validateField(name, fieldName, spec))

    this.name = name
    this.schema = schema
    this.layout = computeBodyLayout(declarations)
    this.signature = describeLayout(name, this.layout)
    this.#measure = createMeasure(name, this.layout)
    this.#encodeInto = generateEncodeInto(name, this.layout, this.#measure)
    this.#fieldsByName = new Map(this.layout.fields.map((field) => [field.name, field]))
  }

  /** Fields in declaration order, with their offsets in the record body. */
  get fields (): readonly FieldLayout[] {
    return this.layout.fields
  }

  /** Returns the layout of the field called `name`, or undefined. */
  field (name: string): FieldLayout | undefined {
    return this.#fieldsByName.get(name)
  }

  /**
   * Writes `event` as a record body at absolute byte offset `bodyOffset` of `memory` (a multiple
   * of 8, where the ring places bodies) and returns the body size in bytes, a multiple of 8 with
   * zeroed padding. When the body needs more than `availableBytes`, returns minus the size it
   * needs; the caller makes room and calls again. Allocates nothing for scalar fields and ASCII
   * strings of up to 24 characters.
   *
   * @throws TickbusError ENCODE_FAILED naming the event, field, rule and value when a field has
   * the wrong type or range, a non-nullable field is null or missing, or bodyOffset is misaligned.
   */
  encodeInto (event: EventInput<S>, memory: RingMemory, bodyOffset: number, availableBytes: number): number {
    return this.#encodeInto(event, memory, bodyOffset, availableBytes)
  }

  /**
   * Returns the body size in bytes, a multiple of 8, that encodeInto needs for `event`.
   * Checks only the string and bytes fields, whose lengths it needs.
   *
   * @throws TickbusError ENCODE_FAILED for a missing or mistyped string or bytes field.
   */
  measure (event: EventInput<S>): number {
    return this.#measure(event)
  }

  /**
   * Creates a view for this type, to be positioned with `$bind`. In development mode
   * (`context.devMode`) the view's getters check that its records are still held; otherwise
   * they contain no check. The view classes are generated on first use, per mode.
   */
  createView (context: ViewContext): EventViewOf<S> {
    let ViewClassOfEvent: ViewClass
    if (context.devMode) {
      ViewClassOfEvent = this.#checkedViewClass ??= generateViewClass(this.name, this.layout, true)
    } else {
      ViewClassOfEvent = this.#viewClass ??= generateViewClass(this.name, this.layout, false)
    }
    return new ViewClassOfEvent(context) as unknown as EventViewOf<S>
  }

  /** JSON codec of this type (see jsonCodec), created on first use. */
  get json (): JsonCodec<S> {
    return this.#json ??= jsonCodec(this)
  }

  toString (): string {
    return `EventType(${this.name})`
  }
}

function validateEventName (name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new TickbusError(ErrorCode.INVALID_SCHEMA, `Invalid event name: must be a non-empty string, received ${describeValue(name)}.`)
  }
  if (name.trim() !== name || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new TickbusError(
      ErrorCode.INVALID_SCHEMA,
      `Invalid event name ${JSON.stringify(name)}: must not contain control characters or start or end with whitespace.`,
    )
  }
}

function validateField (eventName: string, fieldName: string, spec: unknown): { name: string, kind: FieldKind, nullable: boolean } {
  const prefix = `Invalid event ${eventName}: field ${JSON.stringify(fieldName)}`
  if (!IDENTIFIER.test(fieldName)) {
    throw new TickbusError(ErrorCode.INVALID_SCHEMA, `${prefix} is not a valid name; field names must match /^[A-Za-z_][A-Za-z0-9_]*$/.`)
  }
  if (RESERVED_FIELD_NAMES.has(fieldName)) {
    throw new TickbusError(
      ErrorCode.INVALID_SCHEMA,
      `${prefix} collides with a member of event views or plain objects; rename the field (reserved: ${[...RESERVED_FIELD_NAMES].filter((n) => !n.startsWith('$')).join(', ')}).`,
    )
  }
  const kind = typeof spec === 'object' && spec !== null ? (spec as { kind?: unknown }).kind : undefined
  if (!isFieldKind(kind)) {
    throw new TickbusError(
      ErrorCode.INVALID_SCHEMA,
      `${prefix} has an unknown kind ${describeValue(kind ?? spec)}; declare it with t.${Object.values(FieldKind).join('(), t.')}().`,
    )
  }
  const nullable = (spec as { isNullable?: unknown }).isNullable
  if (typeof nullable !== 'boolean') {
    throw new TickbusError(ErrorCode.INVALID_SCHEMA, `${prefix} has no boolean isNullable; declare it with the t.* builders.`)
  }
  return { name: fieldName, kind, nullable }
}
