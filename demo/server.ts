/**
 * Demo game server: a fixed 60 Hz tick that applies PlayerMoved, ItemPicked and ItemDropped
 * events from Kafka to a small world state, while a load generator in another process produces
 * them. Prints one status line per second and a summary that checks every produced event was
 * applied exactly once and every malformed payload was reported as a decode error.
 *
 *   npm run demo -- [--duration SECONDS] [--rate EVENTS_PER_SECOND]
 *
 * Uses KAFKA_BOOTSTRAP_SERVERS when set; otherwise starts a local broker (see scripts/kafka.ts).
 */
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { createBus, kafkaBackend } from 'tickbus'
import { acquireBroker } from '../scripts/kafka.js'
import { ItemDropped, ItemPicked, PlayerMoved, demoTopology } from './events.js'
import type { GeneratorReport } from './load-generator.js'

const TICK_MS = 1000 / 60

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '15' },
    rate: { type: 'string', default: '20000' },
  },
})
const durationSeconds = Number(values.duration)
const rate = Number(values.rate)
if (!(durationSeconds > 0) || !(rate > 0)) {
  throw new Error(`Invalid --duration ${values.duration} or --rate ${values.rate}: both must be positive numbers.`)
}

const broker = await acquireBroker(process.env, (message) => { console.log(`[kafka] ${message}`) })
const prefix = `demo-${randomBytes(3).toString('hex')}`
const { topology } = demoTopology(prefix)
const bus = await createBus({ topology, backend: kafkaBackend({ brokers: broker.bootstrapServers.split(',') }) })
const moves = bus.reader(PlayerMoved)
const picks = bus.reader(ItemPicked)
const drops = bus.reader(ItemDropped)
const decodeErrors = bus.decodeErrors()

// World state: player positions and inventories, plus the ids applied, to check the run.
const positions = new Float32Array(64 * 2)
const inventory = new Map<number, number>()
const applied = new Set<bigint>()
let duplicates = 0
let decodeErrorCount = 0
let interrupted = false
process.once('SIGINT', () => { interrupted = true })

const generator = fork(new URL('./load-generator.ts', import.meta.url), [
  '--brokers', broker.bootstrapServers, '--prefix', prefix, '--rate', String(rate), '--duration', String(durationSeconds),
], { execArgv: ['--import', 'tsx'] })
const generatorDone = new Promise<GeneratorReport>((resolve, reject) => {
  generator.once('message', (message) => { resolve(message as GeneratorReport) })
  generator.once('exit', (code) => { if (code !== 0) reject(new Error(`Load generator exited with code ${code}`)) })
})
let report: GeneratorReport | undefined
void generatorDone.then((value) => { report = value })

console.log(`tickbus demo: ${rate} events/s for ${durationSeconds} s into topics ${prefix}-moves and ${prefix}-items, tick ${TICK_MS.toFixed(1)} ms`)

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
    const depth = bus.ringDepths().reduce((sum, ring) => sum + ring.unreadBytes, 0)
    console.log(
      `events in ${Math.round((applied.size - appliedAtSecondStart) * 1000 / (now - secondStart))}/s, ` +
      `tick p50 ${percentile(sorted, 0.5).toFixed(3)} ms p99 ${percentile(sorted, 0.99).toFixed(3)} ms, ` +
      `ring backlog ${depth} B, decode errors ${decodeErrorCount}`,
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

if (interrupted) generator.kill('SIGINT')
const stopReport = await bus.stop()
await broker.release()
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
