import type { MessagePort } from 'node:worker_threads'
import { ErrorCode, TickbusError, invalidOption } from '../../errors.js'
import { noopLogger, type Logger } from '../../logger.js'
import type { PartitionOffset } from '../../bus/messages.js'
import { checkName } from '../../topology/problems.js'
import { BrokerConnection } from './broker-connection.js'
import { ConsumerGroup, topicPartitionKey, type GroupMember, type TopicCatalog } from './consumer-group.js'
import { PartitionLog, type RetentionSettings } from './partition-log.js'
import { partitionForKey } from './partitioner.js'
import type { AssignedPartition, FetchedBatch, FetchPosition, ProduceRecord } from './protocol.js'

/** A topic of the embedded broker. */
export interface EmbeddedTopic {
  readonly name: string
  readonly partitions: readonly PartitionLog[]
  /** Partition of the next record without key or partition; advances round-robin. */
  nextPartition: number
}

/** Location of a produced record: topic, partition, offset and timestamp. */
export interface RecordMetadata {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  /** ms since the epoch. */
  readonly timestamp: number
}

/** Limits of one fetch, as a worker requests them. */
export interface FetchLimits {
  readonly maxRecords: number
  readonly maxBytes: number
}

/**
 * The state of an embedded broker: topics with their partition logs, consumer groups with their
 * members and committed offsets, and the MessagePort connections of the worker tasks that
 * consume from it. Lives on the main thread, because that is the one place every worker of the
 * process can reach, and is neither thread-safe nor shared: workers see it only through
 * BrokerConnection messages, which the main thread handles between ticks.
 */
export class EmbeddedBroker implements TopicCatalog {
  logger: Logger = noopLogger
  readonly #defaultRetention: RetentionSettings
  readonly #topics = new Map<string, EmbeddedTopic>()
  readonly #groups = new Map<string, ConsumerGroup>()
  readonly #connections = new Set<BrokerConnection>()
  readonly #memberConnections = new Map<GroupMember, BrokerConnection>()
  #joinSequence = 0

  constructor (defaultRetention: RetentionSettings) {
    this.#defaultRetention = defaultRetention
  }

  /**
   * Creates a topic with `partitions` partitions unless one of that name exists. Returns true when
   * it created the topic. Throws INVALID_OPTION for an invalid name or partition count.
   */
  createTopic (name: string, partitions: number, retention: RetentionSettings = this.#defaultRetention): boolean {
    const nameProblem = checkName(name)
    if (nameProblem !== null) throw new TickbusError(ErrorCode.INVALID_OPTION, `Invalid topic name: it ${nameProblem}.`, { option: 'topic' })
    if (!Number.isSafeInteger(partitions) || partitions < 1 || partitions > 0x7fff) {
      throw invalidOption(`topic ${name} partitions`, 'must be an integer from 1 to 32767', partitions)
    }
    if (this.#topics.has(name)) return false
    const logs: PartitionLog[] = []
    for (let i = 0; i < partitions; i++) logs.push(new PartitionLog(retention))
    this.#topics.set(name, { name, partitions: logs, nextPartition: 0 })
    // Groups subscribed to the topic before it existed get its partitions now.
    for (const group of this.#groups.values()) {
      if (group.members.some((member) => member.topics.includes(name))) this.#rebalance(group)
    }
    return true
  }

  topic (name: string): EmbeddedTopic | undefined {
    return this.#topics.get(name)
  }

  get topicNames (): string[] {
    return [...this.#topics.keys()]
  }

  partitionCount (topic: string): number | undefined {
    return this.#topics.get(topic)?.partitions.length
  }

  logStartOffset (topic: string, partition: number): number {
    return this.#log(topic, partition).logStartOffset
  }

  endOffset (topic: string, partition: number): number {
    return this.#log(topic, partition).endOffset
  }

  /**
   * Appends a record and wakes the fetches waiting for it. Throws INVALID_OPTION when the topic
   * does not exist or the partition or timestamp is invalid.
   */
  produce (topicName: string, record: ProduceRecord, nowMs = Date.now()): RecordMetadata {
    const topic = this.#topics.get(topicName)
    if (topic === undefined) {
      throw invalidOption('produce(topic)', `must be a topic of the embedded broker (topics: ${this.topicNames.join(', ') || 'none'}); a bus start creates its topology's topics, createTopic() creates one before`, topicName)
    }
    const partition = this.#choosePartition(topic, record)
    const timestamp = record.timestamp ?? nowMs
    if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw invalidOption('record.timestamp', 'must be a non-negative integer of ms since the epoch', timestamp)
    const offset = topic.partitions[partition]!.append({ timestamp, key: record.key, value: record.value, headers: record.headers }, nowMs)
    for (const connection of this.#connections) connection.onRecordAppended(topicName, partition)
    return { topic: topicName, partition, offset, timestamp }
  }

  /** Serves a MessagePort of a worker task until either side closes it. */
  connect (port: MessagePort): void {
    const connection = new BrokerConnection(port, this)
    this.#connections.add(connection)
    connection.closed.then(() => { this.#connections.delete(connection) }, () => {})
  }

  /** Adds a member to `groupId` (creating the group) and rebalances the group. */
  join (connection: BrokerConnection, groupId: string, topics: readonly string[], initialOffset: 'earliest' | 'latest', shard: number): GroupMember {
    let group = this.#groups.get(groupId)
    if (group === undefined) {
      group = new ConsumerGroup(groupId)
      this.#groups.set(groupId, group)
    }
    const joinSequence = ++this.#joinSequence
    const member: GroupMember = { memberId: `${groupId}-${shard}-${joinSequence}`, shard, joinSequence, topics: [...topics], initialOffset, owned: new Set() }
    group.add(member)
    this.#memberConnections.set(member, connection)
    this.logger.info({ groupId, memberId: member.memberId, shard }, 'consumer joined embedded group')
    this.#rebalance(group)
    return member
  }

  /** Removes a member from its group and rebalances the group's remaining members. */
  leave (member: GroupMember, groupId: string): void {
    const group = this.#groups.get(groupId)
    this.#memberConnections.delete(member)
    if (group === undefined || !group.remove(member.memberId)) return
    member.owned = new Set()
    this.logger.info({ groupId, memberId: member.memberId, shard: member.shard }, 'consumer left embedded group')
    this.#rebalance(group)
  }

  /** Stores a member's offsets; throws COMMIT_FAILED as ConsumerGroup.commit() describes. */
  commit (member: GroupMember, groupId: string, offsets: readonly PartitionOffset[]): void {
    const group = this.#groups.get(groupId)
    if (group === undefined) throw invalidOption('groupId', 'must be a group the member joined', groupId)
    group.commit(member.memberId, offsets)
  }

  /**
   * Reads records for a member from the positions of partitions it owns, starting with the
   * partition after `rotation` so that partitions take turns being first under the limits. A
   * position outside the log (trimmed by retention, or past its end) is reset to the log start or
   * end by the member's initial offset, like Kafka's `auto.offset.reset`. The reply shows a reset
   * as a batch whose nextOffset differs from its fetchOffset.
   */
  fetch (member: GroupMember, positions: readonly FetchPosition[], limits: FetchLimits, rotation: number, nowMs = Date.now()): FetchedBatch[] {
    const batches: FetchedBatch[] = []
    let records = 0
    let bytes = 0
    const count = positions.length
    for (let i = 0; i < count; i++) {
      const position = positions[(rotation + i) % count]!
      if (!member.owned.has(topicPartitionKey(position.topic, position.partition))) continue
      const log = this.#log(position.topic, position.partition)
      log.applyRetention(nowMs)
      let offset = position.offset
      if (offset < log.logStartOffset || offset > log.endOffset) {
        offset = member.initialOffset === 'earliest' ? log.logStartOffset : log.endOffset
      }
      const read = records < limits.maxRecords && bytes < limits.maxBytes
        ? log.read(offset, limits.maxRecords - records, limits.maxBytes - bytes, records === 0)
        : { records: [], nextOffset: offset, bytes: 0 }
      records += read.records.length
      bytes += read.bytes
      if (read.records.length > 0 || read.nextOffset !== position.offset) {
        batches.push({
          topic: position.topic,
          partition: position.partition,
          fetchOffset: position.offset,
          records: read.records,
          nextOffset: read.nextOffset,
          highWatermark: log.endOffset,
          logStartOffset: log.logStartOffset,
        })
      }
    }
    return batches
  }

  /** Committed offsets of a group, in topic and partition order; empty for an unknown group. */
  committedOffsets (groupId: string): PartitionOffset[] {
    return this.#groups.get(groupId)?.committedOffsets() ?? []
  }

  /** Members of a group with the partitions each owns, for inspection in tests and tools. */
  groupMembers (groupId: string): Array<{ memberId: string, shard: number, partitions: Array<{ topic: string, partition: number }> }> {
    const group = this.#groups.get(groupId)
    if (group === undefined) return []
    return group.members.map((member) => ({
      memberId: member.memberId,
      shard: member.shard,
      partitions: [...member.owned].map((key) => {
        const separator = key.lastIndexOf('\u0000')
        return { topic: key.slice(0, separator), partition: Number(key.slice(separator + 1)) }
      }),
    }))
  }

  /** Closes every connection, which removes their members from their groups. */
  closeConnections (): void {
    for (const connection of [...this.#connections]) connection.close()
  }

  #rebalance (group: ConsumerGroup): void {
    if (group.members.length === 0) {
      group.generation++
      return
    }
    const assignments: Map<GroupMember, AssignedPartition[]> = group.rebalance(this)
    this.logger.info({ groupId: group.groupId, generation: group.generation, members: group.members.length }, 'embedded group rebalanced')
    for (const [member, partitions] of assignments) {
      this.#memberConnections.get(member)?.onAssignment(group.generation, partitions)
    }
  }

  #choosePartition (topic: EmbeddedTopic, record: ProduceRecord): number {
    const count = topic.partitions.length
    if (record.partition !== undefined) {
      if (!Number.isSafeInteger(record.partition) || record.partition < 0 || record.partition >= count) {
        throw invalidOption('record.partition', `must be an integer from 0 to ${count - 1} (topic ${topic.name} has ${count} partitions)`, record.partition)
      }
      return record.partition
    }
    if (record.key !== null) return partitionForKey(record.key, count)
    const partition = topic.nextPartition
    topic.nextPartition = (partition + 1) % count
    return partition
  }

  #log (topic: string, partition: number): PartitionLog {
    const log = this.#topics.get(topic)?.partitions[partition]
    if (log === undefined) throw invalidOption('partition', `must be a partition of an existing topic, received topic ${JSON.stringify(topic)} partition`, partition)
    return log
  }
}
