import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { Bench } from 'tinybench'

import { EventReader } from '../src/bus/event-reader.js'
import { EventWindow } from '../src/bus/event-window.js'
import { Header, NO_BYTES, RECORD_HEADER_BYTES, RecordKind } from '../src/ring/layout.js'
import { createRingBuffer } from '../src/ring/ring-buffer.js'
import { createRingMemory } from '../src/ring/memory.js'
import { NO_RECORD, RingReader } from '../src/ring/ring-reader.js'
import { RING_FULL, RingWriter } from '../src/ring/ring-writer.js'
import { defineEvent, t } from '../src/index.js'
import { createViewContext } from '../src/schema/view.js'
import { printPerEventTable } from './per-event-table.js'

/*
 * Main-thread cost of one tick's drain plus a three-field read per event, the work bus.tick()
 * and a reader do for each record: claim the ring, walk its records, file each into its event
 * type's window, iterate the window with a reader and read playerId, x and y through the view,
 * then release. The ring is refilled before each iteration outside the timed part.
 *
 * Compared with JSON.parse of the same events (what a main-thread kafkajs consumer pays per
 * message before it can read a field) and with reading plain objects from an array (the floor).
 *
 * After the table, a run of 10 million events through the same drain loop reports the heap in
 * use before and after, with a forced collection at both ends.
 */

const BATCH = 1024
const Move = defineEvent('Move', { playerId: t.u32(), x: t.f32(), y: t.f32(), seq: t.u32() })
const MOVE_TYPE_ID = 1

const memory = createRingMemory(createRingBuffer(1 << 20))
const writer = new RingWriter(memory)
const reader = new RingReader(memory)
const context = createViewContext({ topics: ['', 'moves'], groups: ['', 'server'], devMode: false })
let generation = 0
const window = new EventWindow(1, BATCH * 2)
const moves = new EventReader(window, [memory], context, () => Move.createView(context), 0, () => generation)

function fillRing (): void {
  for (let i = 0; i < BATCH; i++) {
    const event = { playerId: i, x: i * 0.5, y: -i, seq: i }
    const bytes = RECORD_HEADER_BYTES + Move.measure(event)
    const offset = writer.reserve(bytes, RecordKind.EVENT)
    if (offset === RING_FULL) throw new Error('The benchmark ring is too small for one batch.')
    memory.u16[(offset + Header.EVENT_TYPE) >> 1] = MOVE_TYPE_ID
    memory.u32[(offset + Header.KEY_LENGTH) >> 2] = NO_BYTES
    Move.encodeInto(event, memory, offset + RECORD_HEADER_BYTES, bytes)
  }
  writer.publish()
}

/** Runs one tick: release, claim into the window, read three fields of every event. Returns a checksum. */
function drainTick (): number {
  generation++
  reader.release(reader.mark())
  window.beginTick()
  reader.claim()
  for (;;) {
    const offset = reader.nextRecord()
    if (offset === NO_RECORD) break
    if (memory.u8[offset + Header.KIND] !== RecordKind.EVENT) continue
    if (memory.u16[(offset + Header.EVENT_TYPE) >> 1] !== MOVE_TYPE_ID) continue
    window.add(0, offset)
  }
  let sum = 0
  for (const move of moves) sum += move.playerId + move.x + move.y
  return sum
}

const jsonTexts: string[] = []
const objects: Array<{ playerId: number, x: number, y: number, seq: number }> = []
for (let i = 0; i < BATCH; i++) {
  const event = { playerId: i, x: i * 0.5, y: -i, seq: i }
  jsonTexts.push(JSON.stringify(event))
  objects.push(event)
}

let sink = 0
const bench = new Bench({ name: `drain and read 3 fields, ${BATCH} events per iteration`, time: 1000 })
bench
  .add('tickbus drain + view read', () => { sink += drainTick() }, { beforeEach: fillRing })
  .add('JSON.parse + property read', () => {
    let sum = 0
    for (let i = 0; i < BATCH; i++) {
      const event = JSON.parse(jsonTexts[i]!) as { playerId: number, x: number, y: number }
      sum += event.playerId + event.x + event.y
    }
    sink += sum
  })
  .add('plain object array read', () => {
    let sum = 0
    for (let i = 0; i < BATCH; i++) {
      const event = objects[i]!
      sum += event.playerId + event.x + event.y
    }
    sink += sum
  })
await bench.run()
printPerEventTable(bench, BATCH)

// Heap across 10 million drained events: with no allocation per event the heap in use stays flat.
setFlagsFromString('--expose-gc')
const collect = runInNewContext('gc') as () => void
drainTick()
collect()
const heapBefore = process.memoryUsage().heapUsed
const TOTAL = 10_000_000
const started = process.hrtime.bigint()
for (let drained = 0; drained < TOTAL; drained += BATCH) {
  fillRing()
  sink += drainTick()
}
const elapsedNs = Number(process.hrtime.bigint() - started)
collect()
const heapAfter = process.memoryUsage().heapUsed
console.log(`10 M events through fill + drain + read: ${(elapsedNs / TOTAL).toFixed(1)} ns/event including the fill; ` +
  `heap in use ${(heapBefore / 1024).toFixed(0)} KiB before, ${(heapAfter / 1024).toFixed(0)} KiB after (${((heapAfter - heapBefore) / 1024).toFixed(0)} KiB change)`)
if (sink === 0.5) console.log('')
