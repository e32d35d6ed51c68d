/**
 * Demo game server: a fixed 60 Hz tick that applies PlayerMoved, ItemPicked and ItemDropped
 * events from Kafka to a small world state, while a load generator in another process produces
 * them. Prints one status line per second and a summary that checks every produced event was
 * applied exactly once and every malformed payload was reported as a decode error.
 *
 *   npm run demo -- [--duration SECONDS] [--rate EVENTS_PER_SECOND] [--metrics-port PORT] [--backend auto|kafka|embedded]
 *
 * Uses KAFKA_BOOTSTRAP_SERVERS when set; otherwise starts a local broker (see scripts/kafka.ts).
 * Serves Prometheus metrics on http://127.0.0.1:PORT/metrics and a health check on /health
 * (default port 9464; 0 picks a free port).
 * With `--backend auto` (the default) a broker that cannot be started (no Java or Maven, say)
 * makes the demo run on the embedded in-process backend instead, with the load generated in
 * this process; it says so in one line.
 */
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { createBus, DEFAULT_METRICS_PORT, serveMetrics, embeddedBackend, kafkaBackend, type Backend } from 'tickbus'
import { acquireBroker } from '../scripts/kafka.js'
import { ItemDropped, ItemPicked, PlayerMoved, demoTopology } from './events.js'
import { generateLoad, type LoadReport } from './load.js'

const TICK_MS = 1000 / 60

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '15' },
    rate: { type: 'string', default: '20000' },
    'metrics-port': { type: 'string', default: String(DEFAULT_METRICS_PORT) },
    backend: { type: 'string', default: 'auto' },
  },
})
const durationSeconds = Number(values.duration)
const rate = Number(values.rate)
if (!(durationSeconds > 0) || !(rate > 0)) {
  throw new Error(`Invalid --duration ${values.duration} or --rate ${values.rate}: both must be positive numbers.`)
}
const metricsPort = Number(values['metrics-port'])
if (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65535) {
  throw new Error(`Invalid --metrics-port ${values['metrics-port']}: use a port from 0 to 65535 (0 picks a free port).`)
}
if (values.backend !== 'auto' && values.backend !== 'kafka' && values.backend !== 'embedded') {
  throw new Error(`Invalid --backend ${values.backend}: use auto, kafka or embedded.`)
}

const prefix = `demo-${randomBytes(3).toString('hex')}`
const { topology, moves: movesTopic, items: itemsTopic } = demoTopology(prefix)

let broker: Awaited<ReturnType<typeof acquireBroker>> | undefined
if (values.backend !== 'embedded') {
  try {
    broker = await acquireBroker(process.env, (message) => { console.log(`[kafka] ${message}`) })
  } catch (error) {
    if (values.backend === 'kafka' || process.env.KAFKA_BOOTSTRAP_SERVERS !== undefined) throw error
    console.log(`No Kafka broker could be started (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); running on the embedded in-process backend instead.`)
  }
}
const embedded = broker === undefined ? embeddedBackend() : undefined
const backend: Backend = embedded ?? kafkaBackend({ brokers: broker!.bootstrapServers.split(',') })
const bus = await createBus({ topology, backend })
const moves = bus.reader(PlayerMoved)
const picks = bus.reader(ItemPicked)
const drops = bus.reader(ItemDropped)
const decodeErrors = bus.decodeErrors()
const metricsServer = await serveMetrics(bus, { port: metricsPort }).catch(async (error: unknown) => {
  await bus.stop()
  throw new Error(`Failed to serve metrics on 127.0.0.1:${metricsPort}: ${error instanceof Error ? error.message : String(error)}. Pass --metrics-port with another port, or 0 for a free one.`, { cause: error })
})
console.log(`metrics on ${metricsServer.url}/metrics, health on ${metricsServer.url}/health`)

// World state: player positions and inventories, plus the ids applied, to check the run.
const positions = new Float32Array(64 * 2)
const inventory = new Map<number, number>()
const applied = new Set<bigint>()
let duplicates = 0
let decodeErrorCount = 0
let interrupted = false
process.once('SIGINT', () => { interrupted = true })

// With Kafka the load comes from a separate process, as it would in production. The embedded
// broker lives in this process, so its load is generated here, between ticks.
let report: LoadReport | undefined
let generator: ReturnType<typeof fork> | undefined
if (broker !== undefined) {
  generator = fork(new URL('./load-generator.ts', import.meta.url), [
    '--brokers', broker.bootstrapServers, '--prefix', prefix, '--rate', String(rate), '--duration', String(durationSeconds),
  ], { execArgv: ['--import', 'tsx'] })
  generator.once('message', (message) => { report = message as LoadReport })
  generator.once('exit', (code) => { if (code !== 0) console.log(`load generator exited with code ${code}`) })
} else {
  void generateLoad({
    moves: movesTopic,
    items: itemsTopic,
    rate,
    durationMs: durationSeconds * 1000,
    stopped: () => interrupted,
    send: async (batches) => {
      for (const batch of batches) {
        for (const record of batch.records) embedded!.produce(batch.topic, record)
      }
    },
  }).then((value) => { report = value })
}

console.log(`tickbus demo on ${backend.name}: ${rate} events/s for ${durationSeconds} s into topics ${movesTopic} and ${itemsTopic}, tick ${TICK_MS.toFixed(1)} ms`)

function applyId (id: bigint): void {
  if (applied.has(id)) duplicates++
  else applied.add(id)
}

function gameTick (): number {
  const started = performance.now()
  bus.tick()
  for (const move of moves) {
    positions[(move.playerId % 64) * 2] = move.x
    positions[(move.playerId % 64) * 2 + 1] = move.y
    applyId(move.eventId)
  }
  for (const pick of picks) {
    inventory.set(pick.itemId, (inventory.get(pick.itemId) ?? 0) + pick.quantity)
    applyId(pick.eventId)
  }
  for (const drop of drops) {
    inventory.set(drop.itemId, Math.max(0, (inventory.get(drop.itemId) ?? 0) - 1))
    applyId(drop.eventId)
  }
  for (const error of decodeErrors) {
    if (decodeErrorCount < 3) console.log(`decode error on ${error.topic}[${error.partition}] @${error.offset}: ${error.attempts}`)
    decodeErrorCount++
  }
  for (const error of bus.errors) console.log(`bus error ${error.code}: ${error.message}`)
  return performance.now() - started
}

const tickTimes: number[] = []
let secondStart = performance.now()
let appliedAtSecondStart = 0
let next = performance.now()
const deadline = performance.now() + (durationSeconds + 30) * 1000

// Runs until the generator finished and everything it produced was applied, Ctrl-C, or a
// deadline 30 s after the planned duration.
while (!interrupted) {
  tickTimes.push(gameTick())
  const now = performance.now()
  if (now - secondStart >= 1000) {
    const sorted = [...tickTimes].sort((a, b) => a - b)
    const lag = bus.metrics.partitions.totalLag()
    console.log(
      `events in ${Math.round((applied.size - appliedAtSecondStart) * 1000 / (now - secondStart))}/s, ` +
      `tick p50 ${percentile(sorted, 0.5).toFixed(3)} ms p99 ${percentile(sorted, 0.99).toFixed(3)} ms, ` +
      `lag ${lag < 0 ? 'unknown' : lag}, decode errors ${decodeErrorCount}`,
    )
    tickTimes.length = 0
    secondStart = now
    appliedAtSecondStart = applied.size
  }
  if (report !== undefined && applied.size >= report.moves + report.picked + report.dropped && decodeErrorCount >= report.malformed) break
  if (now > deadline) break
  next += TICK_MS
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())))
}

if (interrupted) generator?.kill('SIGINT')
const stopReport = await bus.stop()
await metricsServer.close()
await broker?.release()
const produced = report === undefined ? undefined : report.moves + report.picked + report.dropped
console.log(`summary: applied ${applied.size} events (${duplicates} duplicates), ${decodeErrorCount} decode errors; ` +
  `committed ${stopReport.committed.length} partition offsets at stop`)
if (produced === undefined) {
  console.log('summary: the load generator did not finish, so the run is not checked.')
  process.exitCode = 1
} else if (applied.size === produced && decodeErrorCount === report!.malformed) {
  console.log(`summary: OK, all ${produced} produced events were applied and all ${report!.malformed} malformed payloads were reported.`)
} else {
  console.log(`summary: MISMATCH, produced ${produced} events and ${report!.malformed} malformed payloads.`)
  process.exitCode = 1
}

function percentile (sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!
}
