import protobuf from 'protobufjs'

import { protobufCodec } from '../codecs/protobuf.js'
import { ErrorCode, TickbusError } from '../errors.js'
import type { EventType } from '../schema/define-event.js'
import { EventView } from '../schema/view.js'
import type { BindingDescriptor, Topology } from '../topology/types.js'
import type { OutboundTables } from './outbound-topology.js'

/** Turns an event (a view or a plain object) into a Kafka message value for one topic. */
export interface OutboundEncoder {
  /** Codec name for error messages, such as `json` or `protobuf(.game.Move)`. */
  readonly name: string
  /**
   * A header that the topic's binding matches on (`match: { header, value }`), added to every
   * message that does not carry that header already, so that the topic's consumers pick the
   * binding that the event was written with. Undefined when the binding matches every record.
   */
  readonly matchHeader: readonly [string, string] | undefined
  /** Encodes the event; throws TickbusError ENCODE_FAILED when the event does not fit the codec. */
  encode (event: object): Uint8Array
}

/**
 * Encoders by (topic id, event type id), made on the producer worker on first use. A topic encodes
 * an event type with the codec of its first binding of that type: JSON when the binding decodes
 * JSON or when the topic does not bind the type, protobuf when the binding decodes protobuf, and
 * a custom decoder's export when that export is a Codec (an object with `encode`).
 */
export class OutboundEncoders {
  readonly #topology: Topology
  readonly #tables: OutboundTables
  readonly #encoders = new Map<number, OutboundEncoder>()
  readonly #roots = new Map<number, protobuf.Root>()
  readonly #customExports = new Map<string, unknown>()

  constructor (topology: Topology, tables: OutboundTables) {
    this.#topology = topology
    this.#tables = tables
  }

  /**
   * Imports the modules of every custom decoder of the topology, so that encoderFor() can stay
   * synchronous. A module that fails to import only fails the events sent with it.
   */
  async preload (): Promise<void> {
    for (const topic of this.#topology.topics) {
      for (const binding of topic.bindings) {
        const decoder = binding.decoder
        if (decoder.kind !== 'custom') continue
        const id = `${decoder.decoder.module}#${decoder.decoder.export}`
        if (this.#customExports.has(id)) continue
        try {
          const module = await import(decoder.decoder.module) as Record<string, unknown>
          this.#customExports.set(id, module[decoder.decoder.export])
        } catch (error) {
          this.#customExports.set(id, error instanceof Error ? error : new Error(String(error)))
        }
      }
    }
  }

  /**
   * Returns the encoder of an event type for a topic.
   *
   * @throws TickbusError ENCODE_FAILED when the binding's decoder cannot encode (a custom decoder
   * without `encode`, or a protobuf type that does not map onto the event type).
   */
  encoderFor (topicId: number, eventTypeId: number): OutboundEncoder {
    const key = topicId * 0x10000 + eventTypeId
    let encoder = this.#encoders.get(key)
    if (encoder === undefined) {
      encoder = this.#create(topicId, eventTypeId)
      this.#encoders.set(key, encoder)
    }
    return encoder
  }

  #create (topicId: number, eventTypeId: number): OutboundEncoder {
    const topic = this.#tables.topics[topicId]
    const eventType = this.#tables.eventTypes[eventTypeId]
    if (topic === undefined || eventType === undefined) {
      throw new TickbusError(ErrorCode.ENCODE_FAILED, `Cannot encode: topic id ${topicId} or event type id ${eventTypeId} is not in the topology.`)
    }
    const binding = topic.bindings.find((candidate) => candidate.eventType === eventTypeId)
    const matchHeader = binding?.match.kind === 'header' ? [binding.match.header, binding.match.value] as const : undefined
    if (binding === undefined || binding.decoder.kind === 'json') {
      const json = eventType.json
      return { name: 'json', matchHeader, encode: (event) => json.encode(event as never) }
    }
    if (binding.decoder.kind === 'protobuf') return { ...this.#protobufEncoder(eventType, binding), matchHeader }
    return { ...this.#customEncoder(topic.name, eventType, binding), matchHeader }
  }

  #protobufEncoder (eventType: EventType, binding: BindingDescriptor): Omit<OutboundEncoder, 'matchHeader'> {
    const decoder = binding.decoder as Extract<BindingDescriptor['decoder'], { kind: 'protobuf' }>
    let root = this.#roots.get(decoder.root)
    if (root === undefined) {
      root = protobuf.Root.fromJSON(this.#topology.protobufRoots[decoder.root] ?? {})
      this.#roots.set(decoder.root, root)
    }
    let codec: ReturnType<typeof protobufCodec>
    try {
      codec = protobufCodec(eventType, root.lookupType(decoder.typeName))
    } catch (cause) {
      throw new TickbusError(
        ErrorCode.ENCODE_FAILED,
        `Cannot encode event ${eventType.name} as protobuf ${decoder.typeName}: ${(cause as Error).message}`,
        { cause },
      )
    }
    return { name: codec.name, encode: (event) => codec.encode(event as never) }
  }

  #customEncoder (topicName: string, eventType: EventType, binding: BindingDescriptor): Omit<OutboundEncoder, 'matchHeader'> {
    const decoder = binding.decoder as Extract<BindingDescriptor['decoder'], { kind: 'custom' }>
    const id = `${decoder.decoder.module}#${decoder.decoder.export}`
    const exported = this.#customExports.get(id)
    if (exported instanceof Error) {
      throw new TickbusError(ErrorCode.ENCODE_FAILED, `Cannot encode event ${eventType.name} for topic ${topicName}: importing ${id} failed (${exported.message}).`, { cause: exported })
    }
    const encode = typeof exported === 'object' && exported !== null ? (exported as { encode?: unknown }).encode : undefined
    if (typeof encode !== 'function') {
      throw new TickbusError(
        ErrorCode.ENCODE_FAILED,
        `Cannot encode event ${eventType.name} for topic ${topicName}: its binding's custom decoder ${id} has no encode() method. ` +
        'Export a Codec (an object with decode and encode) to produce to this topic.',
      )
    }
    // A user codec gets a plain object: it may spread or keep the event, which a view does not allow.
    const encodeObject = encode as (event: object) => Uint8Array
    return {
      name: `custom(${id})`,
      encode: (event) => encodeObject.call(exported, event instanceof EventView ? event.toObject() : event),
    }
  }
}
