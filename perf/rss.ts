import { slope } from './stats.js'

/** Resident set size of this process over time, sampled on a timer. */
export interface RssSummary {
  /** RSS at the start of the measured window, in bytes. */
  readonly startBytes: number
  /** RSS at the end of the measured window, in bytes. */
  readonly endBytes: number
  /** Highest RSS sampled while the sampler ran, in bytes. */
  readonly peakBytes: number
  /** Least-squares growth over the second half of the window, in bytes per minute. */
  readonly slopeBytesPerMinute: number
  /** [seconds since the window start, bytes] pairs within the window. */
  readonly samples: ReadonlyArray<readonly [number, number]>
}

export class RssSampler {
  readonly #times: number[] = []
  readonly #values: number[] = []
  readonly #timer: NodeJS.Timeout
  #peak = 0
  #windowStart = Number.NaN
  #windowEnd = Number.NaN

  constructor (intervalMs: number) {
    this.sample()
    this.#timer = setInterval(() => { this.sample() }, intervalMs)
    this.#timer.unref()
  }

  sample (): void {
    const rss = process.memoryUsage.rss()
    this.#times.push(performance.now())
    this.#values.push(rss)
    if (rss > this.#peak) this.#peak = rss
  }

  markWindowStart (): void {
    this.sample()
    this.#windowStart = performance.now()
  }

  markWindowEnd (): void {
    this.sample()
    this.#windowEnd = performance.now()
  }

  stop (): RssSummary {
    clearInterval(this.#timer)
    const start = Number.isNaN(this.#windowStart) ? this.#times[0]! : this.#windowStart
    const end = Number.isNaN(this.#windowEnd) ? this.#times[this.#times.length - 1]! : this.#windowEnd
    const samples: Array<[number, number]> = []
    for (let i = 0; i < this.#times.length; i++) {
      const time = this.#times[i]!
      if (time >= start && time <= end) samples.push([(time - start) / 1000, this.#values[i]!])
    }
    const half = samples.filter(([seconds]) => seconds >= (end - start) / 2000)
    return {
      startBytes: samples[0]?.[1] ?? Number.NaN,
      endBytes: samples[samples.length - 1]?.[1] ?? Number.NaN,
      peakBytes: this.#peak,
      slopeBytesPerMinute: slope(half.map(([seconds]) => seconds), half.map(([, bytes]) => bytes)) * 60,
      samples,
    }
  }
}
