import { parentPort, workerData } from 'node:worker_threads'

import { RECORD_HEADER_BYTES, RecordKind } from '../src/ring/layout.js'
import { createRingMemory } from '../src/ring/memory.js'
import { writeRecordSource } from '../src/ring/record-header.js'
import { RING_FULL, RingWriter } from '../src/ring/ring-writer.js'

/** workerData of the hand-off producer; `buffer` is set for the ring transport only. */
export interface HandoffWorkerData {
  transport: 'ring' | 'postMessage'
  buffer?: SharedArrayBuffer
  recordCount: number
  payloadBytes: number
  /** Records per publish() or per postMessage() call. */
  batchRecords: number
}

/** Message the producer sends once every record is handed off. */
export interface HandoffWorkerResult {
  /** reserve() calls that found the ring full; 0 for postMessage. */
  fullCount: number
}

/** One event as the postMessage transport sends it. */
export interface HandoffEvent {
  topic: number
  partition: number
  offset: number
  timestamp: number
  payload: Uint8Array
}

export const HANDOFF_TIMESTAMP = 1_700_000_000_000

const data = workerData as HandoffWorkerData
const port = parentPort!
const payload = new Uint8Array(data.payloadBytes).map((_, i) => i)

async function produceIntoRing (buffer: SharedArrayBuffer): Promise<HandoffWorkerResult> {
  const memory = createRingMemory(buffer)
  const writer = new RingWriter(memory)
  const recordBytes = RECORD_HEADER_BYTES + data.payloadBytes
  let fullCount = 0

  for (let i = 0; i < data.recordCount; i++) {
    let offset = writer.reserve(recordBytes, RecordKind.EVENT)
    while (offset === RING_FULL) {
      fullCount++
      await writer.waitForSpace(recordBytes)
      offset = writer.reserve(recordBytes, RecordKind.EVENT)
    }
    writeRecordSource(memory, offset, 1, 0, 3, i, HANDOFF_TIMESTAMP)
    memory.u8.set(payload, offset + RECORD_HEADER_BYTES)
    if (i % data.batchRecords === data.batchRecords - 1) writer.publish()
  }
  writer.publish()
  return { fullCount }
}

function produceIntoMessages (): HandoffWorkerResult {
  for (let first = 0; first < data.recordCount; first += data.batchRecords) {
    const batch: HandoffEvent[] = []
    const end = Math.min(first + data.batchRecords, data.recordCount)
    for (let i = first; i < end; i++) {
      batch.push({ topic: 1, partition: 3, offset: i, timestamp: HANDOFF_TIMESTAMP, payload: payload.slice() })
    }
    port.postMessage(batch)
  }
  return { fullCount: 0 }
}

port.once('message', () => {
  const run = data.buffer === undefined ? Promise.resolve(produceIntoMessages()) : produceIntoRing(data.buffer)
  run.then((result) => port.postMessage(result), (error: unknown) => { throw error })
})
port.postMessage('ready')
