import { Bench } from 'tinybench'

import { EventWindow } from '../src/bus/event-window.js'
import { Header, RECORD_HEADER_BYTES, RecordKind } from '../src/ring/layout.js'
import { createRingMemory } from '../src/ring/memory.js'
import { writeRecordEventType, writeRecordSource } from '../src/ring/record-header.js'
import { createRingBuffer } from '../src/ring/ring-buffer.js'
import { NO_RECORD, RingReader } from '../src/ring/ring-reader.js'
import { RING_FULL, RingWriter } from '../src/ring/ring-writer.js'
import { printPerEventTable } from './per-event-table.js'

/*
 * Cost per record of the per-partition drain figures (PartitionMetrics.lastDrainedOffset and
 * drainedThisTick) in the tick's claim loop. Three copies of the loop walk the same ring
 * contents and file each record into its type's window, as Bus.#claimRing does without limits:
 *
 * - no drain figures: the loop before the figures existed, the baseline.
 * - per-record update: reads topic and partition, looks the slot up and stores into both arrays
 *   for every record.
 * - per-run update: what Bus.#claimRing does, reading topic and partition per record but looking
 *   the slot up and storing only when the partition changes and at the end.
 *
 * Records come from PARTITIONS partitions in runs of RUN consecutive records of one partition:
 * long runs, as a fetch batch writes them, and runs of one record, the worst case.
 */

const BATCH = 4096
const PARTITIONS = 32
const TOPIC_ID = 1
const TYPE_ID = 1
const RECORD_BYTES = RECORD_HEADER_BYTES + 8

const memory = createRingMemory(createRingBuffer(1 << 20))
const writer = new RingWriter(memory)
const reader = new RingReader(memory)
const window = new EventWindow(1, BATCH * 2)
const slotBase = new Int32Array([-1, 0])
const partitionLimit = new Int32Array([0, PARTITIONS])
const lastDrainedOffset = new Float64Array(PARTITIONS)
const drainedThisTick = new Int32Array(PARTITIONS)
const kafkaOffsets = new Float64Array(PARTITIONS)

/** Writes BATCH records in runs of `run` records per partition and publishes them. */
function fillRing (run: number): void {
  for (let i = 0; i < BATCH; i++) {
    const partition = Math.floor(i / run) % PARTITIONS
    const offset = writer.reserve(RECORD_BYTES, RecordKind.EVENT)
    if (offset === RING_FULL) throw new Error('The benchmark ring is too small for one batch.')
    writeRecordEventType(memory, offset, TYPE_ID)
    writeRecordSource(memory, offset, TOPIC_ID, 1, partition, kafkaOffsets[partition]!++, 0)
  }
  writer.publish()
}

/** Releases the last iteration's records and starts a tick; not timed. */
function beginTick (run: number): void {
  reader.release(reader.mark())
  window.beginTick()
  drainedThisTick.fill(0)
  fillRing(run)
}

function claimWithoutFigures (): number {
  const u8 = memory.u8
  const u16 = memory.u16
  let total = 0
  reader.claim()
  for (;;) {
    const offset = reader.nextRecord()
    if (offset === NO_RECORD) break
    if (u8[offset + Header.KIND] !== RecordKind.EVENT) continue
    if (u16[(offset + Header.EVENT_TYPE) >> 1] !== TYPE_ID) continue
    window.add(0, offset)
    total++
  }
  return total
}

function claimWithRecordUpdate (): number {
  const u8 = memory.u8
  const u16 = memory.u16
  const i32 = memory.i32
  const f64 = memory.f64
  let total = 0
  reader.claim()
  for (;;) {
    const offset = reader.nextRecord()
    if (offset === NO_RECORD) break
    if (u8[offset + Header.KIND] !== RecordKind.EVENT) continue
    if (u16[(offset + Header.EVENT_TYPE) >> 1] !== TYPE_ID) continue
    window.add(0, offset)
    const topic = u16[(offset + Header.TOPIC) >> 1]!
    const partition = i32[(offset + Header.PARTITION) >> 2]!
    if (partition >= 0 && partition < partitionLimit[topic]!) {
      const slot = slotBase[topic]! + partition
      lastDrainedOffset[slot] = f64[(offset + Header.OFFSET) >> 3]!
      drainedThisTick[slot]++
    }
    total++
  }
  return total
}

function claimWithRunUpdate (): number {
  const u8 = memory.u8
  const u16 = memory.u16
  const i32 = memory.i32
  const f64 = memory.f64
  let runSlot = -1
  let runTopic = -1
  let runPartition = -1
  let runCount = 0
  let runLast = 0
  let total = 0
  reader.claim()
  for (;;) {
    const offset = reader.nextRecord()
    if (offset === NO_RECORD) break
    if (u8[offset + Header.KIND] !== RecordKind.EVENT) continue
    if (u16[(offset + Header.EVENT_TYPE) >> 1] !== TYPE_ID) continue
    window.add(0, offset)

    const topic = u16[(offset + Header.TOPIC) >> 1]!
    const partition = i32[(offset + Header.PARTITION) >> 2]!
    if (partition !== runPartition || topic !== runTopic) {
      if (runSlot >= 0) {
        drainedThisTick[runSlot] += runCount
        lastDrainedOffset[runSlot] = f64[(runLast + Header.OFFSET) >> 3]!
      }
      runTopic = topic
      runPartition = partition
      runCount = 0
      runSlot = partition >= 0 && partition < partitionLimit[topic]! ? slotBase[topic]! + partition : -1
    }
    runCount++
    runLast = offset
    total++
  }

  if (runSlot >= 0) {
    drainedThisTick[runSlot] += runCount
    lastDrainedOffset[runSlot] = f64[(runLast + Header.OFFSET) >> 3]!
  }
  return total
}

let sink = 0
for (const run of [256, 1]) {
  const bench = new Bench({ name: `claim ${BATCH} records from ${PARTITIONS} partitions in runs of ${run}`, time: 1000, warmupTime: 300 })
  const setUp = { beforeEach: () => { beginTick(run) } }
  bench
    .add('no drain figures', () => { sink += claimWithoutFigures() }, setUp)
    .add('per-record update', () => { sink += claimWithRecordUpdate() }, setUp)
    .add('per-run update', () => { sink += claimWithRunUpdate() }, setUp)
  await bench.run()
  printPerEventTable(bench, BATCH)
}
const expected = drainedThisTick.reduce((sum, count) => sum + count, 0)
if (expected !== BATCH || sink === 0) throw new Error(`The last iteration counted ${expected} of ${BATCH} records.`)
