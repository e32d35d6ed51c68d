import { MessageChannel } from 'node:worker_threads'
import { invalidOption } from '../../errors.js'
import type { Logger } from '../../logger.js'
import type { PartitionOffset } from '../../bus/messages.js'
import type { Topology } from '../../topology/types.js'
import type { Backend, BackendStartReport, WorkerTaskResources } from '../backend.js'
import { EmbeddedBroker, type RecordMetadata } from './broker.js'
import { resolveEmbeddedOptions, topicRetention, type EmbeddedBackendOptions, type EmbeddedTaskConfig, type EmbeddedWorkerConfig } from './options.js'
import type { RetentionSettings } from './partition-log.js'
import type { HeaderEntry, ProduceRecord } from './protocol.js'

/** A header value as produce() takes it: a UTF-8 string, raw bytes, or null for no value. */
export type EmbeddedHeaderValue = string | Uint8Array | null

/** A record as EmbeddedBackend.produce() takes it. */
export interface EmbeddedRecord {
  /** Selects the partition (see EmbeddedBackend.produce) and reaches consumers as the record key. Default null. */
  key?: string | Uint8Array | null
  /** A string is stored as UTF-8; null is a tombstone. */
  value: string | Uint8Array | null
  /** An array value adds the header once per item, in order. */
  headers?: Readonly<Record<string, EmbeddedHeaderValue | readonly EmbeddedHeaderValue[]>>
  /** Overrides the key's partition. */
  partition?: number
  /** ms since the epoch. Default: now. */
  timestamp?: number
}

/**
 * Creates an embedded backend: a broker inside this process, for demos, quick starts and tests.
 * Consumer shards run on the same worker threads, rings, views, metrics and error paths as with
 * Kafka. Validates every option now and throws INVALID_OPTION naming the first bad one.
 *
 * ```ts
 * const backend = embeddedBackend()
 * const bus = await createBus({ topology, backend })
 * backend.produce('moves', { key: 'player-7', value: JSON.stringify({ playerId: 7, x: 1.5 }) })
 * ```
 */
export function embeddedBackend (options: EmbeddedBackendOptions = {}): EmbeddedBackend {
  const resolved = resolveEmbeddedOptions(options)
  return new EmbeddedBackend(resolved.worker, resolved.retention)
}

/**
 * The embedded backend: a Backend whose broker (topics, partition logs, consumer groups,
 * committed offsets) lives on the main thread in this object, plus methods to produce into it
 * and inspect it. Every method is for the main thread.
 *
 * Each consumer shard's worker talks to the broker over its own MessagePort (see protocol.ts):
 * it joins its group, fetches from the partitions the group assigns it, and commits what the
 * tick released. The broker handles these requests between ticks, on the main thread's event
 * loop, so a main thread that never yields to its event loop stalls every shard.
 *
 * The broker outlives its buses: stop() keeps topics, records and committed offsets, so a bus
 * started again on the same backend continues where its group committed, and several buses may
 * use one backend at once.
 */
export class EmbeddedBackend implements Backend {
  readonly name = 'embedded'
  readonly workerModule = new URL('./worker.js', import.meta.url).href
  readonly workerConfig: EmbeddedWorkerConfig
  readonly #broker: EmbeddedBroker
  readonly #retention: RetentionSettings

  /** @internal Use embeddedBackend(). */
  constructor (config: EmbeddedWorkerConfig, retention: RetentionSettings) {
    this.workerConfig = config
    this.#retention = retention
    this.#broker = new EmbeddedBroker(retention)
  }

  /**
   * Creates the topology's topics that the broker does not have. An existing topic keeps its
   * partition count; a different count in the topology is reported as a warning.
   */
  async start (topology: Topology, logger: Logger): Promise<BackendStartReport> {
    this.#broker.logger = logger.child({ backend: this.name })
    const created: string[] = []
    const warnings: string[] = []
    for (const topic of topology.topics) {
      const { retention, warning } = topicRetention(this.#retention, topic.configs, topic.name)
      if (warning !== null) warnings.push(warning)
      if (this.#broker.createTopic(topic.name, topic.partitions, retention)) {
        created.push(topic.name)
        continue
      }
      const existing = this.#broker.partitionCount(topic.name)!
      if (existing !== topic.partitions) {
        warnings.push(`Topic ${topic.name} has ${existing} partitions in the embedded broker, but the topology declares ${topic.partitions}; the broker keeps ${existing}.`)
      }
    }
    return { created, warnings }
  }

  /** Keeps the broker's state for the next start; each shard leaves its group when its task ends. */
  async stop (): Promise<void> {}

  /** Opens a MessagePort between a new worker task and the broker. */
  taskResources (): WorkerTaskResources {
    const channel = new MessageChannel()
    this.#broker.connect(channel.port1)
    const config: EmbeddedTaskConfig = { ...this.workerConfig, port: channel.port2 }
    return { config, transferList: [channel.port2] }
  }

  /**
   * Creates a topic before a bus start, so that records can be produced before any consumer
   * joins. Returns false, changing nothing, when the topic exists. Throws INVALID_OPTION for an
   * invalid name or partition count.
   */
  createTopic (name: string, options: { partitions: number }): boolean {
    return this.#broker.createTopic(name, options.partitions)
  }

  /**
   * Appends a record to `topic` and returns its partition, offset and timestamp. The partition is
   * `record.partition` when given. A record with a key goes to the partition that Kafka's Java
   * and kafkajs's default partitioners pick: the murmur2 hash of the key bytes (UTF-8 for a
   * string) modulo the partition count. A record without either goes to the topic's next
   * partition in round-robin order. Byte arrays are copied, so the caller may reuse them.
   * Consumers see the record at a later tick, never during this call.
   *
   * Throws INVALID_OPTION when the topic does not exist or a field is invalid.
   */
  produce (topic: string, record: EmbeddedRecord): RecordMetadata {
    if (typeof record !== 'object' || record === null) throw invalidOption('record', 'must be an object with a value', record)
    const stored: { -readonly [K in keyof ProduceRecord]: ProduceRecord[K] } = {
      key: toBytes('record.key', record.key ?? null),
      value: toBytes('record.value', record.value),
      headers: toHeaderEntries(record.headers),
    }
    if (record.partition !== undefined) stored.partition = record.partition
    if (record.timestamp !== undefined) stored.timestamp = record.timestamp
    return this.#broker.produce(topic, stored)
  }

  /** Committed offsets (next offsets to read) of a consumer group, in topic and partition order. */
  committedOffsets (groupId: string): PartitionOffset[] {
    return this.#broker.committedOffsets(groupId)
  }

  /**
   * Offsets of each partition of `topic`: the oldest record retention keeps, and the end offset
   * (the offset the next record gets). Throws INVALID_OPTION for an unknown topic.
   */
  topicOffsets (topic: string): Array<{ partition: number, logStartOffset: number, endOffset: number }> {
    const found = this.#broker.topic(topic)
    if (found === undefined) throw invalidOption('topicOffsets(topic)', `must be a topic of the embedded broker (topics: ${this.#broker.topicNames.join(', ') || 'none'})`, topic)
    return found.partitions.map((log, partition) => ({ partition, logStartOffset: log.logStartOffset, endOffset: log.endOffset }))
  }

  /** Members of a consumer group and the partitions each owns now. */
  groupMembers (groupId: string): Array<{ memberId: string, shard: number, partitions: Array<{ topic: string, partition: number }> }> {
    return this.#broker.groupMembers(groupId)
  }
}

const textEncoder = new TextEncoder()

/**
 * Copies a key, value or header value into an array with its own exact-size ArrayBuffer. A
 * fetch reply clones each array's whole ArrayBuffer, and a small Buffer.from() result is a view
 * into Node's shared 8 KiB pool, which the broker would otherwise keep and send with every record.
 */
function toBytes (path: string, value: unknown): Uint8Array | null {
  if (value === null) return null
  if (typeof value === 'string') return textEncoder.encode(value)
  if (value instanceof Uint8Array) return new Uint8Array(value)
  throw invalidOption(path, 'must be a string, a Uint8Array or null', value)
}

function toHeaderEntries (headers: EmbeddedRecord['headers']): HeaderEntry[] {
  if (headers === undefined) return []
  if (typeof headers !== 'object' || headers === null) throw invalidOption('record.headers', 'must be an object of header names to values', headers)
  const entries: HeaderEntry[] = []
  for (const [name, value] of Object.entries(headers)) {
    const values = Array.isArray(value) ? value as readonly EmbeddedHeaderValue[] : [value as EmbeddedHeaderValue]
    for (const item of values) entries.push([name, toBytes(`record.headers.${name}`, item)])
  }
  return entries
}
