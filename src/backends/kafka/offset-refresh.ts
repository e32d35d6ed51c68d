import type { Admin, Kafka } from 'kafkajs'
import type { ShardRuntime } from '../../bus/shard-runtime.js'

/**
 * Interval between broker offset refreshes of one shard, in ms. Each refresh sends one
 * ListOffsets request per topic of the group and one OffsetFetch request, on the shard's worker.
 */
export const OFFSET_REFRESH_INTERVAL_MS = 5000

/**
 * Keeps the offsets that lag needs but fetch responses do not carry up to date in a shard's stats
 * buffer. These are the log start offset, for a log truncated past the committed offset, and the
 * high watermark of partitions that have not returned a record yet. The third is the group's
 * committed offset, also for partitions committed by an earlier run or another member. Runs on
 * the shard's worker thread with its own kafkajs admin client, every OFFSET_REFRESH_INTERVAL_MS
 * and after each assignment, for the partitions the shard owns only.
 *
 * Failures are counted in the stats buffer. The first failure after a success is logged at warn
 * with the error, and the next success at info with the number of failed attempts.
 */
export class OffsetRefresher {
  readonly #kafka: Kafka
  readonly #runtime: ShardRuntime
  readonly #intervalMs: number
  #admin: Admin | undefined
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #again = false
  #stopped = false
  #failuresInRow = 0

  constructor (kafka: Kafka, runtime: ShardRuntime, intervalMs = OFFSET_REFRESH_INTERVAL_MS) {
    this.#kafka = kafka
    this.#runtime = runtime
    this.#intervalMs = intervalMs
  }

  /** Starts the periodic refresh. The timer does not keep the worker's event loop alive. */
  start (): void {
    if (this.#timer !== undefined || this.#stopped) return
    this.#timer = setInterval(() => { this.refreshNow() }, this.#intervalMs)
    this.#timer.unref()
  }

  /** Starts a refresh now, or one more right after the refresh in progress. */
  refreshNow (): void {
    if (this.#stopped) return
    if (this.#running !== undefined) {
      this.#again = true
      return
    }
    this.#running = this.#refreshLoop().finally(() => { this.#running = undefined })
  }

  /** Stops the timer, disconnects the admin client and waits for a refresh in progress to end. */
  async stop (): Promise<void> {
    this.#stopped = true
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    // Disconnecting first fails a request in flight at once instead of after its timeout.
    const admin = this.#admin
    this.#admin = undefined
    await admin?.disconnect().catch(() => {})
    await this.#running
  }

  async #refreshLoop (): Promise<void> {
    do {
      this.#again = false
      await this.#refreshOnce()
    } while (this.#again && !this.#stopped)
  }

  async #refreshOnce (): Promise<void> {
    const runtime = this.#runtime
    const stats = runtime.stats
    const layout = stats.layout
    const topics = layout.topics.filter((topic) => layout.slots.some((slot, index) => slot.topic === topic && stats.owns(index)))
    if (topics.length === 0) return

    try {
      if (this.#admin === undefined) {
        const admin = this.#kafka.admin()
        await admin.connect()
        if (this.#stopped) {
          await admin.disconnect().catch(() => {})
          return
        }
        this.#admin = admin
      }
      const admin = this.#admin
      const epoch = stats.commitEpoch
      const [committedByTopic, ...offsetsByTopic] = await Promise.all([
        admin.fetchOffsets({ groupId: runtime.task.groupId, topics }),
        ...topics.map(async (topic) => await admin.fetchTopicOffsets(topic)),
      ])
      if (this.#stopped) return

      for (let i = 0; i < topics.length; i++) {
        const topic = runtime.topicByName(topics[i]!)
        if (topic === undefined) continue
        const committed = new Map<number, number>()
        for (const entry of committedByTopic.find((candidate) => candidate.topic === topic.name)?.partitions ?? []) {
          committed.set(entry.partition, Number(entry.offset))
        }
        for (const entry of offsetsByTopic[i]!) {
          const slot = stats.slotOf(topic.id, entry.partition)
          if (slot < 0 || !stats.owns(slot)) continue
          stats.setBrokerOffsets(topic.id, entry.partition, Number(entry.low), Number(entry.high), committed.get(entry.partition) ?? -1, epoch)
        }
      }
      stats.recordRefresh(true)
      if (this.#failuresInRow > 0) {
        runtime.send({ type: 'log', level: 'info', message: 'broker offset refresh recovered', fields: { groupId: runtime.task.groupId, worker: runtime.task.shard, failedAttempts: this.#failuresInRow } })
      }
      this.#failuresInRow = 0
    } catch (error) {
      // A refresh that stop() cut short is not a failure.
      if (this.#stopped) return
      stats.recordRefresh(false)
      this.#failuresInRow++
      if (this.#failuresInRow === 1) {
        const message = error instanceof Error ? error.message : String(error)
        runtime.send({
          type: 'log',
          level: 'warn',
          message: `broker offset refresh failed, so log start and committed offsets keep their last values until a refresh succeeds: ${message}`,
          fields: { groupId: runtime.task.groupId, worker: runtime.task.shard, topics },
        })
      }
    }
  }
}
