import { once } from 'node:events'
import { describe, expect, it } from 'vitest'

import { createRingMemory } from '../../src/ring/memory.js'
import { createRingBuffer } from '../../src/ring/ring-buffer.js'
import { RingReader } from '../../src/ring/ring-reader.js'
import { RingWriter } from '../../src/ring/ring-writer.js'
import { startTsWorker } from '../helpers/ts-worker.js'
import type { ProducerWorkerData } from './fixtures/ring-producer.worker.js'
import {
  consumeTestRecords,
  fillControlCanaries,
  findDamagedControlBytes,
  type ProduceResult,
  produceTestRecords,
} from './fixtures/test-records.js'

const CAPACITY = 4096
const SEED = 0x7ac1b05

describe('ring with producer and consumer', () => {
  it('delivers every record once across threads', async () => {
    const recordCount = 200_000
    const buffer = createRingBuffer(CAPACITY)
    const memory = createRingMemory(buffer)
    fillControlCanaries(memory)
    const reader = new RingReader(memory)

    const workerData: ProducerWorkerData = {
      buffer,
      seed: SEED,
      recordCount,
      maxRecordBytes: 1500,
      waitTimeoutMs: 5000,
    }
    // The worker runs the TypeScript fixture through tsx; see startTsWorker().
    const worker = startTsWorker(new URL('./fixtures/ring-producer.worker.ts', import.meta.url), { workerData })
    const abort = new AbortController()
    const produced = new Promise<ProduceResult>((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
      worker.once('exit', (code) => reject(new Error(`producer worker exited with code ${code} before its result`)))
    })
    produced.catch(() => abort.abort())

    try {
      const [production, consumption] = await Promise.all([
        produced,
        consumeTestRecords(reader, { seed: SEED, recordCount, maxRecordsPerTick: 64, idleTimeoutMs: 5000, signal: abort.signal }),
      ])

      expect(reader.claim()).toBe(0)
      expect(reader.recordsWritten).toBe(recordCount)
      expect(reader.usedBytes).toBe(0)
      expect(production.waits).toBeGreaterThan(0)
      expect(reader.fullCount).toBe(production.waits)
      expect(production.nearWrapRecords).toBeGreaterThan(1000)
      expect(consumption.recheckedRecords).toBeGreaterThan(recordCount / 2)
      expect(findDamagedControlBytes(memory)).toEqual([])
      // Positions started at 0 and stayed below 2^32, so the read cursor counts every byte read.
      expect((reader.mark() >>> 0) / CAPACITY).toBeGreaterThan(5000)
    } finally {
      abort.abort()
      if (worker.threadId !== -1) {
        const exited = once(worker, 'exit')
        await worker.terminate()
        await exited
      }
    }
  }, 20_000)

  it('delivers every record once on one thread', async () => {
    const recordCount = 50_000
    const memory = createRingMemory(createRingBuffer(CAPACITY))
    fillControlCanaries(memory)
    const writer = new RingWriter(memory)
    const reader = new RingReader(memory)
    const options = { seed: SEED + 1, recordCount, maxRecordBytes: 1500, waitTimeoutMs: 5000 }

    const [production] = await Promise.all([
      produceTestRecords(writer, options),
      consumeTestRecords(reader, { seed: SEED + 1, recordCount, maxRecordsPerTick: 64, idleTimeoutMs: 5000 }),
    ])

    expect(reader.recordsWritten).toBe(recordCount)
    expect(reader.usedBytes).toBe(0)
    expect(production.waits).toBeGreaterThan(0)
    expect(findDamagedControlBytes(memory)).toEqual([])
  }, 20_000)
})
