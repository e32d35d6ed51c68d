import { ErrorCode, TickbusError, toErrorRecord } from '../../errors.js'
import type { ConsumerShardTask, PartitionOffset, ShardStopReport } from '../../bus/messages.js'
import type { IncomingRecord } from '../../bus/ingest.js'
import { partitionKey } from '../../bus/offset-tracker.js'
import { resolveTopology, type LiveTopic } from '../../topology/resolve-topology.js'
import { ShardRuntime, type DecodeAttempt } from '../../bus/shard-runtime.js'
import type { Topology } from '../../topology/types.js'
import { BrokerClient } from './broker-client.js'
import { readTaskConfig } from './options.js'
import type { AssignedPartition, BrokerRecord, FetchedBatch, HeaderEntry, ProduceRecord } from './protocol.js'

/** Fetch position of one partition the shard owns. */
interface PartitionState {
  readonly topic: LiveTopic
  readonly partition: number
  /** Offset of the next record to fetch. */
  offset: number
}

/**
 * Runs one consumer shard on a worker thread against the embedded broker. The shard joins its
 * group over the task's broker port, fetches from the partitions the group assigns it, hands
 * each record to the ShardRuntime, and commits the offsets the main thread released. Resolves
 * with a report when the main thread requests a stop. Rejects when the broker connection fails,
 * which the bus reports and follows with a restart.
 */
export async function runConsumerShard (task: ConsumerShardTask): Promise<ShardStopReport> {
  const config = readTaskConfig(task.backendConfig, 'consumer shard')
  const client = new BrokerClient(config.port)
  const fetchLimits = config.fetch
  const plainTopology = task.topology as Topology
  const group = plainTopology.groups.find((candidate) => candidate.groupId === task.groupId)
  if (group === undefined) throw new TickbusError(ErrorCode.INVALID_TOPOLOGY, `Consumer group ${task.groupId} is not in the shard's topology.`, { groupId: task.groupId })
  const topology = await resolveTopology(plainTopology)
  const runtime = new ShardRuntime(task, topology)

  let stopTimeoutMs = 0
  runtime.onStop((timeoutMs) => { stopTimeoutMs = timeoutMs })
  const partitions = new Map<number, PartitionState>()
  client.onAssignment = (assignment) => {
    applyAssignment(runtime, partitions, assignment.partitions)
    runtime.send({ type: 'assignment', shard: task.shard, generation: assignment.generation, partitions: groupByTopic(assignment.partitions), ringPosition: runtime.writer.writePosition })
  }

  runtime.hooks = {
    // The embedded broker has no session timeout, so a shard waiting for ring space keeps its
    // partitions without heartbeats.
    heartbeat: async () => {},
    deadLetter: async (topic, record, attempts) => {
      await client.produce(topic.deadLetterTopic!, [deadLetterRecord(topic, record, attempts)])
    },
  }

  let committing: Promise<unknown> = Promise.resolve()
  const commit = async (requestId: number | null, explicit?: readonly PartitionOffset[]): Promise<boolean> => {
    const offsets = explicit ?? runtime.takeCommittable()
    if (offsets.length === 0) return false
    const started = performance.now()
    try {
      await client.commit(offsets)
      runtime.send({ type: 'commit-result', shard: task.shard, offsets, error: null, latencyMs: performance.now() - started, requestId })
      return true
    } catch (error) {
      // Offsets of partitions that moved to another member can never be committed by this one.
      if (explicit === undefined) runtime.restoreCommittable(offsets.filter((entry) => ownsPartition(runtime, partitions, entry)))
      const record = toErrorRecord(error, ErrorCode.COMMIT_FAILED, { groupId: task.groupId, worker: task.shard })
      runtime.send({ type: 'commit-result', shard: task.shard, offsets, error: record, latencyMs: performance.now() - started, requestId })
      return false
    }
  }
  const scheduleCommit = (requestId: number | null, explicit?: readonly PartitionOffset[]): void => {
    committing = committing.then(() => commit(requestId, explicit))
  }
  if (task.commit.mode === 'manual') {
    runtime.onCommitRequest((requestId, offsets) => { scheduleCommit(requestId, offsets) })
  }
  const commitTimer = task.commit.mode === 'released'
    ? setInterval(() => { scheduleCommit(null) }, task.commit.intervalMs)
    : undefined

  let stopped = false
  try {
    await client.join(task.groupId, group.topics, group.initialOffset, task.shard)
    runtime.send({ type: 'started', shard: task.shard })

    const stopping = runtime.stopped().then(() => null)
    while (!runtime.stopRequested) {
      const positions = [...partitions.values()].map((state) => ({ topic: state.topic.name, partition: state.partition, offset: state.offset }))
      const reply = await Promise.race([client.fetch(positions, fetchLimits), stopping])
      if (reply === null) break
      await ingestBatches(runtime, partitions, reply.batches)
      if (task.commit.mode === 'released' && runtime.releasedSinceCommit() >= task.commit.records) scheduleCommit(null)
    }

    stopped = true
    if (commitTimer !== undefined) clearInterval(commitTimer)
    const committed: PartitionOffset[] = []
    const finish = (async () => {
      await committing
      const offsets = runtime.takeCommittable()
      if (task.commit.mode === 'released' && await commit(null, offsets)) committed.push(...offsets)
      await client.leave()
    })()
    await withTimeout(finish, stopTimeoutMs)
    return { shard: task.shard, committed, unreleasedRecords: runtime.offsets.size, error: null }
  } finally {
    if (commitTimer !== undefined) clearInterval(commitTimer)
    runtime.writer.publish()
    client.close()
    if (!stopped) runtime.port.close()
  }
}

/**
 * Writes the fetched records into the ring in order. A batch is skipped when its partition left
 * the assignment or the shard's position moved since the fetch was sent. Ingestion stops early
 * when the shard is requested to stop, and the next fetch reads again what was not written.
 */
async function ingestBatches (runtime: ShardRuntime, partitions: Map<number, PartitionState>, batches: readonly FetchedBatch[]): Promise<void> {
  for (const batch of batches) {
    const topic = runtime.topicByName(batch.topic)
    if (topic === undefined) continue
    const key = partitionKey(topic.id, batch.partition)
    const state = partitions.get(key)
    if (state === undefined || state.offset !== batch.fetchOffset) continue
    // Lag metrics take the high watermark and log start from fetch replies. The committed offset
    // comes from this shard's own commit results, so the value passed here is "none" (-1) with an
    // epoch that never matches, which leaves the stored committed offset unchanged.
    runtime.stats.setBrokerOffsets(topic.id, batch.partition, batch.logStartOffset, batch.highWatermark, -1, -1)
    for (const record of batch.records) {
      // A rebalance during an await below may have taken the partition away.
      if (runtime.stopRequested || partitions.get(key) !== state) return
      const incoming = toIncomingRecord(topic, batch.partition, record)
      if (!runtime.tryIngest(topic, incoming) && !await runtime.ingest(topic, incoming)) return
      state.offset = record.offset + 1
    }
    if (partitions.get(key) === state) state.offset = batch.nextOffset
    runtime.publish()
  }
}

/**
 * Replaces the owned partitions. A partition the shard keeps keeps its fetch position; a new one
 * starts at the offset the broker chose. Offsets of partitions the shard lost are dropped from
 * the tracker, because only the new owner may commit them.
 */
function applyAssignment (runtime: ShardRuntime, partitions: Map<number, PartitionState>, assigned: readonly AssignedPartition[]): void {
  const previous = new Map(partitions)
  partitions.clear()
  for (const entry of assigned) {
    const topic = runtime.topicByName(entry.topic)
    if (topic === undefined) continue
    const key = partitionKey(topic.id, entry.partition)
    partitions.set(key, previous.get(key) ?? { topic, partition: entry.partition, offset: entry.offset })
  }
  runtime.offsets.retainPartitions((key) => partitions.has(key))
}

function ownsPartition (runtime: ShardRuntime, partitions: Map<number, PartitionState>, entry: PartitionOffset): boolean {
  const topic = runtime.topicByName(entry.topic)
  return topic !== undefined && partitions.has(partitionKey(topic.id, entry.partition))
}

function groupByTopic (assigned: readonly AssignedPartition[]): Array<{ topic: string, partitions: number[] }> {
  const byTopic = new Map<string, number[]>()
  for (const entry of assigned) {
    let list = byTopic.get(entry.topic)
    if (list === undefined) {
      list = []
      byTopic.set(entry.topic, list)
    }
    list.push(entry.partition)
  }
  return [...byTopic].map(([topic, list]) => ({ topic, partitions: list }))
}

/** Converts a broker record into the backend-independent record shape, copying no payload. */
function toIncomingRecord (topic: LiveTopic, partition: number, record: BrokerRecord): IncomingRecord {
  return {
    topicId: topic.id,
    partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: record.key,
    value: record.value,
    headers: record.headers,
  }
}

const textEncoder = new TextEncoder()

/**
 * Builds the dead-letter copy: the original key, value and headers, plus the `tickbus-dlq-*`
 * headers that the Kafka backend adds too (source topic, partition, offset, decoders, errors).
 */
function deadLetterRecord (topic: LiveTopic, record: IncomingRecord, attempts: readonly DecodeAttempt[]): ProduceRecord {
  const headers: HeaderEntry[] = [...record.headers]
  const add = (name: string, value: string): void => { headers.push([name, textEncoder.encode(value)]) }
  add('tickbus-dlq-topic', topic.name)
  add('tickbus-dlq-partition', String(record.partition))
  add('tickbus-dlq-offset', String(record.offset))
  add('tickbus-dlq-decoders', attempts.map((attempt) => attempt.decoder).join(','))
  add('tickbus-dlq-error', attempts.map((attempt) => `${attempt.decoder}: ${attempt.error}`).join('; ').slice(0, 4096))
  return { key: record.key, value: record.value, headers }
}

async function withTimeout (promise: Promise<unknown>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    // A failed leave needs no report: closing the port afterwards removes the member as well.
    promise.catch(() => {}),
    new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs) }),
  ])
  clearTimeout(timer)
}
