import type { EventType } from '../schema/define-event.js'
import { eventTypeFromDescriptor } from '../topology/event-descriptor.js'
import type { TopicDescriptor, Topology } from '../topology/types.js'

/**
 * The topology as the outbound path reads it, on the main thread and on the producer worker:
 * event types re-created from their descriptors, topic ids by name, and the topic each event type
 * is written to when write() names none.
 */
export interface OutboundTables {
  /** Event types by id; index 0 is unused. */
  readonly eventTypes: readonly (EventType | undefined)[]
  readonly eventTypeIdByName: ReadonlyMap<string, number>
  /** Topics by id; index 0 is unused. */
  readonly topics: readonly (TopicDescriptor | undefined)[]
  readonly topicIdByName: ReadonlyMap<string, number>
  /**
   * Topic id that write() uses for each event type id when no topic is given: the one topic that
   * binds the type, or 0 when no topic or several topics bind it.
   */
  readonly defaultTopicIds: Int32Array
  /** Names of the topics that bind each event type id, for error messages. */
  readonly boundTopicNames: readonly (readonly string[])[]
}

/** Builds the outbound tables. Throws like eventTypeFromDescriptor() for an invalid event type descriptor. */
export function createOutboundTables (topology: Topology): OutboundTables {
  const eventTypes: (EventType | undefined)[] = [undefined]
  const eventTypeIdByName = new Map<string, number>()
  for (const descriptor of topology.eventTypes) {
    eventTypes[descriptor.id] = eventTypeFromDescriptor(descriptor)
    eventTypeIdByName.set(descriptor.name, descriptor.id)
  }

  const topics: (TopicDescriptor | undefined)[] = [undefined]
  const topicIdByName = new Map<string, number>()
  const boundTopicNames: string[][] = eventTypes.map(() => [])
  for (const topic of topology.topics) {
    topics[topic.id] = topic
    topicIdByName.set(topic.name, topic.id)
    for (const binding of topic.bindings) {
      const names = boundTopicNames[binding.eventType]
      if (names !== undefined && !names.includes(topic.name)) names.push(topic.name)
    }
  }

  const defaultTopicIds = new Int32Array(eventTypes.length)
  boundTopicNames.forEach((names, typeId) => {
    if (names.length === 1) defaultTopicIds[typeId] = topicIdByName.get(names[0]!)!
  })
  return { eventTypes, eventTypeIdByName, topics, topicIdByName, defaultTopicIds, boundTopicNames }
}
