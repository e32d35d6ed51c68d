/** Small statistics helpers of the performance harness. */

/** Returns the value at `fraction` (0..1) of an ascending array (nearest rank), or NaN when empty. */
export function percentile (sorted: ArrayLike<number>, fraction: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil(fraction * sorted.length) - 1
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!
}

/** Returns a sorted copy of `values` as a Float64Array. */
export function sortedCopy (values: ArrayLike<number>): Float64Array {
  const copy = Float64Array.from(values)
  copy.sort()
  return copy
}

/** p50, p99 and max of `values`, or NaN each when there are none. */
export interface Distribution {
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly count: number
}

export function distribution (values: ArrayLike<number>): Distribution {
  const sorted = sortedCopy(values)
  return {
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
    count: sorted.length,
  }
}

/** Median of the finite values, or NaN when there is none; an even count averages the middle two. */
export function median (values: readonly number[]): number {
  const finite = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b)
  if (finite.length === 0) return Number.NaN
  const middle = finite.length >> 1
  return finite.length % 2 === 1 ? finite[middle]! : (finite[middle - 1]! + finite[middle]!) / 2
}

/**
 * Least-squares slope of `y` over `x`, in y units per x unit; NaN with fewer than two points or
 * when every x is equal.
 */
export function slope (x: readonly number[], y: readonly number[]): number {
  const n = Math.min(x.length, y.length)
  if (n < 2) return Number.NaN
  let meanX = 0
  let meanY = 0
  for (let i = 0; i < n; i++) {
    meanX += x[i]!
    meanY += y[i]!
  }
  meanX /= n
  meanY /= n
  let covariance = 0
  let variance = 0
  for (let i = 0; i < n; i++) {
    covariance += (x[i]! - meanX) * (y[i]! - meanY)
    variance += (x[i]! - meanX) ** 2
  }
  return variance === 0 ? Number.NaN : covariance / variance
}

/**
 * A growable Float64Array for per-event samples, so that recording a sample on the hot path
 * allocates only when the capacity doubles.
 */
export class SampleBuffer {
  #values: Float64Array
  #length = 0

  constructor (initialCapacity = 1024) {
    this.#values = new Float64Array(Math.max(16, initialCapacity))
  }

  get length (): number {
    return this.#length
  }

  push (value: number): void {
    if (this.#length === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2)
      grown.set(this.#values)
      this.#values = grown
    }
    this.#values[this.#length++] = value
  }

  /** The recorded samples, as a view over the buffer (valid until the next push). */
  values (): Float64Array {
    return this.#values.subarray(0, this.#length)
  }
}

/**
 * Histogram of positive values with logarithmic buckets of RELATIVE_RESOLUTION relative width from
 * MIN_VALUE up to MAX_VALUE, preallocated so that recording never allocates and memory stays
 * constant however many values a long run records. Percentiles are exact to within one bucket
 * (0.5%); the maximum is exact. Values at or below MIN_VALUE share the first bucket, values above
 * MAX_VALUE the last.
 */
export class LogHistogram {
  static readonly MIN_VALUE = 0.001
  static readonly MAX_VALUE = 1e6
  static readonly RELATIVE_RESOLUTION = 0.005
  readonly #logBase = Math.log1p(LogHistogram.RELATIVE_RESOLUTION)
  readonly #counts = new Float64Array(Math.ceil(Math.log(LogHistogram.MAX_VALUE / LogHistogram.MIN_VALUE) / Math.log1p(LogHistogram.RELATIVE_RESOLUTION)) + 1)
  #count = 0
  #max = Number.NEGATIVE_INFINITY

  record (value: number): void {
    const ratio = value / LogHistogram.MIN_VALUE
    const index = ratio <= 1 ? 0 : Math.min(this.#counts.length - 1, Math.ceil(Math.log(ratio) / this.#logBase))
    this.#counts[index]!++
    this.#count++
    if (value > this.#max) this.#max = value
  }

  get count (): number {
    return this.#count
  }

  /** Upper bound of the bucket that contains the value at `fraction` (nearest rank), or NaN when empty. */
  percentile (fraction: number): number {
    if (this.#count === 0) return Number.NaN
    const rank = Math.max(1, Math.ceil(fraction * this.#count))
    let seen = 0
    for (let index = 0; index < this.#counts.length; index++) {
      seen += this.#counts[index]!
      if (seen >= rank) return Math.min(this.#max, LogHistogram.MIN_VALUE * Math.exp(index * this.#logBase))
    }
    return this.#max
  }

  distribution (): Distribution {
    return { p50: this.percentile(0.5), p99: this.percentile(0.99), max: this.#count === 0 ? Number.NaN : this.#max, count: this.#count }
  }
}
