/**
 * Runs one producer measurement in its own process, forked by run-performance-tests.ts. A 60 Hz
 * tick hands up to `maxEventsPerTick` PerfMove events per tick to the producer, JSON-encoded and
 * keyed, until the broker acknowledged all of them: tickbus through bus.writer(), the baseline
 * with JSON.stringify and kafkajs send() on the main thread. Receives a ProducerJob over IPC,
 * sends 'progress', then a 'result' (or 'failed') and exits.
 */
import { Kafka, logLevel, Partitioners, type LogEntry, type Message } from 'kafkajs'
import { ErrorCode, createBus, createTopology, jsonDecoder, kafkaBackend } from 'tickbus'
import { PerfMove } from './events.js'
import { MeasurementWindow, WarningLog, createCaptureLogger, mainThreadNsPerEvent } from './measurement.js'
import { ProducerImplementation, type ProducerJob, type ProducerMessage, type ProducerResult } from './protocol.js'
import { RssSampler } from './rss.js'
import { distribution } from './stats.js'
import { TickLoop } from './tick-loop.js'

const PROGRESS_INTERVAL_MS = 250
const RSS_INTERVAL_MS = 250
const PLAYERS = 4096
/** Messages per kafkajs send() call, and calls in flight at once: the fastest setting measured for pre-producing. */
const KAFKAJS_MESSAGES_PER_SEND = 2000
const KAFKAJS_SENDS_IN_FLIGHT = 4

/** Message keys, made once so that neither producer allocates a key string per event. */
const KEYS = Array.from({ length: PLAYERS }, (_, playerId) => `p${playerId}`)

function send (message: ProducerMessage): void {
  process.send?.(message)
}

/** Fills `event` with event number `sequence`. Callers reuse one object, so this allocates nothing. */
function fillMove (event: { playerId: number, x: number, y: number, z: number, seq: number, sentAt: number, zone: string }, sequence: number, sentAt: number): void {
  event.playerId = sequence % PLAYERS
  event.x = (sequence % 1000) * 0.5
  event.y = -(sequence % 777) * 0.25
  event.z = 1.5
  event.seq = sequence
  event.sentAt = sentAt
  event.zone = 'arena-07'
}

/** Mean value size of the first `sample` events, as `encode` turns them into bytes. */
function meanPayloadBytes (encode: (event: ReturnType<typeof createMove>) => number, sample = 1000): number {
  const event = createMove()
  let bytes = 0
  for (let sequence = 0; sequence < sample; sequence++) {
    fillMove(event, sequence, performance.timeOrigin + performance.now())
    bytes += encode(event)
  }
  return Math.round(bytes / sample)
}

function createMove () {
  return { playerId: 0, x: 0, y: 0, z: 0, seq: 0, sentAt: 0, zone: '' }
}

/** Tracks acknowledged events, the warm-up and the measured window. */
class Acknowledgements {
  readonly window = new MeasurementWindow()
  readonly #job: ProducerJob
  readonly #rss: RssSampler
  #lastProgress = 0

  constructor (job: ProducerJob, rss: RssSampler) {
    this.#job = job
    this.#rss = rss
  }

  /** Records that `delivered` events were acknowledged by `now`; returns whether all were. */
  update (delivered: number, now: number, loop: TickLoop): boolean {
    const job = this.#job
    if (!this.window.open && delivered >= job.events * job.warmupFraction) {
      this.window.start(delivered, now)
      this.#rss.markWindowStart()
      loop.recording = true
    } else {
      this.window.advance(delivered, now)
    }
    if (now - this.#lastProgress >= PROGRESS_INTERVAL_MS) {
      this.#lastProgress = now
      send({ type: 'progress', done: delivered, total: job.events })
    }
    return delivered >= job.events
  }
}

async function measureTickbus (job: ProducerJob, warnings: WarningLog): Promise<ProducerResult> {
  const rss = new RssSampler(RSS_INTERVAL_MS)
  const bus = await createBus({
    topology: createTopology().topic(job.topic, { partitions: job.partitions, replicationFactor: 1 }).bind(job.topic, PerfMove, { decoder: jsonDecoder() }).build(),
    backend: kafkaBackend({ brokers: [...job.brokers], clientId: `perf-producer-${process.pid}` }),
    logger: createCaptureLogger(warnings, () => {}),
  })
  try {
    const writer = bus.writer()
    const deliveryFailures = bus.deliveryFailures()
    const event = createMove()
    const options = { key: '', partition: 0 }
    const acknowledgements = new Acknowledgements(job, rss)
    let written = 0
    let done = false
    let failed = 0

    const loop: TickLoop = new TickLoop({
      fixedWork: false,
      deadline: performance.now() + job.timeoutMs,
      done: () => done,
      onTick: (visibleAtMs) => {
        bus.tick()
        for (const failure of deliveryFailures) warnings.add(`delivery failure: ${failure.error.message}`)
        for (const error of bus.errors) {
          // This measurement runs into a full outbound ring on purpose. The refused writes are
          // counted in rejectedWrites and tried again on the next tick.
          if (error.code !== ErrorCode.RING_FULL) warnings.add(`bus error ${error.code}: ${error.message}`)
        }
        const limit = Math.min(job.events, written + job.maxEventsPerTick)
        while (written < limit) {
          fillMove(event, written, visibleAtMs)
          options.key = KEYS[written % PLAYERS]!
          options.partition = written % job.partitions
          if (!writer.write(PerfMove, event, options)) break
          written++
        }
        writer.publish()
        const statistics = bus.producerStatistics()
        failed = statistics.failed
        done = acknowledgements.update(statistics.delivered + statistics.failed, visibleAtMs - performance.timeOrigin, loop)
      },
    })
    await loop.run()
    acknowledgements.window.finish()
    rss.markWindowEnd()
    if (!done) throw new Error(`timed out after ${job.timeoutMs} ms with ${bus.producerStatistics().delivered} of ${job.events} events acknowledged`)

    const statistics = bus.producerStatistics()
    return {
      implementation: ProducerImplementation.TICKBUS,
      windowEvents: acknowledgements.window.events,
      payloadBytes: meanPayloadBytes((move) => PerfMove.json.encode(move).length),
      sendRatePerSec: acknowledgements.window.ratePerSec,
      mainThreadNsPerEvent: mainThreadNsPerEvent(acknowledgements.window, loop),
      frame: distribution(loop.frameMs.values()),
      tickWork: distribution(loop.workMs.values()),
      tickLateness: distribution(loop.latenessMs.values()),
      skippedTicks: loop.skippedTicks,
      rss: rss.stop(),
      rejectedWrites: statistics.rejected,
      failedEvents: failed,
      warnings: warnings.list(),
    }
  } finally {
    await bus.stop(5_000)
  }
}

async function measureKafkajs (job: ProducerJob, warnings: WarningLog): Promise<ProducerResult> {
  const rss = new RssSampler(RSS_INTERVAL_MS)
  const logCreator = () => (entry: LogEntry): void => { warnings.add(`kafkajs: ${entry.log.message}`) }
  const kafka = new Kafka({ clientId: `perf-producer-${process.pid}`, brokers: [...job.brokers], logLevel: logLevel.ERROR, logCreator })
  const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  try {
    const event = createMove()
    const acknowledgements = new Acknowledgements(job, rss)
    let queued = 0
    let delivered = 0
    let failed = 0
    let inFlight = 0
    let done = false

    const loop: TickLoop = new TickLoop({
      fixedWork: false,
      deadline: performance.now() + job.timeoutMs,
      done: () => done,
      onTick: (visibleAtMs) => {
        const limit = Math.min(job.events, queued + job.maxEventsPerTick)
        while (queued < limit && inFlight < KAFKAJS_SENDS_IN_FLIGHT) {
          const count = Math.min(KAFKAJS_MESSAGES_PER_SEND, limit - queued)
          const messages: Message[] = new Array(count)
          for (let i = 0; i < count; i++) {
            const sequence = queued + i
            fillMove(event, sequence, visibleAtMs)
            messages[i] = { key: KEYS[sequence % PLAYERS]!, value: JSON.stringify(event), partition: sequence % job.partitions }
          }
          queued += count
          inFlight++
          producer.send({ topic: job.topic, messages, acks: -1 }).then(() => {
            delivered += count
          }, (error: unknown) => {
            failed += count
            warnings.add(`send failed: ${error instanceof Error ? error.message : String(error)}`)
          }).finally(() => {
            inFlight--
          })
        }
        done = acknowledgements.update(delivered + failed, visibleAtMs - performance.timeOrigin, loop)
      },
    })
    await loop.run()
    acknowledgements.window.finish()
    rss.markWindowEnd()
    if (!done) throw new Error(`timed out after ${job.timeoutMs} ms with ${delivered} of ${job.events} events acknowledged`)

    return {
      implementation: ProducerImplementation.KAFKAJS,
      windowEvents: acknowledgements.window.events,
      payloadBytes: meanPayloadBytes((move) => Buffer.byteLength(JSON.stringify(move))),
      sendRatePerSec: acknowledgements.window.ratePerSec,
      mainThreadNsPerEvent: mainThreadNsPerEvent(acknowledgements.window, loop),
      frame: distribution(loop.frameMs.values()),
      tickWork: distribution(loop.workMs.values()),
      tickLateness: distribution(loop.latenessMs.values()),
      skippedTicks: loop.skippedTicks,
      rss: rss.stop(),
      rejectedWrites: 0,
      failedEvents: failed,
      warnings: warnings.list(),
    }
  } finally {
    await producer.disconnect()
  }
}

async function run (job: ProducerJob): Promise<void> {
  const warnings = new WarningLog()
  warnings.joining = false
  try {
    const result = job.implementation === ProducerImplementation.TICKBUS ? await measureTickbus(job, warnings) : await measureKafkajs(job, warnings)
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

process.once('message', (job: ProducerJob) => { void run(job) })
