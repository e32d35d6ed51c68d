import type { EventType } from '../schema/define-event.js'
import type { EventSchema } from '../schema/fields.js'
import { type BindingOptions, collectBindings, collectEventTypes } from './collect-bindings.js'
import { collectGroups, collectRoutings, collectTopics, type GroupOptions, type RoutingOptions, type TopicOptions } from './collect-topics.js'
import { ProblemList } from './problems.js'
import { Dispatch, type GroupDescriptor, MAX_TOPOLOGY_ID, type TopicDescriptor, type Topology } from './types.js'

/**
 * Starts a topology: the topics, consumer groups, event types and bindings of one bus.
 *
 * ```ts
 * const topology = createTopology()
 *   .topic('moves', { partitions: 6, replicationFactor: 1, configs: { 'retention.ms': 3_600_000 } })
 *   .bind('moves', Move, { decoder: protobufDecoder(MoveProto), match: { header: 'event-type', value: 'move' } })
 *   .group('game-server', { topics: ['moves'], initialOffset: 'earliest' })
 *   .build()
 * ```
 */
export function createTopology (): TopologyBuilder {
  return new TopologyBuilder()
}

/**
 * Records declarations in call order. Nothing is checked until {@link TopologyBuilder.build}, so
 * declarations may come in any order (a binding before its topic, for example). Main thread only.
 */
export class TopologyBuilder {
  readonly #topics: Array<{ name: unknown, options: unknown }> = []
  readonly #groups: Array<{ groupId: unknown, options: unknown }> = []
  readonly #eventTypes: unknown[] = []
  readonly #bindings: Array<{ topic: unknown, eventType: unknown, options: unknown }> = []
  readonly #routings: Array<{ topic: unknown, options: unknown }> = []

  /**
   * Declares a topic. Declaring a topic again with the same settings is allowed, so that modules can
   * declare the topics they use independently. Topic ids follow the order of first declaration.
   */
  topic (name: string, options: TopicOptions): this {
    this.#topics.push({ name, options })
    return this
  }

  /** Declares a Kafka consumer group that reads the given topics. An identical repeat is allowed. */
  group (groupId: string, options: GroupOptions): this {
    this.#groups.push({ groupId, options })
    return this
  }

  /**
   * Registers an event type that no binding decodes, such as one that the tick only produces.
   * `bind()` registers its event type too. Event type ids follow the order of first registration.
   */
  event<S extends EventSchema> (eventType: EventType<S>): this {
    this.#eventTypes.push(eventType)
    return this
  }

  /**
   * Decodes records of `topic` into `eventType`. A topic's bindings are tried in the order of
   * their `bind()` calls, as its {@link RoutingOptions.dispatch} setting describes.
   */
  bind<S extends EventSchema> (topic: string, eventType: EventType<S>, options: BindingOptions = {}): this {
    this.#eventTypes.push(eventType)
    this.#bindings.push({ topic, eventType, options })
    return this
  }

  /** Sets how the records of `topic` reach its bindings and where undecodable records go. */
  routing (topic: string, options: RoutingOptions): this {
    this.#routings.push({ topic, options })
    return this
  }

  /**
   * Validates every declaration and returns the topology as plain data that can be sent to
   * workers.
   *
   * @throws TickbusError with code INVALID_TOPOLOGY that lists every problem found, each naming its
   * topic, group, event type or binding.
   */
  build (): Topology {
    const problems = new ProblemList()

    const topics = collectTopics(this.#topics, problems)
    if (topics.valid.size > MAX_TOPOLOGY_ID) {
      problems.add({ message: `a topology can contain at most ${MAX_TOPOLOGY_ID} topics, because record headers store the topic id as a u16; received ${topics.valid.size}.` })
    }
    const eventTypes = collectEventTypes(this.#eventTypes, problems)
    const routings = collectRoutings(this.#routings, topics, problems)
    const bindings = collectBindings(this.#bindings, topics, eventTypes, problems)
    const groups = collectGroups(this.#groups, topics, new Set(bindings.byTopic.keys()), problems)
    if (groups.size > MAX_TOPOLOGY_ID) {
      problems.add({ message: `a topology can contain at most ${MAX_TOPOLOGY_ID} consumer groups, because record headers store the group id as a u16; received ${groups.size}.` })
    }

    problems.throwIfAny()

    const topicDescriptors: TopicDescriptor[] = []
    for (const settings of topics.valid.values()) {
      const routing = routings.get(settings.name)
      const descriptor: { -readonly [K in keyof TopicDescriptor]: TopicDescriptor[K] } = {
        id: topicDescriptors.length + 1,
        name: settings.name,
        partitions: settings.partitions,
        configs: settings.configs,
        dispatch: routing?.dispatch ?? Dispatch.FIRST,
        bindings: bindings.byTopic.get(settings.name) ?? [],
      }
      if (settings.replicationFactor !== undefined) descriptor.replicationFactor = settings.replicationFactor
      if (routing?.deadLetterTopic !== undefined) descriptor.deadLetterTopic = routing.deadLetterTopic
      topicDescriptors.push(descriptor)
    }

    const groupDescriptors: GroupDescriptor[] = []
    for (const settings of groups.values()) {
      groupDescriptors.push({ id: groupDescriptors.length + 1, ...settings })
    }

    return {
      topics: topicDescriptors,
      groups: groupDescriptors,
      eventTypes: eventTypes.descriptors,
      protobufRoots: bindings.protobufRoots,
    }
  }
}
