import { Kafka, type KafkaMessage, type Producer, type IHeaders } from 'kafkajs'
import { ErrorCode, toErrorRecord } from '../../errors.js'
import type { ConsumerShardTask, PartitionOffset, ShardStopReport } from '../../bus/messages.js'
import { ShardRuntime, type DecodeAttempt } from '../../bus/shard-runtime.js'
import type { IncomingRecord } from '../../bus/ingest.js'
import { resolveTopology, type LiveTopic } from '../../topology/resolve-topology.js'
import type { Topology } from '../../topology/types.js'
import { workerLogCreator } from './worker-log.js'
import { reportBrokerOutages } from './broker-outage.js'
import { OffsetRefresher } from './offset-refresh.js'
import type { KafkaWorkerConfig } from './options.js'

/** Records between two checks of whether kafkajs still runs the batch (see eachBatch). */
const STALE_CHECK_RECORDS = 16

const EMPTY_HEADERS: ReadonlyArray<readonly [string, Uint8Array | null]> = []

/**
 * Runs one consumer shard on a worker thread: a kafkajs consumer in the shard's group that hands
 * every fetched record to the ShardRuntime and commits the offsets the main thread released.
 * Resolves with a report when the main thread requests a stop; rejects when the consumer crashes
 * for good, which the bus reports and follows with a restart.
 */
export async function runConsumerShard (task: ConsumerShardTask): Promise<ShardStopReport> {
  const config = task.backendConfig as KafkaWorkerConfig
  const topology = await resolveTopology(task.topology as Topology)
  const runtime = new ShardRuntime(task, topology)
  const group = topology.groups.find((candidate) => candidate.groupId === task.groupId)!
  const outages = reportBrokerOutages(runtime)
  const kafka = new Kafka({
    ...config.client,
    logCreator: workerLogCreator(runtime, config.logLevel),
    socketFactory: outages.socketFactory,
  })
  const consumer = kafka.consumer({ ...config.consumer, groupId: task.groupId })
  const offsetRefresher = new OffsetRefresher(kafka, runtime)
  let deadLetterProducer: Producer | undefined
  let committing: Promise<void> = Promise.resolve()
  let crashed: ((error: unknown) => void) | undefined
  const crash = new Promise<never>((_resolve, reject) => { crashed = reject })
  crash.catch(() => {})

  runtime.hooks = {
    heartbeat: async () => {},
    deadLetter: async (topic, record, attempts) => {
      if (deadLetterProducer === undefined) {
        deadLetterProducer = kafka.producer({ allowAutoTopicCreation: false, idempotent: false })
        await deadLetterProducer.connect()
      }
      await deadLetterProducer.send({
        topic: topic.deadLetterTopic!,
        messages: [deadLetterMessage(topic, record, attempts)],
      })
    },
  }

  const commitReleased = async (requestId: number | null, explicit?: readonly PartitionOffset[]): Promise<void> => {
    const offsets = explicit ?? runtime.takeCommittable()
    if (offsets.length === 0) return
    const started = performance.now()
    try {
      await consumer.commitOffsets(offsets.map((entry) => ({ topic: entry.topic, partition: entry.partition, offset: String(entry.offset) })))
      runtime.send({ type: 'commit-result', shard: task.shard, offsets, error: null, latencyMs: performance.now() - started, requestId })
    } catch (error) {
      if (explicit === undefined) runtime.restoreCommittable(offsets)
      const record = toErrorRecord(error, ErrorCode.COMMIT_FAILED, { groupId: task.groupId, worker: task.shard })
      runtime.send({ type: 'commit-result', shard: task.shard, offsets, error: record, latencyMs: performance.now() - started, requestId })
    }
  }
  const scheduleCommit = (requestId: number | null, explicit?: readonly PartitionOffset[]): Promise<void> => {
    committing = committing.then(() => commitReleased(requestId, explicit))
    return committing
  }

  if (task.commit.mode === 'manual') {
    runtime.onCommitRequest((requestId, offsets) => { void scheduleCommit(requestId, offsets) })
  }
  // Manual mode commits only what bus.commit() names, but the tracker still has to drop what the
  // main thread released, or it keeps one entry per record for as long as the shard runs.
  const settleReleased = (): void => {
    if (task.commit.mode === 'released') void scheduleCommit(null)
    else runtime.takeCommittable()
  }
  const commitTimer = setInterval(settleReleased, task.commit.intervalMs)

  let joins = 0
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    const assignment = event.payload.memberAssignment
    const partitions = Object.entries(assignment).map(([topic, list]) => ({ topic, partitions: [...list] }))
    // Entries of partitions this shard no longer owns cannot be committed by it any more.
    const owned = new Set<string>()
    for (const entry of partitions) for (const partition of entry.partitions) owned.add(`${entry.topic}:${partition}`)
    runtime.offsets.retainPartitions((key) => {
      const topic = topology.topics[(key >>> 15) - 1]
      return topic !== undefined && owned.has(`${topic.name}:${key & 0x7fff}`)
    })
    joins++
    runtime.send({ type: 'assignment', shard: task.shard, generation: joins, partitions, ringPosition: runtime.writer.writePosition })
    offsetRefresher.refreshNow()
  })
  consumer.on(consumer.events.CRASH, (event) => {
    const error = event.payload.error
    // During a reported outage kafkajs crashes and restarts the consumer about once a second.
    // Those crashes would repeat the outage report, so only kafkajs's log records them.
    if (!event.payload.restart || outages.unreachableBrokers === 0) {
      const record = toErrorRecord(error, ErrorCode.BROKER_UNREACHABLE, { groupId: task.groupId, worker: task.shard })
      // kafkajs restarts the consumer by itself after a retriable cause, even when it wraps that
      // cause in a KafkaJSNonRetriableError.
      runtime.send({ type: 'error', shard: task.shard, error: { ...record, retriable: record.retriable || event.payload.restart } })
    }
    if (!event.payload.restart) crashed?.(error)
  })

  let stopped = false
  try {
    await consumer.connect()
    await consumer.subscribe({ topics: [...group.topics], fromBeginning: groupInitialOffset(task) === 'earliest' })
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        runtime.hooks.heartbeat = heartbeat
        const topic = runtime.topicByName(batch.topic)
        if (topic === undefined) return
        const partition = batch.partition
        runtime.stats.setHighWatermark(topic.id, partition, Number(batch.highWatermark))
        // isRunning() and isStale() look up kafkajs's seek state and resolveOffset() parses the
        // offset string, which together took about 15% of a worker's time when done per record.
        // They now run every STALE_CHECK_RECORDS records, after each wait for ring space, and
        // once per batch.
        const messages = batch.messages
        let lastOffset: string | undefined
        for (let i = 0; i < messages.length; i++) {
          if (runtime.stopRequested) break
          if (i % STALE_CHECK_RECORDS === 0 && (!isRunning() || isStale())) break
          const message = messages[i]!
          const record = toIncomingRecord(topic, partition, message)
          if (!runtime.tryIngest(topic, record)) {
            if (!await runtime.ingest(topic, record)) break
            lastOffset = message.offset
            if (!isRunning() || isStale()) break
            continue
          }
          lastOffset = message.offset
        }
        if (lastOffset !== undefined) resolveOffset(lastOffset)
        runtime.publish()
        if (runtime.releasedSinceCommit() >= task.commit.records) settleReleased()
        await heartbeat()
      },
    })
    runtime.send({ type: 'started', shard: task.shard })
    offsetRefresher.start()

    const stopTimeoutMs = await Promise.race([
      new Promise<number>((resolve) => { runtime.onStop(resolve) }),
      crash,
    ])
    stopped = true
    if (commitTimer !== undefined) clearInterval(commitTimer)
    const committed: PartitionOffset[] = []
    const finalCommit = (async () => {
      await committing
      const offsets = runtime.takeCommittable()
      if (offsets.length > 0 && task.commit.mode === 'released') {
        await commitReleased(null, offsets)
        committed.push(...offsets)
      }
    })()
    await withTimeout(finalCommit, stopTimeoutMs)
    return { shard: task.shard, committed, unreleasedRecords: runtime.offsets.size, error: null }
  } finally {
    if (commitTimer !== undefined) clearInterval(commitTimer)
    runtime.writer.publish()
    await Promise.allSettled([
      consumer.disconnect(),
      deadLetterProducer?.disconnect(),
      offsetRefresher.stop(),
    ])
    if (!stopped) runtime.port.close()
  }
}

function groupInitialOffset (task: ConsumerShardTask): 'earliest' | 'latest' {
  const topology = task.topology as Topology
  const group = topology.groups.find((candidate) => candidate.groupId === task.groupId)
  return group?.initialOffset ?? 'latest'
}

/** Converts a kafkajs message into the backend-independent record shape, copying no payload. */
export function toIncomingRecord (topic: LiveTopic, partition: number, message: KafkaMessage): IncomingRecord {
  return {
    topicId: topic.id,
    partition,
    offset: Number(message.offset),
    timestamp: Number(message.timestamp),
    key: message.key ?? null,
    value: message.value ?? null,
    headers: message.headers === undefined ? EMPTY_HEADERS : headerEntries(message.headers),
  }
}

function headerEntries (headers: IHeaders): Array<[string, Uint8Array | null]> {
  const entries: Array<[string, Uint8Array | null]> = []
  for (const name of Object.keys(headers)) {
    const value = headers[name]
    if (Array.isArray(value)) {
      for (const item of value) entries.push([name, toBytes(item)])
    } else {
      entries.push([name, toBytes(value)])
    }
  }
  return entries
}

function toBytes (value: Buffer | string | undefined): Uint8Array | null {
  if (value === undefined || value === null) return null
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value
}

/** Builds the dead-letter copy: the original key, value and headers, plus headers saying why. */
function deadLetterMessage (topic: LiveTopic, record: IncomingRecord, attempts: readonly DecodeAttempt[]) {
  const headers: IHeaders = {}
  for (const [name, value] of record.headers) {
    if (value !== null) headers[name] = Buffer.from(value)
  }
  headers['tickbus-dlq-topic'] = topic.name
  headers['tickbus-dlq-partition'] = String(record.partition)
  headers['tickbus-dlq-offset'] = String(record.offset)
  headers['tickbus-dlq-decoders'] = attempts.map((attempt) => attempt.decoder).join(',')
  headers['tickbus-dlq-error'] = attempts.map((attempt) => `${attempt.decoder}: ${attempt.error}`).join('; ').slice(0, 4096)
  return {
    key: record.key === null ? null : Buffer.from(record.key),
    value: record.value === null ? null : Buffer.from(record.value),
    headers,
  }
}

async function withTimeout (promise: Promise<unknown>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    promise,
    new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs) }),
  ])
  clearTimeout(timer)
}
