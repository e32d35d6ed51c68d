import { isAbsolute } from 'node:path'
import { pathToFileURL } from 'node:url'
import protobuf from 'protobufjs'

import { protobufCodec } from '../codecs/protobuf.js'
import { describeValue, TickbusError } from '../errors.js'
import type { EventType } from '../schema/define-event.js'
import { checkTopicReference, isObject, type TopicTable } from './collect-topics.js'
import type { DecoderSpec, MatchSpec } from './decoders.js'
import { describeEventFields } from './event-descriptor.js'
import { type ProblemList, quote } from './problems.js'
import {
  type BindingDescriptor,
  type DecoderDescriptor,
  type EventTypeDescriptor,
  type MatchDescriptor,
  MAX_TOPOLOGY_ID,
  type ModuleReference,
  type ProtobufRootJson,
} from './types.js'

/** Options of one binding, as given to `bind()`. */
export interface BindingOptions {
  /** Default {@link jsonDecoder}. */
  readonly decoder?: DecoderSpec
  /** Default: the binding matches every record of its topic. */
  readonly match?: MatchSpec
}

export interface EventTypeRegistry {
  readonly descriptors: EventTypeDescriptor[]
  readonly idByName: Map<string, number>
}

/**
 * Assigns ids to the event types in registration order (1-based) and reports invalid ones and
 * different event types with one name. Registering one event type again keeps its first id.
 */
export function collectEventTypes (registrations: readonly unknown[], problems: ProblemList): EventTypeRegistry {
  const descriptors: EventTypeDescriptor[] = []
  const idByName = new Map<string, number>()
  const fieldsJsonById = new Map<number, string>()

  for (const eventType of registrations) {
    const name = isObject(eventType) ? (eventType as Partial<EventType>).name : undefined
    if (typeof name !== 'string' || name.length === 0) {
      problems.add({ message: `event type must come from defineEvent(), received ${describeValue(eventType)}.` })
      continue
    }
    const where = `event type ${quote(name)}`

    let fields
    try {
      fields = describeEventFields(eventType as EventType)
    } catch (error) {
      if (!(error instanceof TickbusError)) throw error
      problems.add({ message: error.message })
      continue
    }
    const fieldsJson = JSON.stringify(fields)

    const earlierId = idByName.get(name)
    if (earlierId !== undefined) {
      const earlierJson = fieldsJsonById.get(earlierId) as string
      if (earlierJson !== fieldsJson) {
        problems.add({
          message: `${where} is registered twice with different fields (${shorten(earlierJson)} and ${shorten(fieldsJson)}). Give each event type its own name.`,
        })
      }
      continue
    }

    const id = descriptors.length + 1
    if (id > MAX_TOPOLOGY_ID) {
      problems.add({ message: `${where}: a topology can contain at most ${MAX_TOPOLOGY_ID} event types, because record headers store the event type id as a u16.` })
      break
    }
    descriptors.push({ id, name, fields })
    idByName.set(name, id)
    fieldsJsonById.set(id, fieldsJson)
  }
  return { descriptors, idByName }
}

/** Bindings grouped by topic, and the protobuf roots their decoders refer to by index. */
export interface CollectedBindings {
  readonly byTopic: Map<string, BindingDescriptor[]>
  readonly protobufRoots: ProtobufRootJson[]
}

/**
 * Validates the `bind()` calls and keeps their order per topic. An identical repeat of a binding
 * (same event type, decoder and match) is dropped, because under `dispatch: 'all'` it would decode
 * every record twice.
 */
export function collectBindings (
  declarations: ReadonlyArray<{ topic: unknown, eventType: unknown, options: unknown }>,
  topics: TopicTable,
  eventTypes: EventTypeRegistry,
  problems: ProblemList,
): CollectedBindings {
  const byTopic = new Map<string, BindingDescriptor[]>()
  const seenByTopic = new Map<string, Set<string>>()
  const roots = new ProtobufRoots()

  for (const { topic, eventType, options } of declarations) {
    const eventName = isObject(eventType) ? (eventType as Partial<EventType>).name : undefined
    const eventTypeId = typeof eventName === 'string' ? eventTypes.idByName.get(eventName) : undefined
    const where = `binding of event type ${quote(eventName)} to topic ${quote(topic)}`

    if (!checkTopicReference(where, topic, topics, problems)) continue
    // An invalid event type was reported when the event types were collected.
    if (eventTypeId === undefined) continue
    if (options !== undefined && !isObject(options)) {
      problems.add({ topic, message: `${where}: options must be an object, received ${describeValue(options)}.` })
      continue
    }

    const { decoder, match } = (options ?? {}) as Partial<Record<keyof BindingOptions, unknown>>
    const decoderDescriptor = normalizeDecoder(where, topic, eventType as EventType, decoder, roots, problems)
    const matchDescriptor = normalizeMatch(where, topic, match, problems)
    if (decoderDescriptor === null || matchDescriptor === null) continue

    const binding: BindingDescriptor = { eventType: eventTypeId, decoder: decoderDescriptor, match: matchDescriptor }
    const key = JSON.stringify(binding)
    const seen = seenByTopic.get(topic) ?? new Set<string>()
    seenByTopic.set(topic, seen)
    if (seen.has(key)) continue
    seen.add(key)

    const bindings = byTopic.get(topic) ?? []
    byTopic.set(topic, bindings)
    bindings.push(binding)
  }
  return { byTopic, protobufRoots: roots.json }
}

function normalizeDecoder (where: string, topic: string, eventType: EventType, decoder: unknown, roots: ProtobufRoots, problems: ProblemList): DecoderDescriptor | null {
  if (decoder === undefined) return { kind: 'json' }
  const kind = isObject(decoder) ? (decoder as { kind?: unknown }).kind : undefined
  switch (kind) {
    case 'json':
      return { kind: 'json' }
    case 'protobuf':
      return roots.add(`${where}: protobuf decoder`, topic, (decoder as { type?: unknown }).type, eventType as EventType, problems)
    case 'custom': {
      const reference = normalizeModuleReference(`${where}: custom decoder`, topic, (decoder as { decoder?: unknown }).decoder, problems)
      return reference === null ? null : { kind: 'custom', decoder: reference }
    }
    default:
      problems.add({ topic, message: `${where}: decoder must come from jsonDecoder(), protobufDecoder() or customDecoder(), received ${describeValue(decoder)}.` })
      return null
  }
}

function normalizeMatch (where: string, topic: string, match: unknown, problems: ProblemList): MatchDescriptor | null {
  if (match === undefined) return { kind: 'always' }
  if (!isObject(match)) {
    problems.add({ topic, message: `${where}: match must be { header, value } or { predicate }, received ${describeValue(match)}.` })
    return null
  }
  const hasHeader = 'header' in match
  const hasPredicate = 'predicate' in match
  if (hasHeader === hasPredicate) {
    problems.add({ topic, message: `${where}: match must have either "header" and "value" or "predicate", received ${describeValue(match)}.` })
    return null
  }

  if (hasPredicate) {
    const reference = normalizeModuleReference(`${where}: match predicate`, topic, (match as { predicate: unknown }).predicate, problems)
    return reference === null ? null : { kind: 'predicate', predicate: reference }
  }

  const { header, value } = match as { header: unknown, value?: unknown }
  if (typeof header !== 'string' || header.length === 0) {
    problems.add({ topic, message: `${where}: match header must be a non-empty string, received ${describeValue(header)}.` })
    return null
  }
  if (typeof value !== 'string') {
    problems.add({ topic, message: `${where}: match value for header ${quote(header)} must be a string, received ${describeValue(value)}.` })
    return null
  }
  return { kind: 'header', header, value }
}

/**
 * Converts a module reference to a `file:` URL and an export name. Relative paths and bare package
 * names are rejected because a worker would resolve them against tickbus's own location.
 */
function normalizeModuleReference (where: string, topic: string, reference: unknown, problems: ProblemList): ModuleReference | null {
  if (!isObject(reference)) {
    problems.add({ topic, message: `${where}: module reference must be { module, export }, received ${describeValue(reference)}.` })
    return null
  }
  const { module, export: exportName = 'default' } = reference as { module?: unknown, export?: unknown }

  let url: string | null = null
  if (module instanceof URL) {
    url = module.protocol === 'file:' ? module.href : null
  } else if (typeof module === 'string' && module.startsWith('file:')) {
    url = URL.canParse(module) ? new URL(module).href : null
  } else if (typeof module === 'string' && isAbsolute(module)) {
    url = pathToFileURL(module).href
  }
  if (url === null) {
    problems.add({
      topic,
      message: `${where}: module must be a file: URL or an absolute path, received ${describeValue(module instanceof URL ? module.href : module)}. For a module next to the caller use new URL('./file.js', import.meta.url).`,
    })
    return null
  }
  if (typeof exportName !== 'string' || exportName.length === 0) {
    problems.add({ topic, message: `${where}: export must be a non-empty export name, received ${describeValue(exportName)}.` })
    return null
  }
  return { module: url, export: exportName }
}

/**
 * Table of the protobuf roots that decoders use, each stored once as JSON. A type's root is found
 * through its parents; a type without a parent is wrapped in a root of its own.
 */
class ProtobufRoots {
  readonly json: ProtobufRootJson[] = []
  readonly #indexByRoot = new Map<object, number>()
  /** The JSON of each root parsed back, to check that every bound type can be found in it. */
  readonly #parsed: protobuf.Root[] = []

  add (where: string, topic: string, type: unknown, eventType: EventType, problems: ProblemList): DecoderDescriptor | null {
    if (!isProtobufType(type)) {
      problems.add({ topic, message: `${where}: type must be a protobufjs Type (for example root.lookupType('game.Move')), received ${describeValue(type)}.` })
      return null
    }
    const root: object = type.root ?? type
    const standalone = root === type
    const typeName = standalone ? `.${type.name}` : type.fullName

    let index = this.#indexByRoot.get(root)
    if (index === undefined) {
      let json: ProtobufRootJson
      let parsed: protobuf.Root
      try {
        json = standalone
          ? { nested: { [type.name]: type.toJSON() as protobuf.IType } }
          : (root as { toJSON: () => ProtobufRootJson }).toJSON()
        parsed = protobuf.Root.fromJSON(json)
        parsed.resolveAll()
      } catch (error) {
        problems.add({ topic, message: `${where}: the root of type ${quote(typeName)} cannot be converted to JSON and back (${(error as Error).message}).` })
        return null
      }
      index = this.json.length
      this.json.push(json)
      this.#parsed.push(parsed)
      this.#indexByRoot.set(root, index)
    }

    let parsedType: protobuf.Type
    try {
      parsedType = (this.#parsed[index] as protobuf.Root).lookupType(typeName)
    } catch (error) {
      problems.add({ topic, message: `${where}: type ${quote(typeName)} is not a message type in its root after conversion to JSON (${(error as Error).message}).` })
      return null
    }

    // Creating the codec here reports a field that does not map onto the type at build time, on
    // the main thread, instead of in each worker.
    try {
      protobufCodec(eventType, parsedType)
    } catch (error) {
      if (!(error instanceof TickbusError)) throw error
      problems.add({ topic, message: `${where}: ${error.message}` })
      return null
    }
    return { kind: 'protobuf', root: index, typeName }
  }
}

interface ProtobufTypeLike {
  readonly name: string
  readonly fullName: string
  readonly root: object | null
  toJSON: () => unknown
}

/** Recognises a protobufjs Type by shape, so that a Type from another copy of protobufjs passes. */
function isProtobufType (value: unknown): value is ProtobufTypeLike {
  if (value instanceof protobuf.Type) return true
  if (!isObject(value)) return false
  const candidate = value as Partial<ProtobufTypeLike> & { fields?: unknown }
  return typeof candidate.name === 'string' && typeof candidate.fullName === 'string' && typeof candidate.toJSON === 'function' && isObject(candidate.fields)
}

function shorten (text: string): string {
  return text.length > 200 ? `${text.slice(0, 197)}...` : text
}
