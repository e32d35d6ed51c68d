/**
 * Runs one consumer measurement in its own process, forked by run-performance-tests.ts, so that
 * RSS, JIT state and CPU use belong to that measurement alone. Receives a ConsumerJob over IPC,
 * sends 'ready' once every consumer owns its partitions, 'progress' while it reads, then a
 * 'result' (or 'failed') and exits.
 */
import { Kafka, logLevel, type Consumer, type LogEntry } from 'kafkajs'
import { createBus, kafkaBackend } from 'tickbus'
import { createPerfTopology } from './data-sets.js'
import { MeasurementWindow, WarningLog, createCaptureLogger, mainThreadNsPerEvent } from './measurement.js'
import { ConsumerImplementation, ConsumerMode, type ConsumerJob, type ConsumerMessage, type ConsumerResult } from './protocol.js'
import { RssSampler } from './rss.js'
import { KafkajsSink, TickbusSink, type DecodedMessage, type LatencyRecorder } from './sinks.js'
import { LogHistogram, distribution } from './stats.js'
import { TickLoop } from './tick-loop.js'

const PROGRESS_INTERVAL_MS = 250
const RSS_INTERVAL_MS = 250

function send (message: ConsumerMessage): void {
  process.send?.(message)
}

/** Opens the window when the consumer is ready and past its warm-up; see ConsumerJob. */
function shouldOpenWindow (job: ConsumerJob, ready: boolean, distinct: number, now: number, firstEventMs: number, readyMs: number): boolean {
  if (!ready) return false
  if (job.events === 0) return now - readyMs >= job.warmupMs
  if (job.recordLatency) return !Number.isNaN(firstEventMs) && now - firstEventMs >= job.warmupMs
  return distinct >= job.events * job.warmupFraction
}

async function measureTickbus (job: ConsumerJob, warnings: WarningLog): Promise<ConsumerResult> {
  const rss = new RssSampler(RSS_INTERVAL_MS)
  const assigned = new Map<number, readonly string[]>()
  const bus = await createBus({
    topology: createPerfTopology(job.dataSet, job.topic, job.partitions, job.groupId, job.workers),
    backend: kafkaBackend({ brokers: [...job.brokers], clientId: `perf-${job.groupId}` }),
    workers: job.workers,
    logger: createCaptureLogger(warnings, (shard, partitions) => { assigned.set(shard, partitions) }),
    ...(job.ringCapacityBytes === undefined ? {} : { ringCapacityBytes: job.ringCapacityBytes }),
  })

  try {
    const sink = new TickbusSink(bus, job.dataSet, job.partitions)
    const decodeErrors = bus.decodeErrors()
    const latency: LatencyRecorder | null = job.recordLatency ? { histogram: new LogHistogram(), fromMs: Number.POSITIVE_INFINITY } : null
    const window = new MeasurementWindow()
    const expectedShards = Math.min(job.workers, job.partitions)
    let ready = false
    let readyMs = Number.NaN
    let firstEventMs = Number.NaN
    let decodeErrorCount = 0
    let lastProgress = 0

    // Ready when the latest assignments of all shards are disjoint, cover every partition and
    // leave no shard empty. A shard's assignment stays stale until it rejoins after a rebalance,
    // and a stale one overlaps a newer one.
    const isReady = (): boolean => {
      let shards = 0
      const owned = new Set<string>()
      let total = 0
      for (const partitions of assigned.values()) {
        if (partitions.length > 0) shards++
        total += partitions.length
        for (const partition of partitions) owned.add(partition)
      }
      return shards >= expectedShards && owned.size === job.partitions && total === owned.size
    }
    const done = (): boolean => (job.events === 0 ? window.open && performance.now() - window.startMs >= job.idleMs : sink.unique >= job.events)

    const loop = new TickLoop({
      fixedWork: job.mode === ConsumerMode.TICK,
      deadline: performance.now() + job.timeoutMs,
      done,
      onTick: (visibleAtMs) => {
        // No tick before every shard owns its partitions: shards that join later take partitions
        // from the first one, and until then the first shard's ring fills and it waits.
        if (!ready) {
          if (!isReady()) return
          ready = true
          warnings.joining = false
          readyMs = visibleAtMs - performance.timeOrigin
          send({ type: 'ready' })
        }
        bus.tick()
        const read = sink.drain(visibleAtMs, latency)
        for (const error of decodeErrors) {
          decodeErrorCount++
          warnings.add(`decode error: ${error.attempts}`)
        }
        for (const error of bus.errors) warnings.add(`bus error ${error.code}: ${error.message}`)

        const now = visibleAtMs - performance.timeOrigin
        if (read > 0 && Number.isNaN(firstEventMs)) {
          firstEventMs = now
          if (latency !== null) latency.fromMs = visibleAtMs + job.warmupMs
        }
        if (!window.open && shouldOpenWindow(job, ready, sink.unique, now, firstEventMs, readyMs)) {
          window.start(sink.unique, now)
          rss.markWindowStart()
          loop.recording = true
        } else if (read > 0) {
          window.advance(sink.unique, now)
        }
        if (now - lastProgress >= PROGRESS_INTERVAL_MS) {
          lastProgress = now
          send({ type: 'progress', done: job.events === 0 ? Math.min(job.idleMs, window.open ? now - window.startMs : 0) : sink.unique, total: job.events === 0 ? job.idleMs : job.events })
        }
      },
    })
    await loop.run()
    window.finish()
    rss.markWindowEnd()

    if (!done()) throw new Error(`timed out after ${job.timeoutMs} ms with ${sink.unique} of ${job.events} events read (${ready ? 'all shards joined' : 'not all shards joined'})`)
    if (!window.open) warnings.add('the measured window never opened: every event was read before all shards had joined and the warm-up ended')
    const ringFullCount = bus.ringDepths().reduce((sum, ring) => sum + ring.fullCount, 0)
    return {
      implementation: ConsumerImplementation.TICKBUS,
      windowEvents: window.events,
      totalEvents: sink.total,
      duplicateEvents: sink.total - sink.unique,
      windowStartFraction: job.events === 0 ? Number.NaN : window.startEvents / job.events,
      receiveRatePerSec: job.events === 0 ? Number.NaN : window.ratePerSec,
      mainThreadNsPerEvent: mainThreadNsPerEvent(window, loop),
      frame: distribution(loop.frameMs.values()),
      tickWork: distribution(loop.workMs.values()),
      tickLateness: distribution(loop.latenessMs.values()),
      skippedTicks: loop.skippedTicks,
      latency: latency === null ? null : latency.histogram.distribution(),
      rss: rss.stop(),
      ringFullCount,
      decodeErrors: decodeErrorCount,
      warnings: warnings.list(),
    }
  } finally {
    const report = await bus.stop(5_000)
    for (const error of report.errors) warnings.add(`stop: ${error.message}`)
  }
}

async function measureKafkajs (job: ConsumerJob, warnings: WarningLog): Promise<ConsumerResult> {
  const rss = new RssSampler(RSS_INTERVAL_MS)
  const logCreator = () => (entry: LogEntry): void => { warnings.add(`kafkajs: ${entry.log.message}`) }
  const kafka = new Kafka({ clientId: `perf-${job.groupId}`, brokers: [...job.brokers], logLevel: logLevel.ERROR, logCreator })
  // The fetch settings tickbus's Kafka backend uses by default, so both consumers fetch alike.
  const consumer: Consumer = kafka.consumer({ groupId: job.groupId, maxWaitTimeInMs: 100, maxBytesPerPartition: 1024 * 1024, maxBytes: 10 * 1024 * 1024 })
  const sink = new KafkajsSink(job.dataSet)
  const latency: LatencyRecorder | null = job.recordLatency ? { histogram: new LogHistogram(), fromMs: Number.POSITIVE_INFINITY } : null
  const window = new MeasurementWindow()
  let ready = false
  let readyMs = Number.NaN
  let firstEventMs = Number.NaN
  let lastProgress = 0
  let finished: (() => void) | undefined
  const allRead = new Promise<void>((resolve) => { finished = resolve })
  // In tick mode eachBatch only decodes, into this queue, and the tick applies what it holds.
  const queue: DecodedMessage[] = []
  let loop: TickLoop | undefined

  const afterEvents = (now: number): void => {
    if (!window.open && shouldOpenWindow(job, ready, sink.total, now, firstEventMs, readyMs)) {
      window.start(sink.total, now)
      rss.markWindowStart()
      if (loop !== undefined) loop.recording = true
    } else {
      window.advance(sink.total, now)
    }
    if (now - lastProgress >= PROGRESS_INTERVAL_MS) {
      lastProgress = now
      send({ type: 'progress', done: sink.total, total: job.events })
    }
    if (job.events > 0 && sink.total >= job.events) finished?.()
  }

  if (job.mode === ConsumerMode.TICK) {
    loop = new TickLoop({
      fixedWork: true,
      deadline: performance.now() + job.timeoutMs,
      done: () => (job.events === 0 ? window.open && performance.now() - window.startMs >= job.idleMs : sink.total >= job.events),
      onTick: (visibleAtMs) => {
        const now = visibleAtMs - performance.timeOrigin
        for (let i = 0; i < queue.length; i++) {
          const sentAt = sink.apply(queue[i]!)
          if (latency !== null && sentAt >= latency.fromMs) latency.histogram.record(visibleAtMs - sentAt)
        }
        const read = queue.length
        queue.length = 0
        if (read > 0 && Number.isNaN(firstEventMs)) {
          firstEventMs = now
          if (latency !== null) latency.fromMs = visibleAtMs + job.warmupMs
        }
        if (read > 0 || job.events === 0) afterEvents(now)
      },
    })
  }

  consumer.on(consumer.events.GROUP_JOIN, () => {
    if (ready) return
    ready = true
    warnings.joining = false
    readyMs = performance.now()
    send({ type: 'ready' })
  })

  try {
    await consumer.connect()
    await consumer.subscribe({ topics: [job.topic], fromBeginning: true })
    await consumer.run({
      eachBatch: async ({ batch }) => {
        if (loop !== undefined) {
          for (const message of batch.messages) queue.push(sink.decode(message))
          return
        }
        for (const message of batch.messages) sink.consume(message)
        const now = performance.now()
        if (Number.isNaN(firstEventMs)) firstEventMs = now
        afterEvents(now)
      },
    })

    const timeout = new Promise<'timeout'>((resolve) => { setTimeout(() => resolve('timeout'), job.timeoutMs).unref() })
    const outcome = loop === undefined ? await Promise.race([allRead, timeout]) : await loop.run()
    window.finish()
    rss.markWindowEnd()
    const complete = job.events === 0 ? window.open : sink.total >= job.events
    if (outcome === 'timeout' || !complete) throw new Error(`timed out after ${job.timeoutMs} ms with ${sink.total} of ${job.events} events read`)

    return {
      implementation: ConsumerImplementation.KAFKAJS,
      windowEvents: window.events,
      totalEvents: sink.total,
      duplicateEvents: 0,
      windowStartFraction: job.events === 0 ? Number.NaN : window.startEvents / job.events,
      receiveRatePerSec: job.events === 0 ? Number.NaN : window.ratePerSec,
      mainThreadNsPerEvent: mainThreadNsPerEvent(window, loop),
      frame: loop === undefined ? null : distribution(loop.frameMs.values()),
      tickWork: loop === undefined ? null : distribution(loop.workMs.values()),
      tickLateness: loop === undefined ? null : distribution(loop.latenessMs.values()),
      skippedTicks: loop?.skippedTicks ?? 0,
      latency: latency === null ? null : latency.histogram.distribution(),
      rss: rss.stop(),
      ringFullCount: 0,
      decodeErrors: 0,
      warnings: warnings.list(),
    }
  } finally {
    await consumer.disconnect().catch((error: unknown) => { warnings.add(`disconnect: ${String(error)}`) })
  }
}

async function run (job: ConsumerJob): Promise<void> {
  const warnings = new WarningLog()
  try {
    const result = job.implementation === ConsumerImplementation.TICKBUS ? await measureTickbus(job, warnings) : await measureKafkajs(job, warnings)
    send({ type: 'result', result })
  } catch (error) {
    const logged = warnings.list()
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
    send({ type: 'failed', message: logged.length === 0 ? message : `${message}\nlogged before the failure:\n  ${logged.join('\n  ')}` })
    process.exitCode = 1
  } finally {
    process.disconnect?.()
  }
}

process.once('message', (job: ConsumerJob) => { void run(job) })

