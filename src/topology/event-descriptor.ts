import { describeValue, ErrorCode, TickbusError } from '../errors.js'
import { defineEvent, type EventType } from '../schema/define-event.js'
import { type EventSchema, type FieldSpec, isFieldKind, t } from '../schema/fields.js'
import type { EventFieldDescriptors, EventTypeDescriptor } from './types.js'

/**
 * Returns the fields of an event type as plain data: `{ kind, isNullable }` per field name, in
 * declaration order. This is a FieldSpec without its `nullable()` method, which structured clone
 * cannot copy.
 *
 * @throws TickbusError INVALID_TOPOLOGY when `eventType` has no schema of field specs, which
 * happens only for an object that did not come from defineEvent().
 */
export function describeEventFields (eventType: Pick<EventType, 'name' | 'schema'>): EventFieldDescriptors {
  const schema: unknown = eventType.schema
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new TickbusError(ErrorCode.INVALID_TOPOLOGY, `event type ${JSON.stringify(eventType.name)}: schema must be an object of field specs, received ${describeValue(schema)}. Create event types with defineEvent().`)
  }

  const fields: Record<string, { kind: FieldSpec['kind'], isNullable: boolean }> = {}
  for (const [name, spec] of Object.entries(schema)) {
    const { kind, isNullable } = (spec ?? {}) as Partial<FieldSpec>
    if (!isFieldKind(kind) || typeof isNullable !== 'boolean') {
      throw new TickbusError(ErrorCode.INVALID_TOPOLOGY, `event type ${JSON.stringify(eventType.name)}: field ${JSON.stringify(name)} is not a field spec from t.*(), received ${describeValue(spec)}.`)
    }
    fields[name] = { kind, isNullable }
  }
  return fields
}

/**
 * Re-creates an event type from its descriptor with defineEvent(). The result has the same
 * layout, view and JSON codec as the type the topology was built from, on any thread.
 *
 * @throws TickbusError INVALID_TOPOLOGY naming the event type and field when a field kind is
 * unknown, and INVALID_SCHEMA (from defineEvent) when a name is invalid.
 */
export function eventTypeFromDescriptor (descriptor: Pick<EventTypeDescriptor, 'name' | 'fields'>): EventType {
  const schema: Record<string, FieldSpec> = {}
  for (const [name, { kind, isNullable }] of Object.entries(descriptor.fields)) {
    if (!isFieldKind(kind)) {
      throw new TickbusError(ErrorCode.INVALID_TOPOLOGY, `event type ${JSON.stringify(descriptor.name)}: field ${JSON.stringify(name)} has the unknown kind ${describeValue(kind)}.`)
    }
    const spec: FieldSpec = t[kind]()
    schema[name] = isNullable ? spec.nullable() : spec
  }
  return defineEvent(descriptor.name, schema as EventSchema)
}
