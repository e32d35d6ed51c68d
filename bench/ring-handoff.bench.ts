import { once } from 'node:events'
import type { Worker } from 'node:worker_threads'

import { RECORD_HEADER_BYTES } from '../src/ring/layout.js'
import { createRingMemory } from '../src/ring/memory.js'
import { readRecordKafkaOffset } from '../src/ring/record-header.js'
import { createRingBuffer } from '../src/ring/ring-buffer.js'
import { NO_RECORD, RingReader } from '../src/ring/ring-reader.js'
import { startTsWorker } from '../tests/helpers/ts-worker.js'
import type { HandoffEvent, HandoffWorkerData, HandoffWorkerResult } from './ring-handoff.worker.js'

/*
 * Worker-to-main hand-off throughput: a worker thread produces events as fast as it can and the
 * main thread consumes them as fast as it can, reading the Kafka offset and the last payload
 * byte of each. The clock runs from the start signal to the last event read on the main thread,
 * so worker start-up is excluded.
 *
 * - ring: records in a RING_CAPACITY_BYTES ring, one publish() per BATCH_RECORDS records, and
 *   the producer awaits waitForSpace() when the ring is full. The main thread spins on claim()
 *   and releases every RELEASE_EVERY_RECORDS records and at the end of each claim.
 * - postMessage: arrays of BATCH_RECORDS event objects, each with its own payload copy, posted
 *   to the main thread (no back-pressure).
 *
 * Both threads need a core each: on a machine with fewer free cores the figures drop.
 */

const RING_CAPACITY_BYTES = 256 * 1024
const BATCH_RECORDS = 64
const SPIN_DEADLINE_MS = 60_000
const REPETITIONS = 3
/**
 * The consumer releases this often inside a claim as well as after it. Releasing only after a
 * whole claim makes the two threads take turns once the ring is full: the consumer claims the
 * whole ring and the producer waits until all of it is read.
 */
const RELEASE_EVERY_RECORDS = 256

interface Run {
  transport: HandoffWorkerData['transport']
  payloadBytes: number
  recordCount: number
}

const runs: Run[] = [
  { transport: 'ring', payloadBytes: 32, recordCount: 20_000_000 },
  { transport: 'postMessage', payloadBytes: 32, recordCount: 1_000_000 },
  { transport: 'ring', payloadBytes: 256, recordCount: 5_000_000 },
  { transport: 'postMessage', payloadBytes: 256, recordCount: 1_000_000 },
]

async function startProducer (workerData: HandoffWorkerData): Promise<Worker> {
  const worker = startTsWorker(new URL('./ring-handoff.worker.ts', import.meta.url), { workerData })
  const [message] = await once(worker, 'message') as [unknown]
  if (message !== 'ready') throw new Error(`The hand-off worker sent ${String(message)} instead of "ready".`)
  return worker
}

/** Reads `recordCount` records, spinning on claim(); returns the checksum of what it read. */
function consumeRing (reader: RingReader, recordCount: number, payloadBytes: number): number {
  const memory = reader.memory
  const lastByteAt = RECORD_HEADER_BYTES + payloadBytes - 1
  const deadline = performance.now() + SPIN_DEADLINE_MS
  let received = 0
  let checksum = 0
  let spins = 0

  while (received < recordCount) {
    if (reader.claim() === 0) {
      if (++spins % 1_000_000 === 0 && performance.now() > deadline) {
        throw new Error(`The hand-off timed out after ${SPIN_DEADLINE_MS} ms with ${received} of ${recordCount} records read.`)
      }
      continue
    }
    let sum = 0
    for (let offset = reader.nextRecord(); offset !== NO_RECORD; offset = reader.nextRecord()) {
      sum += readRecordKafkaOffset(memory, offset) + memory.u8[offset + lastByteAt]!
      if (++received % RELEASE_EVERY_RECORDS === 0) reader.release(reader.mark())
    }
    reader.release(reader.mark())
    checksum += sum
  }
  return checksum
}

function consumeMessages (worker: Worker, recordCount: number, payloadBytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let received = 0
    let checksum = 0
    const onMessage = (batch: HandoffEvent[] | HandoffWorkerResult): void => {
      if (!Array.isArray(batch)) return
      let sum = 0
      for (const event of batch) sum += event.offset + event.payload[payloadBytes - 1]!
      checksum += sum
      received += batch.length
      if (received >= recordCount) {
        worker.off('message', onMessage)
        resolve(checksum)
      }
    }
    worker.on('message', onMessage)
    worker.once('error', reject)
  })
}

async function measure (run: Run): Promise<{ seconds: number, fullCount: number }> {
  const buffer = run.transport === 'ring' ? createRingBuffer(RING_CAPACITY_BYTES) : undefined
  const workerData: HandoffWorkerData = {
    transport: run.transport,
    recordCount: run.recordCount,
    payloadBytes: run.payloadBytes,
    batchRecords: BATCH_RECORDS,
  }
  if (buffer !== undefined) workerData.buffer = buffer
  const worker = await startProducer(workerData)

  try {
    // Listening from the start: the result can arrive in the same port drain as the last batch.
    const result = new Promise<HandoffWorkerResult>((resolve, reject) => {
      const onMessage = (message: HandoffEvent[] | HandoffWorkerResult): void => {
        if (Array.isArray(message)) return
        worker.off('message', onMessage)
        resolve(message)
      }
      worker.on('message', onMessage)
      worker.once('error', reject)
    })

    let seconds: number
    if (buffer !== undefined) {
      const reader = new RingReader(createRingMemory(buffer))
      const startedAt = performance.now()
      worker.postMessage('start')
      consumeRing(reader, run.recordCount, run.payloadBytes)
      seconds = (performance.now() - startedAt) / 1000
    } else {
      const consumed = consumeMessages(worker, run.recordCount, run.payloadBytes)
      const startedAt = performance.now()
      worker.postMessage('start')
      await consumed
      seconds = (performance.now() - startedAt) / 1000
    }
    return { seconds, fullCount: (await result).fullCount }
  } finally {
    await worker.terminate()
  }
}

const rows: Record<string, string>[] = []
const ringMedianRate = new Map<number, number>()
for (const run of runs) {
  const rates: number[] = []
  let fullCount = 0
  for (let repetition = 0; repetition < REPETITIONS; repetition++) {
    const measured = await measure(run)
    rates.push(run.recordCount / measured.seconds)
    fullCount += measured.fullCount
  }
  rates.sort((a, b) => a - b)
  const median = rates[Math.floor(rates.length / 2)]!
  if (run.transport === 'ring') ringMedianRate.set(run.payloadBytes, median)
  rows.push({
    transport: run.transport,
    'payload bytes': String(run.payloadBytes),
    'records per run': run.recordCount.toLocaleString('en-US'),
    'median M records/s': (median / 1e6).toFixed(2),
    'min-max': `${(rates[0]! / 1e6).toFixed(2)}-${(rates[rates.length - 1]! / 1e6).toFixed(2)}`,
    'x ring': (median / ringMedianRate.get(run.payloadBytes)!).toFixed(3),
    'ring full per run': String(Math.round(fullCount / REPETITIONS)),
  })
}
console.log(`Worker-to-main hand-off, ${BATCH_RECORDS} records per batch, ${REPETITIONS} runs each`)
console.table(rows)
