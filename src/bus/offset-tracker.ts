/**
 * Tracks, on a worker, which Kafka offset of each partition becomes committable once the main
 * thread releases the ring up to a position. Entries are appended in ring order, so the released
 * ones are always a prefix.
 *
 * Not thread-safe: one tracker per RingWriter, on the writer's thread. Appending allocates only
 * when the backing arrays grow.
 */
export class OffsetTracker {
  #positions: Float64Array
  #partitionKeys: Int32Array
  #offsets: Float64Array
  #head = 0
  #tail = 0
  /** Partition key to "topicId << 16 | partition"-style label, kept by the caller. */
  readonly #pending = new Map<number, number>()

  constructor (initialCapacity = 1024) {
    this.#positions = new Float64Array(initialCapacity)
    this.#partitionKeys = new Int32Array(initialCapacity)
    this.#offsets = new Float64Array(initialCapacity)
  }

  /** Entries not yet returned by takeReleased(). */
  get size (): number {
    return this.#tail - this.#head
  }

  /**
   * Records that `offset` of the partition `partitionKey` is processed once the ring is released
   * up to `position` (a wrapping uint32 ring position).
   */
  add (position: number, partitionKey: number, offset: number): void {
    if (this.#tail === this.#positions.length) this.#grow()
    const i = this.#tail++
    this.#positions[i] = position
    this.#partitionKeys[i] = partitionKey
    this.#offsets[i] = offset
  }

  /**
   * Moves every entry at or before `releasedPosition` into the pending set and returns how many
   * moved. Positions compare as wrapping uint32 values: an entry is released when
   * `releasedPosition - position`, taken as int32, is zero or positive.
   */
  takeReleased (releasedPosition: number): number {
    let moved = 0
    while (this.#head < this.#tail) {
      const i = this.#head
      if (((releasedPosition - this.#positions[i]!) | 0) < 0) break
      const key = this.#partitionKeys[i]!
      const offset = this.#offsets[i]!
      const previous = this.#pending.get(key)
      if (previous === undefined || offset > previous) this.#pending.set(key, offset)
      this.#head++
      moved++
    }
    if (this.#head === this.#tail) {
      this.#head = 0
      this.#tail = 0
    }
    return moved
  }

  /** Highest released offset per partition key since the last drain, then forgets them. */
  drainPending (): Map<number, number> {
    const pending = new Map(this.#pending)
    this.#pending.clear()
    return pending
  }

  /** Whether released offsets wait for a commit. */
  get hasPending (): boolean {
    return this.#pending.size > 0
  }

  /** Puts offsets back after a failed commit, unless a newer offset is pending for the partition. */
  restorePending (offsets: Map<number, number>): void {
    for (const [key, offset] of offsets) {
      const current = this.#pending.get(key)
      if (current === undefined || current < offset) this.#pending.set(key, offset)
    }
  }

  /** Drops the unreleased and pending entries of partitions for which `keep` returns false. */
  retainPartitions (keep: (partitionKey: number) => boolean): void {
    let write = this.#head
    for (let read = this.#head; read < this.#tail; read++) {
      const key = this.#partitionKeys[read]!
      if (!keep(key)) continue
      this.#positions[write] = this.#positions[read]!
      this.#partitionKeys[write] = key
      this.#offsets[write] = this.#offsets[read]!
      write++
    }
    this.#tail = write
    for (const key of [...this.#pending.keys()]) {
      if (!keep(key)) this.#pending.delete(key)
    }
  }

  #grow (): void {
    const live = this.#tail - this.#head
    const capacity = Math.max(1024, live * 2)
    const positions = new Float64Array(capacity)
    const keys = new Int32Array(capacity)
    const offsets = new Float64Array(capacity)
    positions.set(this.#positions.subarray(this.#head, this.#tail))
    keys.set(this.#partitionKeys.subarray(this.#head, this.#tail))
    offsets.set(this.#offsets.subarray(this.#head, this.#tail))
    this.#positions = positions
    this.#partitionKeys = keys
    this.#offsets = offsets
    this.#head = 0
    this.#tail = live
  }
}

/** Packs a topic id (u16) and a partition (below 2^15) into one int32 key. */
export function partitionKey (topicId: number, partition: number): number {
  return (topicId << 15) | partition
}

export function keyTopicId (key: number): number {
  return key >>> 15
}

export function keyPartition (key: number): number {
  return key & 0x7fff
}
