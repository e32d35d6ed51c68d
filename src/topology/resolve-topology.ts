import protobuf from 'protobufjs'

import type { Codec } from '../codecs/codec.js'
import { protobufCodec } from '../codecs/protobuf.js'
import { describeValue, ErrorCode, TickbusError } from '../errors.js'
import type { EventType } from '../schema/define-event.js'
import { eventTypeFromDescriptor } from './event-descriptor.js'
import type { BindingDescriptor, Dispatch, GroupDescriptor, MatchDescriptor, ModuleReference, Topology } from './types.js'

/**
 * A fetched record as bindings see it: what a match predicate receives, and the second argument
 * of a custom decoder function. Header values are raw bytes, null for a header without a value.
 */
export interface BindingRecord {
  /** Topic id from the topology (1-based). */
  readonly topicId: number
  readonly partition: number
  /** Kafka offset, exact below 2^53. */
  readonly offset: number
  /** Broker timestamp in ms since the epoch. */
  readonly timestamp: number
  readonly key: Uint8Array | null
  readonly value: Uint8Array | null
  readonly headers: ReadonlyArray<readonly [string, Uint8Array | null]>
}

/** A binding with its event type, decoder and match function. */
export interface LiveBinding {
  readonly eventTypeId: number
  readonly eventType: EventType
  readonly eventTypeName: string
  /** Decoder name for decode-error records and logs: `json`, `protobuf game.Move` or `custom decodeMove`. */
  readonly decoderName: string
  /**
   * Returns whether the binding applies to the record. A predicate that throws or returns a
   * non-boolean throws here, and the caller counts that as a failed attempt.
   */
  matches (record: BindingRecord): boolean
  /**
   * Returns the event object decoded from `value`, or throws with the reason. The JSON and
   * protobuf decoders throw TickbusError DECODE_FAILED, also for a null value (a tombstone).
   */
  decode (value: Uint8Array | null, record: BindingRecord): unknown
}

export interface LiveTopic {
  readonly id: number
  readonly name: string
  readonly partitions: number
  readonly dispatch: Dispatch
  readonly deadLetterTopic: string | undefined
  /** Bindings in declaration order. */
  readonly bindings: readonly LiveBinding[]
}

/** A topology with live objects, as a consumer worker uses it. */
export interface LiveTopology {
  /** Topics by `id - 1`. */
  readonly topics: readonly LiveTopic[]
  readonly topicsByName: ReadonlyMap<string, LiveTopic>
  readonly groups: readonly GroupDescriptor[]
  /** Event types by `id - 1`. */
  readonly eventTypes: readonly EventType[]
  readonly eventTypesByName: ReadonlyMap<string, EventType>
}

/** Accepted exports of a custom decoder module. */
type CustomDecoderExport =
  | Pick<Codec<unknown>, 'decode'>
  | ((value: Uint8Array | null, record: BindingRecord) => unknown)

/**
 * Turns a plain topology (as `build()` returns it, possibly after structured clone) back into
 * event types, decoders and match functions. Event types are re-created with defineEvent, protobuf
 * types with `Root.fromJSON`, and custom decoders and predicates are imported with `import()`, once
 * per module. Callable on any thread. Call it on the main thread before starting workers to find
 * a broken module early.
 *
 * @throws TickbusError INVALID_TOPOLOGY naming the binding and module when a module cannot be
 * imported, lacks the export or exports the wrong kind of value. The same error is thrown when a
 * protobuf type does not map onto its event type, or when the topology's ids are inconsistent.
 */
export async function resolveTopology (topology: Topology): Promise<LiveTopology> {
  const eventTypes = topology.eventTypes.map((descriptor, index) => {
    if (descriptor.id !== index + 1) throw inconsistent(`event type ${JSON.stringify(descriptor.name)} has id ${descriptor.id} at index ${index}`)
    return eventTypeFromDescriptor(descriptor)
  })
  const roots = topology.protobufRoots.map((json) => protobuf.Root.fromJSON(json))
  const modules = new ModuleLoader()

  const topics: LiveTopic[] = []
  for (const [index, topic] of topology.topics.entries()) {
    if (topic.id !== index + 1) throw inconsistent(`topic ${JSON.stringify(topic.name)} has id ${topic.id} at index ${index}`)
    const bindings: LiveBinding[] = []
    for (const binding of topic.bindings) {
      bindings.push(await resolveBinding(binding, topic.name, eventTypes, roots, modules))
    }
    topics.push({
      id: topic.id,
      name: topic.name,
      partitions: topic.partitions,
      dispatch: topic.dispatch,
      deadLetterTopic: topic.deadLetterTopic,
      bindings,
    })
  }

  return {
    topics,
    topicsByName: new Map(topics.map((topic) => [topic.name, topic])),
    groups: topology.groups,
    eventTypes,
    eventTypesByName: new Map(eventTypes.map((eventType) => [eventType.name, eventType])),
  }
}

async function resolveBinding (
  binding: BindingDescriptor,
  topicName: string,
  eventTypes: readonly EventType[],
  roots: readonly protobuf.Root[],
  modules: ModuleLoader,
): Promise<LiveBinding> {
  const eventType = eventTypes[binding.eventType - 1]
  if (eventType === undefined) throw inconsistent(`a binding of topic ${JSON.stringify(topicName)} refers to event type id ${binding.eventType}, which does not exist`)
  const where = `binding of event type ${JSON.stringify(eventType.name)} to topic ${JSON.stringify(topicName)}`

  let decoderName: string
  let decode: LiveBinding['decode']
  const decoder = binding.decoder
  switch (decoder.kind) {
    case 'json':
      decoderName = 'json'
      decode = decodeValue(eventType.json)
      break
    case 'protobuf': {
      const root = roots[decoder.root]
      if (root === undefined) throw inconsistent(`${where} refers to protobuf root ${decoder.root}, which does not exist`)
      decoderName = `protobuf ${decoder.typeName.replace(/^\./, '')}`
      try {
        decode = decodeValue(protobufCodec(eventType, root.lookupType(decoder.typeName)))
      } catch (error) {
        throw new TickbusError(ErrorCode.INVALID_TOPOLOGY, `${where}: ${(error as Error).message}`, { topic: topicName, cause: error })
      }
      break
    }
    case 'custom': {
      const exported = await modules.load(decoder.decoder, `${where}: custom decoder`, topicName)
      decoderName = `custom ${decoder.decoder.export}`
      decode = customDecode(exported, decoder.decoder, where, topicName)
      break
    }
  }

  return {
    eventTypeId: binding.eventType,
    eventType,
    eventTypeName: eventType.name,
    decoderName,
    matches: await resolveMatch(binding.match, where, topicName, modules),
    decode,
  }
}

/** Wraps a codec so that a null value fails like any value the codec rejects. */
function decodeValue (codec: Pick<Codec<unknown>, 'decode'>): LiveBinding['decode'] {
  return (value) => {
    if (value === null) throw new TickbusError(ErrorCode.DECODE_FAILED, 'The record value is null (a tombstone), so there is nothing to decode.')
    return codec.decode(value)
  }
}

function customDecode (exported: unknown, reference: ModuleReference, where: string, topicName: string): LiveBinding['decode'] {
  const candidate = exported as CustomDecoderExport
  if (typeof candidate === 'function') return candidate
  if (typeof candidate === 'object' && candidate !== null && typeof candidate.decode === 'function') {
    return decodeValue(candidate)
  }
  throw new TickbusError(
    ErrorCode.INVALID_TOPOLOGY,
    `${where}: export ${JSON.stringify(reference.export)} of ${reference.module} must be a function (value, record) => event or an object with a decode(bytes) method, received ${describeValue(exported)}.`,
    { topic: topicName },
  )
}

const matchAlways = (): boolean => true

async function resolveMatch (match: MatchDescriptor, where: string, topicName: string, modules: ModuleLoader): Promise<LiveBinding['matches']> {
  switch (match.kind) {
    case 'always':
      return matchAlways
    case 'header':
      return matchHeader(match.header, match.value)
    case 'predicate': {
      const predicate = await modules.load(match.predicate, `${where}: match predicate`, topicName)
      if (typeof predicate !== 'function') {
        throw new TickbusError(
          ErrorCode.INVALID_TOPOLOGY,
          `${where}: match predicate export ${JSON.stringify(match.predicate.export)} of ${match.predicate.module} must be a function (record) => boolean, received ${describeValue(predicate)}.`,
          { topic: topicName },
        )
      }
      return (record) => {
        const result: unknown = predicate(record)
        if (typeof result === 'boolean') return result
        // A Promise from an async predicate would otherwise count as a match.
        const received = result instanceof Promise ? 'a Promise' : describeValue(result)
        throw new TickbusError(ErrorCode.DECODE_FAILED, `Match predicate ${match.predicate.export} returned ${received} instead of a boolean. Predicates must be synchronous.`, { topic: topicName })
      }
    }
  }
}

/** Matches records with a header `name` whose value equals `value` as UTF-8 bytes. */
function matchHeader (name: string, value: string): LiveBinding['matches'] {
  const expected = Buffer.from(value, 'utf8')
  return (record) => {
    const headers = record.headers
    for (let i = 0; i < headers.length; i++) {
      const header = headers[i] as readonly [string, Uint8Array | null]
      const headerValue = header[1]
      if (header[0] === name && headerValue !== null && expected.equals(headerValue)) return true
    }
    return false
  }
}

/** Imports each module once and looks up exports in it. */
class ModuleLoader {
  readonly #modules = new Map<string, Promise<Record<string, unknown>>>()

  async load (reference: ModuleReference, where: string, topicName: string): Promise<unknown> {
    let loading = this.#modules.get(reference.module)
    if (loading === undefined) {
      loading = import(reference.module) as Promise<Record<string, unknown>>
      this.#modules.set(reference.module, loading)
    }

    let exports: Record<string, unknown>
    try {
      exports = await loading
    } catch (error) {
      throw new TickbusError(ErrorCode.INVALID_TOPOLOGY, `${where}: importing ${reference.module} failed: ${(error as Error).message}`, { topic: topicName, cause: error })
    }
    if (!(reference.export in exports)) {
      const available = Object.keys(exports).join(', ') || 'none'
      throw new TickbusError(
        ErrorCode.INVALID_TOPOLOGY,
        `${where}: module ${reference.module} has no export ${JSON.stringify(reference.export)} (exports: ${available}).`,
        { topic: topicName },
      )
    }
    return exports[reference.export]
  }
}

function inconsistent (detail: string): TickbusError {
  return new TickbusError(ErrorCode.INVALID_TOPOLOGY, `The topology is inconsistent: ${detail}. Pass the object that build() returned, unchanged.`)
}
