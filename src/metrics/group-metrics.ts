import { ShardField, bindingCounterIndex, topicCounterIndex, type ShardField as ShardFieldIndex, type ShardStatsLayout, type StatsBinding } from './shard-stats-layout.js'

/**
 * Counters of one consumer group, summed over its shards' stats buffers at each call: commits,
 * broker offset refreshes, decode errors. Each shard's counters only grow (a restarted shard keeps
 * its buffer), so the sums only grow too. Main thread; allocates nothing.
 */
export class GroupMetrics {
  readonly groupId: string
  /** Topics of the group in counter order, for decodeErrorRecords(). */
  readonly topics: readonly string[]
  /** Bindings of the group's topics in counter order, for decodeFailures(). */
  readonly bindings: readonly StatsBinding[]
  /** Shard indexes of the group. */
  readonly shards: number[] = []
  readonly #layout: ShardStatsLayout
  readonly #fields: Float64Array[] = []

  /** @internal Created by BusMetrics. */
  constructor (layout: ShardStatsLayout) {
    this.groupId = layout.groupId
    this.topics = layout.topics
    this.bindings = layout.bindings
    this.#layout = layout
  }

  /** Commits the broker accepted. */
  commitsSucceeded (): number {
    return this.#sum(ShardField.COMMITS_SUCCEEDED)
  }

  /** Commits that failed. */
  commitsFailed (): number {
    return this.#sum(ShardField.COMMITS_FAILED)
  }

  /** Summed latency of every commit, succeeded or failed, in seconds. */
  commitSeconds (): number {
    return this.#sum(ShardField.COMMIT_SECONDS)
  }

  /** Broker offset refreshes that completed (`true`) or failed (`false`). */
  offsetRefreshes (succeeded: boolean): number {
    return this.#sum(succeeded ? ShardField.OFFSET_REFRESHES_SUCCEEDED : ShardField.OFFSET_REFRESHES_FAILED)
  }

  /** Records of partitions at or above a topic's declared partition count, which have no slot. */
  untrackedRecords (): number {
    return this.#sum(ShardField.UNTRACKED_RECORDS)
  }

  /** Records of `topics[topicIndex]` that no binding decoded. */
  decodeErrorRecords (topicIndex: number): number {
    return this.#sumAt(topicCounterIndex(this.#layout, topicIndex))
  }

  /** Decode attempts of `bindings[bindingIndex]` that threw, match predicates included. */
  decodeFailures (bindingIndex: number): number {
    return this.#sumAt(bindingCounterIndex(this.#layout, bindingIndex))
  }

  /** @internal Adds a shard's stats buffer to the sums. */
  addShard (shard: number, stats: SharedArrayBuffer): void {
    this.shards.push(shard)
    this.#fields.push(new Float64Array(stats))
  }

  #sum (field: ShardFieldIndex): number {
    return this.#sumAt(field)
  }

  #sumAt (index: number): number {
    let total = 0
    for (let i = 0; i < this.#fields.length; i++) total += this.#fields[i]![index]!
    return total
  }
}
