/**
 * The built topology as plain data. `build()` returns a {@link Topology} and the bus sends it to
 * every worker, so each type here survives `structuredClone` and `postMessage` unchanged: no
 * functions, class instances, Maps or symbols. Code (custom decoders, match predicates) is named
 * by module and export, and the worker imports it.
 *
 * Numeric ids are 1-based u16 values in declaration order. Id 0 is reserved for "none" in ring
 * record headers (a record that is not an event, or has no topic or group), so the largest id is
 * 65535 and a topology can contain at most 65535 topics, groups and event types each.
 */

import type { INamespace } from 'protobufjs'

import type { FieldKind } from '../schema/fields.js'

/** Maximum topic, group or event type id, which is also the maximum count of each. */
export const MAX_TOPOLOGY_ID = 0xffff

/** Start position of a consumer group on a partition that has no committed offset. */
export const InitialOffset = {
  /** From the oldest record the broker still retains. */
  EARLIEST: 'earliest',
  /** From the next record produced after the group joins. */
  LATEST: 'latest',
} as const

export type InitialOffset = (typeof InitialOffset)[keyof typeof InitialOffset]

/** Rule that selects which of a topic's bindings decode a record. */
export const Dispatch = {
  /**
   * Tries the matching bindings in declaration order and keeps the first that decodes the
   * record. A binding that fails to decode passes the record to the next one.
   */
  FIRST: 'first',
  /** Decodes the record with every matching binding, so one record can yield several events. */
  ALL: 'all',
} as const

export type Dispatch = (typeof Dispatch)[keyof typeof Dispatch]

/**
 * An export of an ES module that a worker imports: `module` is a `file:` URL and `export` the
 * export name (`default` for the default export).
 */
export interface ModuleReference {
  readonly module: string
  readonly export: string
}

/**
 * Fields of an event type by name, in declaration order: each FieldSpec's kind and nullability
 * without its `nullable()` method.
 */
export type EventFieldDescriptors = Readonly<Record<string, { readonly kind: FieldKind, readonly isNullable: boolean }>>

/** An event type as plain data, re-created in a worker with `eventTypeFromDescriptor()`. */
export interface EventTypeDescriptor {
  /** Event type id written into each record header, 1-based. */
  readonly id: number
  readonly name: string
  readonly fields: EventFieldDescriptors
}

/** Decoder of a binding. */
export type DecoderDescriptor =
  | { readonly kind: 'json' }
  | {
    readonly kind: 'protobuf'
    /** Index into {@link Topology.protobufRoots}. */
    readonly root: number
    /** Fully qualified name of the message type in that root, with a leading dot. */
    readonly typeName: string
  }
  | { readonly kind: 'custom', readonly decoder: ModuleReference }

/** Condition under which a binding applies to a record. */
export type MatchDescriptor =
  | { readonly kind: 'always' }
  /** The record has a header named `header` whose value, as UTF-8, equals `value`. */
  | { readonly kind: 'header', readonly header: string, readonly value: string }
  /** The exported function returns `true` for the record. */
  | { readonly kind: 'predicate', readonly predicate: ModuleReference }

/** Decoding of one event type from the records of one topic. */
export interface BindingDescriptor {
  /** Id of the bound event type in {@link Topology.eventTypes}. */
  readonly eventType: number
  readonly decoder: DecoderDescriptor
  readonly match: MatchDescriptor
}

export interface TopicDescriptor {
  /** Topic id written into each record header, 1-based. */
  readonly id: number
  readonly name: string
  readonly partitions: number
  /** Omitted when the broker's `default.replication.factor` applies. */
  readonly replicationFactor?: number
  /** Topic configs sent when the topic is created, such as `retention.ms`. Values are strings, as Kafka takes them. */
  readonly configs: Readonly<Record<string, string>>
  readonly dispatch: Dispatch
  /** Topic that receives the records no binding could decode. Omitted when there is none. */
  readonly deadLetterTopic?: string
  /** Bindings in declaration order. */
  readonly bindings: readonly BindingDescriptor[]
}

export interface GroupDescriptor {
  /** Group id written into each record header, 1-based. */
  readonly id: number
  /** Kafka consumer group id. */
  readonly groupId: string
  /** Names of the topics the group reads, in declaration order. */
  readonly topics: readonly string[]
  readonly initialOffset: InitialOffset
  /** Number of consumers (worker shards) the group runs; Kafka splits the partitions among them. */
  readonly shards: number
}

/**
 * A validated topology as plain, structured-clone-safe data. `topics[i].id`, `groups[i].id` and
 * `eventTypes[i].id` all equal `i + 1`.
 */
export interface Topology {
  readonly topics: readonly TopicDescriptor[]
  readonly groups: readonly GroupDescriptor[]
  readonly eventTypes: readonly EventTypeDescriptor[]
  /**
   * protobufjs roots as JSON (`Root#toJSON()`), one per distinct root used by a protobuf
   * decoder. A worker rebuilds each with `Root.fromJSON` once.
   */
  readonly protobufRoots: readonly ProtobufRootJson[]
}

/** JSON form of a protobufjs Root, as `Root#toJSON()` returns it. */
export type ProtobufRootJson = INamespace
