import kafkajs, { type Admin, type ITopicConfig } from 'kafkajs'
import { describe, expect, it } from 'vitest'

import { applyTopology } from '../../src/backends/kafka/apply-topology.js'
import { ErrorCode, TickbusError } from '../../src/errors.js'
import type { Logger } from '../../src/logger.js'
import { defineEvent } from '../../src/schema/define-event.js'
import { t } from '../../src/schema/fields.js'
import { createTopology } from '../../src/topology/builder.js'
import { uniqueName, useTestKafka, waitFor } from '../helpers/kafka.js'

const Move = defineEvent('Move', { x: t.f32() })

interface LoggedWarning {
  obj: object
  msg: string | undefined
}

/** Creates a Logger that keeps its warn entries and discards everything else. */
function warningLogger (warnings: LoggedWarning[]): Logger {
  const discard = (): void => {}
  const logger: Logger = {
    trace: discard,
    debug: discard,
    info: discard,
    warn: (obj, msg) => { warnings.push({ obj, msg }) },
    error: discard,
    fatal: discard,
    child: () => logger,
  }
  return logger
}

/** Connects an admin that is disconnected when the test ends, and deletes the listed topics first. */
async function connectAdmin (topicsToDelete: string[]): Promise<Admin> {
  const testKafka = useTestKafka()
  const admin = await testKafka.admin()
  testKafka.cleanup.add('delete test topics', async () => {
    const existing = new Set(await admin.listTopics())
    const topics = topicsToDelete.filter((topic) => existing.has(topic))
    if (topics.length > 0) await admin.deleteTopics({ topics })
  })
  return admin
}

/**
 * Creates a topic outside applyTopology and waits until every partition has a leader. The wait
 * polls metadata because KafkaJS's waitForLeaders fails on the UNKNOWN_TOPIC_OR_PARTITION that a
 * KRaft broker may return right after creation.
 */
async function createExistingTopic (admin: Admin, config: ITopicConfig & { numPartitions: number }): Promise<void> {
  await admin.createTopics({ topics: [config], waitForLeaders: false })
  await waitFor(async () => {
    const metadata = await admin.fetchTopicMetadata({ topics: [config.topic] })
    const partitions = metadata.topics[0]?.partitions ?? []
    return partitions.length === config.numPartitions && partitions.every((partition) => partition.leader >= 0)
  }, 10_000, { description: `leaders of topic ${config.topic}` })
}

async function partitionCount (admin: Admin, topic: string): Promise<number> {
  const metadata = await admin.fetchTopicMetadata({ topics: [topic] })
  return metadata.topics[0]?.partitions.length ?? 0
}

async function topicConfigs (admin: Admin, topic: string, names: string[]): Promise<Record<string, string>> {
  const response = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: names }],
  })
  const entries = response.resources[0]?.configEntries ?? []
  return Object.fromEntries(entries.map((entry) => [entry.configName, entry.configValue]))
}

async function rejection (promise: Promise<unknown>): Promise<TickbusError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof TickbusError) return error
    throw error
  }
  throw new Error('the call resolved, but it was expected to reject')
}

describe('applyTopology', () => {
  it('creates missing topics with partitions and configs', async () => {
    const moves = uniqueName('moves')
    const chat = uniqueName('chat')
    const admin = await connectAdmin([moves, chat])
    const topology = createTopology()
      .topic(moves, { partitions: 6, replicationFactor: 1, configs: { 'retention.ms': 3_600_000, 'cleanup.policy': 'compact' } })
      .topic(chat, { partitions: 2 })
      .bind(moves, Move)
      .build()

    const report = await applyTopology(admin, topology)

    expect(report.created).toEqual([moves, chat])
    expect(report.existing).toEqual([])
    expect(report.wouldCreate).toEqual([])
    expect(report.warnings).toEqual([])
    expect(await partitionCount(admin, moves)).toBe(6)
    expect(await partitionCount(admin, chat)).toBe(2)
    expect(await topicConfigs(admin, moves, ['retention.ms', 'cleanup.policy'])).toEqual({ 'retention.ms': '3600000', 'cleanup.policy': 'compact' })

    // Created topics have leaders when applyTopology returns.
    const metadata = await admin.fetchTopicMetadata({ topics: [moves] })
    for (const partition of metadata.topics[0]?.partitions ?? []) expect(partition.leader).toBeGreaterThanOrEqual(0)
  })

  it('waits for leaders of many new topics', async () => {
    const names = Array.from({ length: 20 }, () => uniqueName('many'))
    const admin = await connectAdmin(names)
    const builder = createTopology()
    for (const name of names) builder.topic(name, { partitions: 3 })

    const report = await applyTopology(admin, builder.build())

    expect(report.created).toEqual(names)
    const metadata = await admin.fetchTopicMetadata({ topics: names })
    for (const topic of metadata.topics) {
      expect(topic.partitions).toHaveLength(3)
      for (const partition of topic.partitions) expect(partition.leader).toBeGreaterThanOrEqual(0)
    }
  })

  it('leaves matching existing topics alone', async () => {
    const moves = uniqueName('moves')
    const admin = await connectAdmin([moves])
    const topology = createTopology().topic(moves, { partitions: 3, replicationFactor: 1, configs: { 'retention.ms': 60_000 } }).build()
    await applyTopology(admin, topology)

    const report = await applyTopology(admin, topology)

    expect(report.created).toEqual([])
    expect(report.existing).toEqual([moves])
    expect(report.mismatches).toEqual([])
    expect(report.warnings).toEqual([])
  })

  it('rejects a partition mismatch before creating', async () => {
    const moves = uniqueName('moves')
    const chat = uniqueName('chat')
    const admin = await connectAdmin([moves, chat])
    await createExistingTopic(admin, { topic: moves, numPartitions: 2 })
    const topology = createTopology().topic(moves, { partitions: 4 }).topic(chat, { partitions: 1 }).build()

    const error = await rejection(applyTopology(admin, topology))

    expect(error.code).toBe(ErrorCode.TOPOLOGY_MISMATCH)
    expect(error.topic).toBe(moves)
    expect(error.message).toContain(`Topic "${moves}" has 2 partitions, but 4 are declared.`)
    expect(error.message).toContain(`kafka-topics.sh --alter --topic ${moves} --partitions 4`)
    expect(await admin.listTopics()).not.toContain(chat)
  })

  it('names the fix for too many partitions', async () => {
    const moves = uniqueName('moves')
    const admin = await connectAdmin([moves])
    await createExistingTopic(admin, { topic: moves, numPartitions: 5 })

    const error = await rejection(applyTopology(admin, createTopology().topic(moves, { partitions: 3 }).build()))

    expect(error.code).toBe(ErrorCode.TOPOLOGY_MISMATCH)
    expect(error.message).toContain(`Topic "${moves}" has 5 partitions, but 3 are declared.`)
    expect(error.message).toContain('Kafka cannot remove partitions')
  })

  it('warns about a partition mismatch', async () => {
    const moves = uniqueName('moves')
    const chat = uniqueName('chat')
    const admin = await connectAdmin([moves, chat])
    await createExistingTopic(admin, { topic: moves, numPartitions: 2 })
    const topology = createTopology().topic(moves, { partitions: 4 }).topic(chat, { partitions: 1 }).build()
    const logged: LoggedWarning[] = []

    const report = await applyTopology(admin, topology, { onPartitionMismatch: 'warn', logger: warningLogger(logged) })

    expect(report.mismatches).toEqual([{ topic: moves, declared: 4, actual: 2 }])
    expect(report.warnings).toHaveLength(1)
    expect(report.warnings[0]).toContain(`Topic "${moves}" has 2 partitions, but 4 are declared.`)
    expect(report.existing).toEqual([moves])
    expect(report.created).toEqual([chat])
    expect(logged).toHaveLength(1)
    expect(logged[0]?.obj).toEqual({ topic: moves, declared: 4, actual: 2 })
    expect(await partitionCount(admin, moves)).toBe(2)
  })

  it('warns about config and replication differences', async () => {
    const moves = uniqueName('moves')
    const admin = await connectAdmin([moves])
    await createExistingTopic(admin, { topic: moves, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '60000' }] })
    const topology = createTopology().topic(moves, { partitions: 1, replicationFactor: 1, configs: { 'retention.ms': 120_000 } }).build()
    const logged: LoggedWarning[] = []

    const report = await applyTopology(admin, topology, { logger: warningLogger(logged) })

    expect(report.mismatches).toEqual([])
    expect(report.warnings).toEqual([
      `Topic "${moves}" has retention.ms=60000, but 120000 is declared. tickbus does not change existing topics. Use kafka-configs.sh --alter to change it.`,
    ])
    expect(logged.map((entry) => entry.obj)).toEqual([{ topic: moves }])
    expect(await topicConfigs(admin, moves, ['retention.ms'])).toEqual({ 'retention.ms': '60000' })
  })

  it('validates without creating in validate-only mode', async () => {
    const moves = uniqueName('moves')
    const chat = uniqueName('chat')
    const admin = await connectAdmin([moves, chat])
    await createExistingTopic(admin, { topic: chat, numPartitions: 1 })
    const topology = createTopology()
      .topic(moves, { partitions: 3, replicationFactor: 1, configs: { 'retention.ms': 60_000 } })
      .topic(chat, { partitions: 1 })
      .build()

    const report = await applyTopology(admin, topology, { validateOnly: true })

    expect(report.wouldCreate).toEqual([moves])
    expect(report.created).toEqual([])
    expect(report.existing).toEqual([chat])
    expect(await admin.listTopics()).not.toContain(moves)
  })

  it('reports a config the broker rejects in validate-only mode', async () => {
    const moves = uniqueName('moves')
    const admin = await connectAdmin([moves])
    const topology = createTopology().topic(moves, { partitions: 1, configs: { 'cleanup.policy': 'sometimes' } }).build()

    const error = await rejection(applyTopology(admin, topology, { validateOnly: true }))

    expect(error.code).toBe(ErrorCode.BACKEND_FAILED)
    expect(error.message).toContain('Validating the creation of 1 topic(s) failed')
    expect(error.message).toContain(`topic "${moves}"`)
    expect(error.message).toContain('INVALID_CONFIG')
    expect(await admin.listTopics()).not.toContain(moves)
  })

  it('reports a replication factor the cluster cannot meet', async () => {
    const moves = uniqueName('moves')
    const chat = uniqueName('chat')
    const admin = await connectAdmin([moves, chat])
    // The test broker is a single node, so three replicas cannot be placed.
    const topology = createTopology().topic(moves, { partitions: 1, replicationFactor: 3 }).topic(chat, { partitions: 1 }).build()

    const error = await rejection(applyTopology(admin, topology))

    expect(error.code).toBe(ErrorCode.BACKEND_FAILED)
    expect(error.message).toContain('Creating 1 topic(s) failed')
    expect(error.message).toContain(`topic "${moves}"`)
    expect(error.message).toContain('INVALID_REPLICATION_FACTOR')
    expect(await admin.listTopics()).toContain(chat)
  })

  it('rejects an unknown mismatch action', async () => {
    const admin = await connectAdmin([])

    const error = await rejection(applyTopology(admin, createTopology().build(), { onPartitionMismatch: 'ignore' as never }))

    expect(error.code).toBe(ErrorCode.INVALID_OPTION)
    expect(error.message).toContain('onPartitionMismatch')
  })
})
