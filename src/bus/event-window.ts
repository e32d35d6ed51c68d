/**
 * The live records of one event type on the main thread: the records claimed by the last
 * `eventLifetimeTicks` ticks, in claim order, each as (ring index, absolute record offset).
 * Records carry a sequence number: their position in the type's stream since the bus started.
 * Readers keep a cursor in that numbering, so each reader returns each record once.
 *
 * Main thread only. Appending allocates only when the arrays grow; everything else allocates
 * nothing.
 */
export class EventWindow {
  rings: Int32Array
  offsets: Int32Array
  /** Sequence number of entry 0. */
  firstSequence = 0
  /** Number of live entries. */
  length = 0
  /** Sequence number at which each live tick's records start, oldest first. */
  readonly #tickStarts: number[] = []
  readonly #lifetimeTicks: number
  /** Records added during the current tick. */
  addedThisTick = 0

  constructor (lifetimeTicks: number, initialCapacity = 256) {
    this.#lifetimeTicks = lifetimeTicks
    this.rings = new Int32Array(initialCapacity)
    this.offsets = new Int32Array(initialCapacity)
  }

  /** Sequence number one past the newest record. */
  get endSequence (): number {
    return this.firstSequence + this.length
  }

  /** Sequence number of the oldest record that stays live when the next beginTick() runs. */
  firstSequenceAfterNextTick (): number {
    if (this.#tickStarts.length < this.#lifetimeTicks) return this.firstSequence
    return this.#tickStarts.length > 1 ? this.#tickStarts[1]! : this.endSequence
  }

  /**
   * Starts a tick: drops the records of the tick that falls out of the lifetime and returns the
   * sequence number of the oldest record still live.
   */
  beginTick (): number {
    if (this.#tickStarts.length >= this.#lifetimeTicks) {
      this.#tickStarts.shift()
      const keepFrom = this.#tickStarts.length > 0 ? this.#tickStarts[0]! : this.endSequence
      const dropped = keepFrom - this.firstSequence
      if (dropped > 0) {
        this.rings.copyWithin(0, dropped, this.length)
        this.offsets.copyWithin(0, dropped, this.length)
        this.length -= dropped
        this.firstSequence = keepFrom
      }
    }
    this.#tickStarts.push(this.endSequence)
    this.addedThisTick = 0
    return this.firstSequence
  }

  /** Drops every live record, for a stop. */
  clear (): void {
    this.firstSequence = this.endSequence
    this.length = 0
    this.#tickStarts.length = 0
  }

  add (ring: number, offset: number): void {
    if (this.length === this.rings.length) this.#grow()
    this.rings[this.length] = ring
    this.offsets[this.length] = offset
    this.length++
    this.addedThisTick++
  }

  #grow (): void {
    const rings = new Int32Array(this.rings.length * 2)
    const offsets = new Int32Array(this.offsets.length * 2)
    rings.set(this.rings)
    offsets.set(this.offsets)
    this.rings = rings
    this.offsets = offsets
  }
}
