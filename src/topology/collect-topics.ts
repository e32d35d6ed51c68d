import { describeValue } from '../errors.js'
import { checkName, type ProblemList, quote } from './problems.js'
import { Dispatch, InitialOffset } from './types.js'

/** Settings of a topic, as given to `topic()`. */
export interface TopicOptions {
  /** Number of partitions, an integer >= 1. */
  readonly partitions: number
  /** Replicas per partition, an integer from 1 to 32767. Default: the broker's `default.replication.factor`. */
  readonly replicationFactor?: number
  /**
   * Topic configs applied when the topic is created, such as `{ 'retention.ms': 3600000 }`.
   * Numbers and booleans are sent as their string form. Default: none.
   */
  readonly configs?: Readonly<Record<string, string | number | boolean>>
}

/** Routing of a topic's records to its bindings, as given to `routing()`. */
export interface RoutingOptions {
  /** Default `'first'`. See {@link Dispatch}. */
  readonly dispatch?: Dispatch
  /**
   * Topic that receives each record that no binding decoded. It must be declared with `topic()`
   * like any other topic. Default: none, and such records arrive in the tick as decode errors.
   */
  readonly deadLetterTopic?: string
}

/** Settings of a consumer group, as given to `group()`. */
export interface GroupOptions {
  /** Names of the declared topics the group reads, at least one. */
  readonly topics: readonly string[]
  /** Start position on a partition without a committed offset. Default `'latest'`, as in Kafka. */
  readonly initialOffset?: InitialOffset
  /**
   * Number of consumers (worker shards) in the group, an integer >= 1. Kafka's group protocol
   * splits the partitions of the group's topics among them, so shards beyond the partition count
   * stay idle. Default 1.
   */
  readonly shards?: number
}

export interface TopicSettings {
  readonly name: string
  readonly partitions: number
  readonly replicationFactor?: number
  readonly configs: Readonly<Record<string, string>>
}

export interface RoutingSettings {
  dispatch?: Dispatch
  deadLetterTopic?: string
}

export interface GroupSettings {
  readonly groupId: string
  readonly topics: readonly string[]
  readonly initialOffset: InitialOffset
  readonly shards: number
}

/** Maximum partition count, because Kafka sends it as an int32. */
const MAX_PARTITIONS = 0x7fffffff
/** Maximum replication factor, because Kafka sends it as an int16. */
const MAX_REPLICATION_FACTOR = 0x7fff

/**
 * Declared topics: the valid ones by name in order of first declaration, and the names of those
 * whose settings were invalid. A reference to an invalid topic is not reported again.
 */
export interface TopicTable {
  readonly valid: Map<string, TopicSettings>
  readonly invalid: Set<string>
}

/** Validates the `topic()` declarations and merges identical repeats. */
export function collectTopics (declarations: ReadonlyArray<{ name: unknown, options: unknown }>, problems: ProblemList): TopicTable {
  const topics = new Map<string, TopicSettings>()
  const invalid = new Set<string>()
  const metricNames = new Map<string, string>()

  for (const { name, options } of declarations) {
    const nameProblem = checkName(name)
    if (nameProblem !== null) {
      problems.add({ message: `topic name ${nameProblem}.` })
      continue
    }
    const topicName = name as string
    const settings = normalizeTopic(topicName, options, problems)
    if (settings === null) {
      invalid.add(topicName)
      continue
    }

    const earlier = topics.get(topicName)
    if (earlier !== undefined) {
      const differences = describeTopicDifferences(earlier, settings)
      if (differences.length > 0) {
        problems.add({
          topic: topicName,
          message: `topic ${quote(topicName)} is declared twice with different settings (${differences.join('; ')}). Declare it once, or repeat the same settings.`,
        })
      }
      continue
    }

    // Kafka rejects a topic whose name equals an existing one after "." becomes "_", because
    // both would report under the same metric names.
    const metricName = topicName.replaceAll('.', '_')
    const collidesWith = metricNames.get(metricName)
    if (collidesWith !== undefined) {
      problems.add({
        topic: topicName,
        message: `topics ${quote(collidesWith)} and ${quote(topicName)} collide because Kafka treats "." and "_" alike in topic metric names and rejects the second one. Rename one of them.`,
      })
      invalid.add(topicName)
      continue
    }
    metricNames.set(metricName, topicName)
    topics.set(topicName, settings)
  }

  // A name declared once validly and once invalidly counts as invalid.
  for (const name of invalid) topics.delete(name)
  return { valid: topics, invalid }
}

function normalizeTopic (name: string, options: unknown, problems: ProblemList): TopicSettings | null {
  const where = `topic ${quote(name)}`
  if (!isObject(options)) {
    problems.add({ topic: name, message: `${where}: options must be an object with at least "partitions", received ${describeValue(options)}.` })
    return null
  }
  const count = problems.items.length
  const { partitions, replicationFactor, configs } = options as Partial<Record<keyof TopicOptions, unknown>>

  if (!isIntegerInRange(partitions, 1, MAX_PARTITIONS)) {
    problems.add({ topic: name, message: `${where}: partitions must be an integer from 1 to ${MAX_PARTITIONS}, received ${describeValue(partitions)}.` })
  }
  if (replicationFactor !== undefined && !isIntegerInRange(replicationFactor, 1, MAX_REPLICATION_FACTOR)) {
    problems.add({ topic: name, message: `${where}: replicationFactor must be an integer from 1 to ${MAX_REPLICATION_FACTOR}, received ${describeValue(replicationFactor)}.` })
  }
  const configStrings = normalizeConfigs(where, name, configs, problems)
  if (problems.items.length > count || configStrings === null) return null

  const settings: { name: string, partitions: number, replicationFactor?: number, configs: Record<string, string> } = {
    name,
    partitions: partitions as number,
    configs: configStrings,
  }
  if (replicationFactor !== undefined) settings.replicationFactor = replicationFactor as number
  return settings
}

function normalizeConfigs (where: string, topic: string, configs: unknown, problems: ProblemList): Record<string, string> | null {
  if (configs === undefined) return {}
  if (!isObject(configs)) {
    problems.add({ topic, message: `${where}: configs must be an object of config names to values, received ${describeValue(configs)}.` })
    return null
  }
  const result: Record<string, string> = {}
  let valid = true
  // Sorted so that two declarations with the same configs in another order compare equal.
  for (const key of Object.keys(configs).sort()) {
    const value = (configs as Record<string, unknown>)[key]
    if (key.length === 0) {
      problems.add({ topic, message: `${where}: config names must not be empty.` })
      valid = false
    } else if (typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) {
      result[key] = String(value)
    } else {
      problems.add({ topic, message: `${where}: config ${quote(key)} must be a string, a finite number or a boolean, received ${describeValue(value)}.` })
      valid = false
    }
  }
  return valid ? result : null
}

function describeTopicDifferences (a: TopicSettings, b: TopicSettings): string[] {
  const differences: string[] = []
  if (a.partitions !== b.partitions) differences.push(`partitions ${a.partitions} and ${b.partitions}`)
  if (a.replicationFactor !== b.replicationFactor) {
    differences.push(`replicationFactor ${a.replicationFactor ?? 'broker default'} and ${b.replicationFactor ?? 'broker default'}`)
  }
  if (JSON.stringify(a.configs) !== JSON.stringify(b.configs)) {
    differences.push(`configs ${JSON.stringify(a.configs)} and ${JSON.stringify(b.configs)}`)
  }
  return differences
}

/**
 * Validates the `routing()` calls. Repeated calls for one topic merge field by field, and two
 * calls that set one field to different values are a conflict.
 */
export function collectRoutings (
  declarations: ReadonlyArray<{ topic: unknown, options: unknown }>,
  topics: TopicTable,
  problems: ProblemList,
): Map<string, RoutingSettings> {
  const routings = new Map<string, RoutingSettings>()

  for (const { topic, options } of declarations) {
    if (!checkTopicReference('routing', topic, topics, problems)) continue
    const where = `routing of topic ${quote(topic)}`
    if (!isObject(options)) {
      problems.add({ topic, message: `${where}: options must be an object, received ${describeValue(options)}.` })
      continue
    }
    const { dispatch, deadLetterTopic } = options as Partial<Record<keyof RoutingOptions, unknown>>
    const routing = routings.get(topic) ?? {}
    routings.set(topic, routing)

    if (dispatch !== undefined) {
      if (dispatch !== Dispatch.FIRST && dispatch !== Dispatch.ALL) {
        problems.add({ topic, message: `${where}: dispatch must be "first" or "all", received ${describeValue(dispatch)}.` })
      } else if (routing.dispatch !== undefined && routing.dispatch !== dispatch) {
        problems.add({ topic, message: `${where}: dispatch is set twice, to ${quote(routing.dispatch)} and ${quote(dispatch)}. Set it once.` })
      } else {
        routing.dispatch = dispatch
      }
    }

    if (deadLetterTopic !== undefined) {
      const deadLetter = checkDeadLetterTopic(where, topic, deadLetterTopic, topics, problems)
      if (deadLetter === null) continue
      if (routing.deadLetterTopic !== undefined && routing.deadLetterTopic !== deadLetter) {
        problems.add({ topic, message: `${where}: deadLetterTopic is set twice, to ${quote(routing.deadLetterTopic)} and ${quote(deadLetter)}. Set it once.` })
      } else {
        routing.deadLetterTopic = deadLetter
      }
    }
  }

  reportDeadLetterCycles(routings, problems)
  return routings
}

function checkDeadLetterTopic (where: string, topic: string, deadLetterTopic: unknown, topics: TopicTable, problems: ProblemList): string | null {
  const nameProblem = checkName(deadLetterTopic)
  if (nameProblem !== null) {
    problems.add({ topic, message: `${where}: deadLetterTopic ${nameProblem}.` })
    return null
  }
  const name = deadLetterTopic as string
  if (name === topic) {
    problems.add({ topic, message: `${where}: deadLetterTopic must differ from the topic itself, received ${quote(name)}.` })
    return null
  }
  if (topics.invalid.has(name)) return null
  if (!topics.valid.has(name)) {
    problems.add({
      topic,
      message: `${where}: dead-letter topic ${quote(name)} is not declared. Declare it with .topic(${quote(name)}, { partitions }) so that it is created with chosen settings.`,
    })
    return null
  }
  return name
}

/** Reports dead-letter chains that lead back to their start, such as a → a.dlq → a. */
function reportDeadLetterCycles (routings: ReadonlyMap<string, RoutingSettings>, problems: ProblemList): void {
  const reported = new Set<string>()
  for (const start of routings.keys()) {
    if (reported.has(start)) continue
    const chain = [start]
    let next = routings.get(start)?.deadLetterTopic
    while (next !== undefined && !chain.includes(next)) {
      chain.push(next)
      next = routings.get(next)?.deadLetterTopic
    }
    if (next !== start) continue
    for (const topic of chain) reported.add(topic)
    problems.add({
      topic: start,
      message: `dead-letter topics form a cycle (${[...chain, start].map(quote).join(' → ')}), so an undecodable record would circulate. Remove one deadLetterTopic.`,
    })
  }
}

/**
 * Validates the `group()` declarations and merges identical repeats. `boundTopics` lists the topics
 * that have at least one binding: a group reading a topic without bindings would commit records
 * that nothing decoded, so that is a problem.
 */
export function collectGroups (
  declarations: ReadonlyArray<{ groupId: unknown, options: unknown }>,
  topics: TopicTable,
  boundTopics: ReadonlySet<string>,
  problems: ProblemList,
): Map<string, GroupSettings> {
  const groups = new Map<string, GroupSettings>()

  for (const { groupId, options } of declarations) {
    const nameProblem = checkName(groupId)
    if (nameProblem !== null) {
      problems.add({ message: `group id ${nameProblem}.` })
      continue
    }
    const id = groupId as string
    const settings = normalizeGroup(id, options, topics, boundTopics, problems)
    if (settings === null) continue

    const earlier = groups.get(id)
    if (earlier === undefined) {
      groups.set(id, settings)
    } else if (JSON.stringify(earlier) !== JSON.stringify(settings)) {
      problems.add({
        groupId: id,
        message: `group ${quote(id)} is declared twice with different settings (${JSON.stringify(earlier)} and ${JSON.stringify(settings)}). Declare it once, or repeat the same settings.`,
      })
    }
  }
  return groups
}

function normalizeGroup (
  groupId: string,
  options: unknown,
  topics: TopicTable,
  boundTopics: ReadonlySet<string>,
  problems: ProblemList,
): GroupSettings | null {
  const where = `group ${quote(groupId)}`
  if (!isObject(options)) {
    problems.add({ groupId, message: `${where}: options must be an object with at least "topics", received ${describeValue(options)}.` })
    return null
  }
  const count = problems.items.length
  const { topics: groupTopics, initialOffset = InitialOffset.LATEST, shards = 1 } = options as Partial<Record<keyof GroupOptions, unknown>>

  let invalidTopic = false
  if (!Array.isArray(groupTopics) || groupTopics.length === 0) {
    problems.add({ groupId, message: `${where}: topics must be a non-empty array of topic names, received ${describeValue(groupTopics)}.` })
  } else {
    const seen = new Set<unknown>()
    for (const topic of groupTopics) {
      if (seen.has(topic)) {
        problems.add({ groupId, message: `${where}: topic ${quote(topic)} is listed twice. List each topic once.` })
        continue
      }
      seen.add(topic)
      if (!checkTopicReference(where, topic, topics, problems, groupId)) {
        invalidTopic = true
      } else if (!boundTopics.has(topic)) {
        problems.add({
          groupId,
          topic,
          message: `${where} reads topic ${quote(topic)}, which has no bindings, so its records would be committed without being decoded. Bind an event type with .bind(${quote(topic)}, EventType).`,
        })
      }
    }
  }
  if (initialOffset !== InitialOffset.EARLIEST && initialOffset !== InitialOffset.LATEST) {
    problems.add({ groupId, message: `${where}: initialOffset must be "earliest" or "latest", received ${describeValue(initialOffset)}.` })
  }
  if (!isIntegerInRange(shards, 1, Number.MAX_SAFE_INTEGER)) {
    problems.add({ groupId, message: `${where}: shards must be an integer >= 1, received ${describeValue(shards)}.` })
  }
  if (invalidTopic || problems.items.length > count) return null

  return { groupId, topics: [...groupTopics as string[]], initialOffset: initialOffset as InitialOffset, shards: shards as number }
}

/**
 * Returns true when `topic` names a valid declared topic. Adds a problem for a name that is not
 * declared, and returns false without one for a topic whose declaration is invalid.
 */
export function checkTopicReference (where: string, topic: unknown, topics: TopicTable, problems: ProblemList, groupId?: string): topic is string {
  if (typeof topic === 'string' && topics.valid.has(topic)) return true
  if (typeof topic === 'string' && topics.invalid.has(topic)) return false

  const problem: { message: string, topic?: string, groupId?: string } = { message: '' }
  if (groupId !== undefined) problem.groupId = groupId
  if (typeof topic !== 'string') {
    problem.message = `${where}: topic names must be strings, received ${describeValue(topic)}.`
  } else {
    problem.topic = topic
    const fix = checkName(topic) === null ? ` Declare it with .topic(${quote(topic)}, { partitions }).` : ''
    problem.message = `${where}: topic ${quote(topic)} is not declared.${fix}`
  }
  problems.add(problem)
  return false
}

export function isObject (value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isIntegerInRange (value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
}
