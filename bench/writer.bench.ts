import { PerformanceObserver } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { MessageChannel, Worker } from 'node:worker_threads'

import { Bench } from 'tinybench'

import { createEventWriter } from '../src/bus/event-writer.js'
import { createProducerControl } from '../src/bus/producer-control.js'
import { createRingMemory } from '../src/ring/memory.js'
import { createRingBuffer } from '../src/ring/ring-buffer.js'
import { NO_RECORD, RingReader } from '../src/ring/ring-reader.js'
import { defineEvent, type EventOf } from '../src/schema/define-event.js'
import { t } from '../src/schema/fields.js'
import { createTopology } from '../src/topology/builder.js'
import { printPerEventTable } from './per-event-table.js'

/*
 * Main-thread cost of handing one small event to the producer, per event, for BATCH events.
 * The first table compares, for one event type:
 *
 * - EventWriter.write: the fields copied into the outbound ring with the event type's generated
 *   encodeInto, the worker's wake-up word checked, a publish every 64 records. Each iteration
 *   then drains the ring in this thread (claim, walk, release), so the figure includes a reader's
 *   cost of a few ns per record that the producer worker pays in production.
 * - postMessage of the event object to a worker thread: a structured clone per event on this
 *   thread; the worker discards what it receives.
 * - JSON.stringify into a queue: the main thread encodes, as a producer without a worker would.
 *
 * The second table runs after the writer has also seen other event types and write options. Its
 * call sites are then polymorphic, as in a game that writes many types. It measures the plain
 * write again, a write with a string key and two headers, and one with a 16-character string
 * field. tinybench warms up every task of a table before it measures, so the tables are separate.
 *
 * Then an allocation check: one million writes, counting garbage collections and heap growth.
 */

const BATCH = 256

const Move = defineEvent('Move', { playerId: t.u32(), x: t.f32(), y: t.f32(), heading: t.f32() })
const Chat = defineEvent('Chat', { playerId: t.u32(), text: t.string() })
type Move = EventOf<typeof Move>

const topology = createTopology()
  .topic('moves', { partitions: 8 })
  .topic('chat', { partitions: 8 })
  .bind('moves', Move)
  .bind('chat', Chat)
  .build()

const ring = createRingBuffer(1024 * 1024)
const writer = createEventWriter({ topology, ring, control: createProducerControl() })
const reader = new RingReader(createRingMemory(ring))

const events: Move[] = Array.from({ length: BATCH }, (_, i) => ({ playerId: i, x: i * 0.5, y: -i * 0.25, heading: 1.5 }))
const keyedOptions = Array.from({ length: BATCH }, (_, i) => ({ key: `player-${i}`, headers: { kind: 'move', region: 'eu' } }))
const chats = Array.from({ length: BATCH }, (_, i) => ({ playerId: i, text: `hello player ${String(i).padStart(3, '0')}` }))

/** Written or cloned count, so that no work can be optimized away. */
let checksum = 0

function drain (): void {
  reader.claim()
  while (reader.nextRecord() !== NO_RECORD) checksum++
  reader.release(reader.mark())
}

const sink = new Worker('const { parentPort } = require("node:worker_threads"); parentPort.on("message", (port) => { port.on("message", () => {}) })', { eval: true })
const { port1, port2 } = new MessageChannel()
sink.postMessage(port2, [port2])
const jsonQueue: string[] = []

function writeMoves (): void {
  for (let i = 0; i < BATCH; i++) if (writer.write(Move, events[i]!)) checksum++
  drain()
}

const alternatives = new Bench({ name: `${BATCH} small events (u32 and three f32 fields) of one type handed to the producer`, time: 2000, warmupTime: 500 })

alternatives.add('EventWriter.write into the outbound ring', writeMoves)

alternatives.add('postMessage of the event object to a worker', () => {
  for (let i = 0; i < BATCH; i++) port1.postMessage(events[i])
  checksum += BATCH
})

alternatives.add('JSON.stringify into a queue', () => {
  for (let i = 0; i < BATCH; i++) jsonQueue.push(JSON.stringify(events[i]))
  checksum += jsonQueue.length
  jsonQueue.length = 0
})

await alternatives.run()
printPerEventTable(alternatives, BATCH)

const variants = new Bench({ name: `${BATCH} events, after the writer has seen several event types and options`, time: 2000, warmupTime: 500 })

variants.add('EventWriter.write of the small event', writeMoves)

variants.add('EventWriter.write with key and two headers', () => {
  for (let i = 0; i < BATCH; i++) if (writer.write(Move, events[i]!, keyedOptions[i])) checksum++
  drain()
})

variants.add('EventWriter.write of a 16-character string field', () => {
  for (let i = 0; i < BATCH; i++) if (writer.write(Chat, chats[i]!)) checksum++
  drain()
})

await variants.run()
printPerEventTable(variants, BATCH)

// Lets the sink worker take the queued messages before the allocation check.
await sleep(200)

let collections = 0
const observer = new PerformanceObserver((list) => { collections += list.getEntries().length })
observer.observe({ entryTypes: ['gc'] })
const WRITES = 1_000_000
const heapBefore = process.memoryUsage().heapUsed
for (let n = 0; n < WRITES / BATCH; n++) {
  for (let i = 0; i < BATCH; i++) writer.write(Move, events[i]!)
  drain()
}
const heapGrowth = process.memoryUsage().heapUsed - heapBefore
// PerformanceObserver delivers gc entries asynchronously.
await sleep(50)
observer.disconnect()
console.log(`Allocation check: ${WRITES} writes, ${collections} garbage collections, heap growth ${heapGrowth} bytes (${(heapGrowth / WRITES).toFixed(3)} bytes per write)`)

console.log(`checksum ${checksum}`)
port1.close()
await sink.terminate()
