import { once } from 'node:events'
import { describe, expect, it } from 'vitest'

import { SlotField, createShardStatsBuffer, shardStatsLayout, slotFieldIndex } from '../../src/metrics/shard-stats-layout.js'
import { defineEvent } from '../../src/schema/define-event.js'
import { t } from '../../src/schema/fields.js'
import { createTopology } from '../../src/topology/builder.js'
import { startTsWorker } from '../helpers/ts-worker.js'
import type { StatsWriterWorkerData } from './fixtures/stats-writer.worker.js'

const Move = defineEvent('Move', { playerId: t.u32() })

describe('shard stats across threads', () => {
  it('shows only growing counters to a reader', async () => {
    const partitions = 4
    const records = 2_000_000
    const topology = createTopology()
      .topic('moves', { partitions, replicationFactor: 1 })
      .group('game', { topics: ['moves'] })
      .bind('moves', Move)
      .build()
    const layout = shardStatsLayout(topology, 'game')
    const buffer = createShardStatsBuffer(layout)
    const fields = new Float64Array(buffer)
    const workerData: StatsWriterWorkerData = { buffer, topology, groupId: 'game', topicId: 1, partitions, records }
    const worker = startTsWorker(new URL('./fixtures/stats-writer.worker.ts', import.meta.url), { workerData })

    try {
      const done = once(worker, 'message')
      let finished = false
      void done.then(() => { finished = true }, () => { finished = true })
      const previous = new Float64Array(partitions)
      let reads = 0
      let regressions = 0
      let inconsistent = 0
      while (!finished) {
        for (let partition = 0; partition < partitions; partition++) {
          const fetched = fields[slotFieldIndex(partition, SlotField.RECORDS_FETCHED)]!
          const bytes = fields[slotFieldIndex(partition, SlotField.BYTES_FETCHED)]!
          if (fetched < previous[partition]!) regressions++
          // Every value the writer stores is an integer: a torn read would show up as a fraction
          // or an implausible magnitude.
          if (!Number.isInteger(fetched) || !Number.isInteger(bytes) || bytes > records * 10) inconsistent++
          previous[partition] = fetched
          reads++
        }
        await new Promise((resolve) => setImmediate(resolve))
      }
      await done

      expect(reads).toBeGreaterThan(0)
      expect(regressions).toBe(0)
      expect(inconsistent).toBe(0)
      for (let partition = 0; partition < partitions; partition++) {
        expect(fields[slotFieldIndex(partition, SlotField.RECORDS_FETCHED)]).toBe(records / partitions)
        expect(fields[slotFieldIndex(partition, SlotField.BYTES_FETCHED)]).toBe(records / partitions * 10)
        expect(fields[slotFieldIndex(partition, SlotField.POSITION)]).toBe(records / partitions)
        expect(fields[slotFieldIndex(partition, SlotField.HIGH_WATERMARK)]).toBe(records / partitions)
      }
    } finally {
      await worker.terminate()
    }
  })
})
