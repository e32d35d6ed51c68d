import { describeValue, ErrorCode, TickbusError } from '../errors.js'

/** One reason why a topology is invalid, with the topic or group it concerns. */
export interface TopologyProblem {
  readonly message: string
  readonly topic?: string
  readonly groupId?: string
}

/** Collects the problems that `build()` finds, so that one error lists all of them. */
export class ProblemList {
  readonly items: TopologyProblem[] = []

  add (problem: TopologyProblem): void {
    this.items.push(problem)
  }

  /** Throws a TickbusError INVALID_TOPOLOGY listing every problem, if there is any. */
  throwIfAny (): void {
    const count = this.items.length
    if (count === 0) return
    const first = this.items[0] as TopologyProblem
    if (count === 1) {
      throw new TickbusError(ErrorCode.INVALID_TOPOLOGY, `Invalid topology: ${first.message}`, contextOf(first))
    }
    const lines = this.items.map((problem) => `  - ${problem.message}`)
    throw new TickbusError(ErrorCode.INVALID_TOPOLOGY, `Invalid topology, ${count} problems:\n${lines.join('\n')}`, contextOf(first))
  }
}

function contextOf (problem: TopologyProblem): { topic?: string, groupId?: string } {
  const context: { topic?: string, groupId?: string } = {}
  if (problem.topic !== undefined) context.topic = problem.topic
  if (problem.groupId !== undefined) context.groupId = problem.groupId
  return context
}

/** Maximum length of a Kafka topic name (`Topic.MAX_NAME_LENGTH` in Kafka's source). */
export const MAX_NAME_LENGTH = 249

const LEGAL_NAME = /^[a-zA-Z0-9._-]+$/

/**
 * Returns why `value` is not a legal Kafka topic name, or null when it is: 1 to 249 characters
 * from [a-zA-Z0-9._-], and neither "." nor "..". tickbus applies the same rule to consumer group
 * ids, which Kafka itself accepts in any form, so that ids stay safe in logs and metric labels.
 */
export function checkName (value: unknown): string | null {
  if (typeof value !== 'string') return `must be a string, received ${describeValue(value)}`
  if (value.length === 0) return 'must not be empty'
  if (value.length > MAX_NAME_LENGTH) return `must be at most ${MAX_NAME_LENGTH} characters, received ${value.length}`
  if (!LEGAL_NAME.test(value)) return `may contain only ASCII letters, digits, ".", "_" and "-", received ${describeValue(value)}`
  if (value === '.' || value === '..') return `must not be "." or "..", received ${describeValue(value)}`
  return null
}

/** Formats a name for a message: quoted when it is a string, described otherwise. */
export function quote (value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : describeValue(value)
}
