import { describe, expect, it } from 'vitest'

import { LagBasis, consumerLag, lagBasis, type PartitionOffsets } from '../../src/metrics/lag.js'

function offsets (highWatermark: number, logStart: number, committed: number, position: number): PartitionOffsets {
  return { highWatermark, logStart, committed, position }
}

describe('consumer lag', () => {
  const cases: Array<{ name: string, input: PartitionOffsets, earliest: boolean, basis: LagBasis, lag: number }> = [
    { name: 'unknown high watermark', input: offsets(-1, 0, 5, 5), earliest: true, basis: LagBasis.UNKNOWN, lag: -1 },
    { name: 'never-written partition', input: offsets(0, 0, -1, -1), earliest: true, basis: LagBasis.EMPTY, lag: 0 },
    { name: 'fully deleted partition', input: offsets(50, 50, 10, -1), earliest: true, basis: LagBasis.EMPTY, lag: 0 },
    { name: 'committed behind', input: offsets(100, 0, 60, 80), earliest: true, basis: LagBasis.COMMITTED, lag: 40 },
    { name: 'committed at the end', input: offsets(100, 0, 100, 100), earliest: true, basis: LagBasis.COMMITTED, lag: 0 },
    { name: 'committed ahead of a stale high watermark', input: offsets(100, 0, 105, 105), earliest: true, basis: LagBasis.COMMITTED, lag: 0 },
    { name: 'committed, log start unknown', input: offsets(100, -1, 30, -1), earliest: true, basis: LagBasis.COMMITTED, lag: 70 },
    { name: 'truncated below the committed offset', input: offsets(100, 80, 20, -1), earliest: true, basis: LagBasis.TRUNCATED, lag: 20 },
    { name: 'no commit, earliest', input: offsets(100, 30, -1, 40), earliest: true, basis: LagBasis.LOG_START, lag: 70 },
    { name: 'no commit, earliest, log start unknown', input: offsets(100, -1, -1, 40), earliest: true, basis: LagBasis.UNKNOWN, lag: -1 },
    { name: 'no commit, latest, fetching', input: offsets(100, 30, -1, 90), earliest: false, basis: LagBasis.POSITION, lag: 10 },
    { name: 'no commit, latest, nothing fetched', input: offsets(100, 30, -1, -1), earliest: false, basis: LagBasis.POSITION, lag: 0 },
  ]

  for (const entry of cases) {
    it(entry.name, () => {
      expect(lagBasis(entry.input, entry.earliest)).toBe(entry.basis)
      expect(consumerLag(entry.input, entry.earliest)).toBe(entry.lag)
    })
  }
})
