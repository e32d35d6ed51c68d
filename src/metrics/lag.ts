import { UNKNOWN_OFFSET } from './shard-stats-layout.js'

/**
 * Rule by which a partition's lag is computed. Each basis is a plain string constant, so reading
 * it allocates nothing.
 */
export const LagBasis = {
  /** The high watermark is not known yet (no fetch response and no broker refresh so far). */
  UNKNOWN: 'unknown',
  /** The broker retains no record of the partition (high watermark at or below the log start offset): lag 0. */
  EMPTY: 'empty',
  /** High watermark minus the group's committed offset. */
  COMMITTED: 'committed',
  /**
   * The committed offset lies below the log start offset (the broker deleted records the group never
   * committed): high watermark minus log start offset, so only records still retained count.
   */
  TRUNCATED: 'truncated',
  /**
   * No committed offset and the group starts at the earliest offset: high watermark minus log start
   * offset, every retained record counts.
   */
  LOG_START: 'log-start',
  /**
   * No committed offset and the group starts at the latest offset: high watermark minus the shard's
   * position (offset after the last record it processed), or 0 before its first record. Records
   * processed but not yet committed do not count.
   */
  POSITION: 'position',
} as const

export type LagBasis = (typeof LagBasis)[keyof typeof LagBasis]

/** Offsets of one partition as the stats buffer stores them, UNKNOWN_OFFSET (-1) where unknown. */
export interface PartitionOffsets {
  highWatermark: number
  logStart: number
  /** The group's committed offset (the next offset to read), or -1 when the group has none. */
  committed: number
  position: number
}

/**
 * Returns which rule computes the lag of a partition (see LagBasis). `startsAtEarliest` is whether
 * the group's initialOffset is `earliest`. With a committed offset, an unknown log start offset
 * counts as "not truncated". Without one, the LOG_START rule needs the log start offset, so the
 * basis is UNKNOWN until a broker refresh brings it.
 */
export function lagBasis (offsets: PartitionOffsets, startsAtEarliest: boolean): LagBasis {
  const { highWatermark, logStart, committed } = offsets
  if (highWatermark < 0) return LagBasis.UNKNOWN
  if (highWatermark === 0 || (logStart >= 0 && highWatermark <= logStart)) return LagBasis.EMPTY
  if (committed >= 0) return logStart >= 0 && committed < logStart ? LagBasis.TRUNCATED : LagBasis.COMMITTED
  if (!startsAtEarliest) return LagBasis.POSITION
  return logStart >= 0 ? LagBasis.LOG_START : LagBasis.UNKNOWN
}

/**
 * Returns the lag of a partition in records by the rule lagBasis() picks, or -1 when it is unknown.
 * Never negative otherwise: a committed offset or position ahead of a stale high watermark gives 0.
 */
export function consumerLag (offsets: PartitionOffsets, startsAtEarliest: boolean): number {
  switch (lagBasis(offsets, startsAtEarliest)) {
    case LagBasis.UNKNOWN: return UNKNOWN_OFFSET
    case LagBasis.EMPTY: return 0
    case LagBasis.COMMITTED: return Math.max(0, offsets.highWatermark - offsets.committed)
    case LagBasis.TRUNCATED:
    case LagBasis.LOG_START: return offsets.highWatermark - offsets.logStart
    case LagBasis.POSITION: return offsets.position < 0 ? 0 : Math.max(0, offsets.highWatermark - offsets.position)
  }
}
