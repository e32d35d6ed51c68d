import { ErrorCode, TickbusError } from '../../errors.js'
import type { PartitionOffset } from '../../bus/messages.js'
import type { AssignedPartition } from './protocol.js'

/** A member of an embedded consumer group: one consumer shard. */
export interface GroupMember {
  readonly memberId: string
  /** Shard index of the bus that runs the member; orders members within the group. */
  readonly shard: number
  /** Increasing join counter across the broker; orders members of equal shard index. */
  readonly joinSequence: number
  readonly topics: readonly string[]
  readonly initialOffset: 'earliest' | 'latest'
  /** Partitions owned in the current generation, as partition keys (see topicPartitionKey). */
  owned: ReadonlySet<string>
}

/** Partition counts and log bounds the group reads from the broker's topics. */
export interface TopicCatalog {
  /** Partition count of `topic`, or undefined when it does not exist. */
  partitionCount (topic: string): number | undefined
  logStartOffset (topic: string, partition: number): number
  endOffset (topic: string, partition: number): number
}

/** Key of a partition in sets and maps. The NUL separator cannot occur in a topic name. */
export function topicPartitionKey (topic: string, partition: number): string {
  return `${topic}\u0000${partition}`
}

/**
 * State of one consumer group on the embedded broker: its members, their partitions and the
 * group's committed offsets. Main thread only.
 *
 * Every join and leave starts a new generation and assigns all partitions again at once (Kafka's
 * eager rebalance, without a revoke phase). Partitions are assigned round-robin, as kafkajs's
 * default assigner does: the group's topic-partitions in topic name and partition order are dealt
 * to the members subscribed to each topic, in shard index order.
 */
export class ConsumerGroup {
  readonly groupId: string
  generation = 0
  readonly #members = new Map<string, GroupMember>()
  /** Committed offsets (the next offset to read), by partition key. */
  readonly #committed = new Map<string, number>()

  constructor (groupId: string) {
    this.groupId = groupId
  }

  get members (): readonly GroupMember[] {
    return [...this.#members.values()]
  }

  member (memberId: string): GroupMember | undefined {
    return this.#members.get(memberId)
  }

  add (member: GroupMember): void {
    this.#members.set(member.memberId, member)
  }

  /** Removes a member; returns whether it was in the group. */
  remove (memberId: string): boolean {
    return this.#members.delete(memberId)
  }

  /**
   * Starts a new generation and assigns every partition of the members' topics. Returns each
   * member's partitions with the offset a member starts at when the partition is new to it.
   */
  rebalance (catalog: TopicCatalog): Map<GroupMember, AssignedPartition[]> {
    this.generation++
    const members = [...this.#members.values()].sort((a, b) => a.shard - b.shard || a.joinSequence - b.joinSequence)
    const result = new Map<GroupMember, AssignedPartition[]>()
    const owned = new Map<GroupMember, Set<string>>()
    for (const member of members) {
      result.set(member, [])
      owned.set(member, new Set())
    }

    const topics = [...new Set(members.flatMap((member) => member.topics))].sort()
    let turn = 0
    for (const topic of topics) {
      const partitions = catalog.partitionCount(topic) ?? 0
      const subscribers = members.filter((member) => member.topics.includes(topic))
      for (let partition = 0; partition < partitions; partition++) {
        const member = subscribers[turn++ % subscribers.length]!
        result.get(member)!.push({ topic, partition, offset: this.startOffset(catalog, topic, partition, member.initialOffset) })
        owned.get(member)!.add(topicPartitionKey(topic, partition))
      }
    }
    for (const member of members) member.owned = owned.get(member)!
    return result
  }

  /** Offset a new owner starts at: the committed offset, or by `initialOffset` when none. */
  startOffset (catalog: TopicCatalog, topic: string, partition: number, initialOffset: 'earliest' | 'latest'): number {
    const committed = this.#committed.get(topicPartitionKey(topic, partition))
    if (committed !== undefined) return committed
    return initialOffset === 'earliest' ? catalog.logStartOffset(topic, partition) : catalog.endOffset(topic, partition)
  }

  /**
   * Stores `offsets` for the member. Throws COMMIT_FAILED, storing nothing, when the member left
   * the group or does not own one of the partitions (it moved in a rebalance), like Kafka's
   * rejection of a commit from an old generation.
   */
  commit (memberId: string, offsets: readonly PartitionOffset[]): void {
    const member = this.#members.get(memberId)
    if (member === undefined) {
      throw new TickbusError(ErrorCode.COMMIT_FAILED, `Cannot commit: member ${memberId} is not in consumer group ${this.groupId}. It left the group or never joined.`, { groupId: this.groupId })
    }
    const foreign = offsets.filter((entry) => !member.owned.has(topicPartitionKey(entry.topic, entry.partition)))
    if (foreign.length > 0) {
      const names = foreign.map((entry) => `${entry.topic}/${entry.partition}`).join(', ')
      throw new TickbusError(ErrorCode.COMMIT_FAILED, `Cannot commit ${names} for consumer group ${this.groupId}: the partitions were reassigned to another member in generation ${this.generation}.`, {
        groupId: this.groupId,
        topic: foreign[0]!.topic,
        partition: foreign[0]!.partition,
        retriable: true,
      })
    }
    for (const entry of offsets) {
      if (!Number.isSafeInteger(entry.offset) || entry.offset < 0) {
        throw new TickbusError(ErrorCode.COMMIT_FAILED, `Cannot commit offset ${entry.offset} of ${entry.topic}/${entry.partition}: an offset is a non-negative integer.`, { groupId: this.groupId, topic: entry.topic, partition: entry.partition })
      }
    }
    for (const entry of offsets) this.#committed.set(topicPartitionKey(entry.topic, entry.partition), entry.offset)
  }

  /** Committed offset of a partition, or undefined when the group has none. */
  committedOffset (topic: string, partition: number): number | undefined {
    return this.#committed.get(topicPartitionKey(topic, partition))
  }

  /** Every committed offset of the group, in topic name and partition order. */
  committedOffsets (): PartitionOffset[] {
    const result: PartitionOffset[] = []
    for (const [key, offset] of this.#committed) {
      const separator = key.lastIndexOf('\u0000')
      result.push({ topic: key.slice(0, separator), partition: Number(key.slice(separator + 1)), offset })
    }
    return result.sort(comparePartitions)
  }
}

function comparePartitions (a: PartitionOffset, b: PartitionOffset): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1
  return a.partition - b.partition
}
