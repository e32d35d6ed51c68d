/**
 * Tracks which events of the producer worker are settled (delivered, or reported as failed) and
 * returns the watermark below which all are. Events are begun in sequence order, one after the
 * other, and settle in any order, because partitions are sent independently.
 *
 * Worker thread only; not thread-safe. Allocates only when the window of unsettled events grows
 * past its capacity.
 */
export class SettleTracker {
  /** Settled flags by `sequence & mask`, for sequences from the watermark up to `#end`. */
  #flags: Uint8Array
  #mask: number
  /** Lowest unsettled sequence; -1 before the first begin(). */
  #watermark = -1
  /** Sequence after the last begun one. */
  #end = -1

  constructor (initialCapacity = 1024) {
    const capacity = 2 ** Math.ceil(Math.log2(Math.max(2, initialCapacity)))
    this.#flags = new Uint8Array(capacity)
    this.#mask = capacity - 1
  }

  /**
   * Starts tracking `sequence`. The first call sets the watermark to it; each later call must pass
   * the sequence after the previous one.
   *
   * @throws RangeError for any other sequence.
   */
  begin (sequence: number): void {
    if (this.#end === -1) {
      this.#watermark = sequence
      this.#end = sequence
    } else if (sequence !== this.#end) {
      throw new RangeError(`Event sequence ${sequence} follows ${this.#end - 1}; the outbound ring must hold consecutive sequence numbers.`)
    }
    if (this.#end - this.#watermark === this.#flags.length) this.#grow()
    this.#flags[sequence & this.#mask] = 0
    this.#end = sequence + 1
  }

  /** Marks a begun sequence as settled. Returns true when the watermark moved. */
  settle (sequence: number): boolean {
    this.#flags[sequence & this.#mask] = 1
    if (sequence !== this.#watermark) return false
    while (this.#watermark < this.#end && this.#flags[this.#watermark & this.#mask] === 1) this.#watermark++
    return true
  }

  /** Lowest sequence not settled yet (the next one to begin when all are); -1 before any begin(). */
  get watermark (): number {
    return this.#watermark
  }

  /** Begun sequences not settled yet. */
  get unsettled (): number {
    return this.#end - this.#watermark
  }

  #grow (): void {
    const flags = new Uint8Array(this.#flags.length * 2)
    const mask = flags.length - 1
    for (let sequence = this.#watermark; sequence < this.#end; sequence++) flags[sequence & mask] = this.#flags[sequence & this.#mask]!
    this.#flags = flags
    this.#mask = mask
  }
}
