import { setTimeout as sleep } from 'node:timers/promises'

import kafkajs, { type Admin, type ITopicConfig, type ITopicMetadata } from 'kafkajs'

import { ErrorCode, invalidOption, TickbusError } from '../../errors.js'
import { type Logger, noopLogger } from '../../logger.js'
import type { TopicDescriptor, Topology } from '../../topology/types.js'

/** Action of `applyTopology` on an existing topic whose partition count differs from the declaration. */
export const PartitionMismatchAction = {
  /** Throws a TickbusError TOPOLOGY_MISMATCH before any topic is created. */
  ERROR: 'error',
  /** Logs a warning and lists the mismatch in the report. */
  WARN: 'warn',
} as const

export type PartitionMismatchAction = (typeof PartitionMismatchAction)[keyof typeof PartitionMismatchAction]

export interface ApplyTopologyOptions {
  /** Default `'error'`. */
  readonly onPartitionMismatch?: PartitionMismatchAction
  /**
   * When true, the broker validates the creation of each missing topic (Kafka's CreateTopics
   * `validateOnly` flag) and nothing is created. Existing topics are checked as usual. Default false.
   */
  readonly validateOnly?: boolean
  /**
   * Time in ms that the controller may take to create a topic, and then the maximum time that
   * `applyTopology` waits for the new topic's partitions to have leaders. Default 5000, the
   * default of KafkaJS's createTopics.
   */
  readonly timeoutMs?: number
  /** Default: no logging. */
  readonly logger?: Logger
}

/** An existing topic with another partition count than declared. */
export interface PartitionMismatch {
  readonly topic: string
  readonly declared: number
  readonly actual: number
}

/** Outcome of {@link applyTopology}. */
export interface ApplyTopologyReport {
  /** Topics that were created, in declaration order. Empty in validate-only mode. */
  readonly created: string[]
  /** Topics that validate-only mode found missing and the broker would accept. Empty otherwise. */
  readonly wouldCreate: string[]
  /** Declared topics that already existed, including any that another client created meanwhile. */
  readonly existing: string[]
  /** Partition mismatches found with `onPartitionMismatch: 'warn'`. */
  readonly mismatches: PartitionMismatch[]
  /**
   * One sentence per difference that tickbus does not change on an existing topic: partition
   * mismatches in `'warn'` mode, another replication factor, or another value of a declared config.
   */
  readonly warnings: string[]
}

/** ConfigResourceTypes.TOPIC in the kafkajs enum. */
const TOPIC_RESOURCE = kafkajs.ConfigResourceTypes.TOPIC

const DEFAULT_TIMEOUT_MS = 5000
/** Delay between two metadata requests while waiting for the leaders of a new topic. */
const LEADER_POLL_INTERVAL_MS = 100

/**
 * Creates the declared topics that do not exist and checks the ones that do.
 *
 * Missing topics are created with their partitions, replication factor and configs, and the call
 * returns once their partitions have leaders. An existing topic is never changed. A partition
 * count that differs from the declaration is an error or a warning, by `onPartitionMismatch`. A
 * different replication factor or config value is always a warning. Every warning is logged and
 * listed in the report.
 *
 * `admin` must be connected, and stays connected. Main thread only.
 *
 * @throws TickbusError TOPOLOGY_MISMATCH naming every mismatched topic with its declared and
 * actual partition counts (with `onPartitionMismatch: 'error'`). It is thrown before any topic is
 * created, except for a topic that another client created while this call ran.
 * @throws TickbusError BACKEND_FAILED when the broker rejects a topic or cannot be reached.
 * Topics created before the failure stay created.
 */
export async function applyTopology (admin: Admin, topology: Topology, options: ApplyTopologyOptions = {}): Promise<ApplyTopologyReport> {
  const onPartitionMismatch = options.onPartitionMismatch ?? PartitionMismatchAction.ERROR
  if (onPartitionMismatch !== PartitionMismatchAction.ERROR && onPartitionMismatch !== PartitionMismatchAction.WARN) {
    throw invalidOption('onPartitionMismatch', 'expected "error" or "warn"', onPartitionMismatch)
  }
  const validateOnly = options.validateOnly ?? false
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw invalidOption('timeoutMs', 'expected an integer > 0', timeoutMs)
  }
  const logger = (options.logger ?? noopLogger).child({ component: 'apply-topology' })
  const report: ApplyTopologyReport = { created: [], wouldCreate: [], existing: [], mismatches: [], warnings: [] }

  const existingNames = new Set(await callAdmin('Listing topics', () => admin.listTopics()))
  const existing = topology.topics.filter((topic) => existingNames.has(topic.name))
  const missing = topology.topics.filter((topic) => !existingNames.has(topic.name))

  await checkExistingTopics(admin, existing, onPartitionMismatch, report, logger)

  const outcomes = await Promise.allSettled(missing.map(async (topic) => await createTopic(admin, topic, validateOnly, timeoutMs)))
  const failures: string[] = []
  const createdMeanwhile: TopicDescriptor[] = []
  outcomes.forEach((outcome, index) => {
    const topic = missing[index] as TopicDescriptor
    if (outcome.status === 'rejected') {
      failures.push(`topic "${topic.name}": ${describeKafkaError(outcome.reason)}`)
      logger.error({ topic: topic.name, err: outcome.reason, validateOnly }, 'Creating topic failed')
    } else if (!outcome.value) {
      createdMeanwhile.push(topic)
    } else if (validateOnly) {
      report.wouldCreate.push(topic.name)
      logger.info({ topic: topic.name, partitions: topic.partitions }, 'Topic is missing, and the broker validated its creation')
    } else {
      report.created.push(topic.name)
      logger.info({ topic: topic.name, partitions: topic.partitions, replicationFactor: topic.replicationFactor ?? 'broker default' }, 'Created topic')
    }
  })

  // KafkaJS returns false when the topic already exists: another client created it after the
  // listing, so it is checked like any existing topic.
  await checkExistingTopics(admin, createdMeanwhile, onPartitionMismatch, report, logger)

  if (failures.length > 0) {
    const action = validateOnly ? 'Validating the creation of' : 'Creating'
    const retriable = outcomes.some((outcome) => outcome.status === 'rejected' && isRetriable(outcome.reason))
    throw new TickbusError(
      ErrorCode.BACKEND_FAILED,
      `${action} ${failures.length} topic(s) failed:\n  - ${failures.join('\n  - ')}`,
      { retriable, cause: outcomes.find((outcome) => outcome.status === 'rejected')?.reason },
    )
  }
  return report
}

/**
 * Creates one topic and waits until each of its partitions has a leader. Resolves true when the
 * topic was created (or validated), false when it already existed.
 */
async function createTopic (admin: Admin, topic: TopicDescriptor, validateOnly: boolean, timeoutMs: number): Promise<boolean> {
  const config: ITopicConfig = {
    topic: topic.name,
    numPartitions: topic.partitions,
    configEntries: Object.entries(topic.configs).map(([name, value]) => ({ name, value })),
  }
  // Omitted, KafkaJS sends -1 and the broker applies default.replication.factor.
  if (topic.replicationFactor !== undefined) config.replicationFactor = topic.replicationFactor

  // KafkaJS's own waitForLeaders (2.2.4) gives up at the first UNKNOWN_TOPIC_OR_PARTITION, which a
  // KRaft broker returns until the new topic reaches its metadata cache, so the wait is done here.
  const created = await admin.createTopics({ topics: [config], validateOnly, waitForLeaders: false, timeout: timeoutMs })
  if (created && !validateOnly) await waitForLeaders(admin, topic, timeoutMs)
  return created
}

/** Polls the topic's metadata until every declared partition has a leader. */
async function waitForLeaders (admin: Admin, topic: TopicDescriptor, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let lastState: string

  for (;;) {
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [topic.name] })
      const partitions = metadata.topics.find((entry) => entry.name === topic.name)?.partitions ?? []
      const withLeader = partitions.filter((partition) => partition.leader >= 0).length
      if (partitions.length === topic.partitions && withLeader === topic.partitions) return
      lastState = `${withLeader} of ${topic.partitions} partitions had a leader`
    } catch (error) {
      if (!isRetriable(error)) throw error
      lastState = describeKafkaError(error)
    }

    if (Date.now() >= deadline) {
      throw new TickbusError(
        ErrorCode.BACKEND_FAILED,
        `Topic "${topic.name}" was created, but its partitions had no leaders after ${timeoutMs} ms (last state: ${lastState}). Raise timeoutMs or check the broker logs.`,
        { topic: topic.name, retriable: true },
      )
    }
    await sleep(LEADER_POLL_INTERVAL_MS)
  }
}

/**
 * Compares existing topics with their declarations: the partition count (error or warning), the
 * replication factor and the declared configs (warnings).
 */
async function checkExistingTopics (
  admin: Admin,
  topics: readonly TopicDescriptor[],
  onPartitionMismatch: PartitionMismatchAction,
  report: ApplyTopologyReport,
  logger: Logger,
): Promise<void> {
  if (topics.length === 0) return
  const names = topics.map((topic) => topic.name)
  const metadata = await callAdmin('Fetching topic metadata', () => admin.fetchTopicMetadata({ topics: names }))
  const metadataByName = new Map<string, ITopicMetadata>(metadata.topics.map((topic) => [topic.name, topic]))

  const mismatches: PartitionMismatch[] = []
  const warnings: TopicWarning[] = []
  for (const topic of topics) {
    const actual = metadataByName.get(topic.name)
    if (actual === undefined) continue
    report.existing.push(topic.name)

    if (actual.partitions.length !== topic.partitions) {
      mismatches.push({ topic: topic.name, declared: topic.partitions, actual: actual.partitions.length })
    }
    const replicas = actual.partitions[0]?.replicas.length
    if (topic.replicationFactor !== undefined && replicas !== undefined && replicas !== topic.replicationFactor) {
      warnings.push({ topic: topic.name, message: `Topic "${topic.name}" has replication factor ${replicas}, but ${topic.replicationFactor} is declared. tickbus does not change existing topics. Use kafka-reassign-partitions.sh to change it.` })
    }
  }
  warnings.push(...await findConfigDifferences(admin, topics.filter((topic) => metadataByName.has(topic.name))))

  if (mismatches.length > 0 && onPartitionMismatch === PartitionMismatchAction.ERROR) {
    const first = mismatches[0] as PartitionMismatch
    throw new TickbusError(
      ErrorCode.TOPOLOGY_MISMATCH,
      mismatches.length === 1
        ? describeMismatch(first)
        : `${mismatches.length} topics differ from their declarations:\n  - ${mismatches.map(describeMismatch).join('\n  - ')}`,
      { topic: first.topic },
    )
  }

  for (const mismatch of mismatches) {
    report.mismatches.push(mismatch)
    report.warnings.push(describeMismatch(mismatch))
    logger.warn({ topic: mismatch.topic, declared: mismatch.declared, actual: mismatch.actual }, describeMismatch(mismatch))
  }
  for (const warning of warnings) {
    report.warnings.push(warning.message)
    logger.warn({ topic: warning.topic }, warning.message)
  }
}

interface TopicWarning {
  readonly topic: string
  readonly message: string
}

/** Returns one warning per declared config whose value on the broker differs. */
async function findConfigDifferences (admin: Admin, topics: readonly TopicDescriptor[]): Promise<TopicWarning[]> {
  const withConfigs = topics.filter((topic) => Object.keys(topic.configs).length > 0)
  if (withConfigs.length === 0) return []

  const response = await callAdmin('Describing topic configs', () => admin.describeConfigs({
    includeSynonyms: false,
    resources: withConfigs.map((topic) => ({ type: TOPIC_RESOURCE, name: topic.name, configNames: Object.keys(topic.configs) })),
  }))

  const warnings: TopicWarning[] = []
  for (const topic of withConfigs) {
    const resource = response.resources.find((entry) => entry.resourceName === topic.name)
    const entries = new Map((resource?.configEntries ?? []).map((entry) => [entry.configName, entry]))
    for (const [name, declared] of Object.entries(topic.configs)) {
      const entry = entries.get(name)
      // Sensitive configs come back without a value, so they cannot be compared.
      if (entry === undefined || entry.isSensitive || entry.configValue === null) continue
      if (entry.configValue !== declared) {
        warnings.push({ topic: topic.name, message: `Topic "${topic.name}" has ${name}=${entry.configValue}, but ${declared} is declared. tickbus does not change existing topics. Use kafka-configs.sh --alter to change it.` })
      }
    }
  }
  return warnings
}

function describeMismatch ({ topic, declared, actual }: PartitionMismatch): string {
  const fix = actual < declared
    ? `Add partitions with kafka-topics.sh --alter --topic ${topic} --partitions ${declared} (records with a key then go to other partitions), or declare partitions: ${actual}.`
    : `Kafka cannot remove partitions: declare partitions: ${actual}, or delete and re-create the topic.`
  return `Topic "${topic}" has ${actual} partitions, but ${declared} are declared. ${fix}`
}

/** Runs one admin request and wraps its failure in a TickbusError BACKEND_FAILED. */
async function callAdmin<T> (action: string, request: () => Promise<T>): Promise<T> {
  try {
    return await request()
  } catch (error) {
    throw new TickbusError(ErrorCode.BACKEND_FAILED, `${action} failed: ${describeKafkaError(error)}`, { retriable: isRetriable(error), cause: error })
  }
}

/**
 * Formats a KafkaJS error with its Kafka error type (such as INVALID_REPLICATION_FACTOR), including
 * each error inside a KafkaJSAggregateError.
 */
function describeKafkaError (error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const inner = (error as { errors?: unknown }).errors
  if (Array.isArray(inner) && inner.length > 0) return inner.map(describeKafkaError).join('; ')
  const type = (error as { type?: unknown }).type
  return typeof type === 'string' ? `${error.message} (${type})` : error.message
}

function isRetriable (error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { retriable?: unknown }).retriable === true
}
