import type { EventView, ViewContext } from '../schema/view.js'
import type { RingMemory } from '../ring/memory.js'
import { Header } from '../ring/layout.js'
import type { EventWindow } from './event-window.js'

/**
 * Iterates one event type's records of the current tick as views over shared memory. Each reader
 * keeps its own cursor, so several readers of one type each see every event once. Records the
 * bus drops at the end of their lifetime before a reader reached them count as `missed`.
 *
 * Main thread only. Outside development mode, next() and read() return the same view object
 * each time, moved to the next record: read what you need before the next call, or copy with
 * `toObject()`. In development mode each event gets its own view, which throws once its records
 * are released. Iterating allocates nothing outside development mode (the iterator result
 * object is reused).
 */
export class EventReader<V extends EventView> implements IterableIterator<V> {
  readonly #window: EventWindow
  readonly #rings: readonly RingMemory[]
  readonly #context: ViewContext
  readonly #createView: () => V
  readonly #view: V
  readonly #groupId: number
  readonly #generation: () => number
  readonly #result: { value: V | undefined, done: boolean } = { value: undefined, done: false }
  #cursor: number
  #missed = 0
  #read = 0

  /** @internal Created by Bus.reader(). */
  constructor (window: EventWindow, rings: readonly RingMemory[], context: ViewContext, createView: () => V, groupId: number, generation: () => number) {
    this.#window = window
    this.#rings = rings
    this.#context = context
    this.#createView = createView
    this.#view = createView()
    this.#groupId = groupId
    this.#generation = generation
    this.#cursor = window.endSequence
  }

  /** Events this reader has not read yet among the live records (before the group filter). */
  get pending (): number {
    const start = Math.max(this.#cursor, this.#window.firstSequence)
    return this.#window.endSequence - start
  }

  /** Events dropped at the end of their lifetime before this reader read them, since creation. */
  get missed (): number {
    return this.#missed
  }

  /** Events this reader returned, since creation. */
  get readCount (): number {
    return this.#read
  }

  /** Returns the next unread event of this tick, or null when there is none. */
  read (): V | null {
    const window = this.#window
    let sequence = this.#cursor
    if (sequence < window.firstSequence) {
      this.#missed += window.firstSequence - sequence
      sequence = window.firstSequence
    }
    const end = window.endSequence
    while (sequence < end) {
      const index = sequence - window.firstSequence
      const memory = this.#rings[window.rings[index]!]!
      const offset = window.offsets[index]!
      sequence++
      if (this.#groupId !== 0 && memory.u16[(offset + Header.GROUP) >> 1] !== this.#groupId) continue
      this.#cursor = sequence
      this.#read++
      const view = this.#context.devMode ? this.#createView() : this.#view
      return view.$bind(memory, offset, this.#generation())
    }
    this.#cursor = sequence
    return null
  }

  next (): IteratorResult<V> {
    const view = this.read()
    const result = this.#result
    if (view === null) {
      result.value = undefined
      result.done = true
    } else {
      result.value = view
      result.done = false
    }
    return result as IteratorResult<V>
  }

  [Symbol.iterator] (): this {
    return this
  }

  /** Skips every unread event of this tick without reading it. */
  skipAll (): number {
    const start = Math.max(this.#cursor, this.#window.firstSequence)
    const skipped = this.#window.endSequence - start
    this.#cursor = this.#window.endSequence
    return skipped
  }

  /** @internal Called by the bus before it drops records, so their loss counts as missed. */
  accountDropped (newFirstSequence: number): void {
    if (this.#cursor >= newFirstSequence) return
    if (this.#groupId === 0) {
      this.#missed += newFirstSequence - this.#cursor
    } else {
      // A reader of one consumer group misses only that group's records. The records to drop are
      // still in the window, because the bus calls this before the window's beginTick().
      const window = this.#window
      for (let sequence = Math.max(this.#cursor, window.firstSequence); sequence < newFirstSequence; sequence++) {
        const index = sequence - window.firstSequence
        const memory = this.#rings[window.rings[index]!]!
        if (memory.u16[(window.offsets[index]! + Header.GROUP) >> 1] === this.#groupId) this.#missed++
      }
    }
    this.#cursor = newFirstSequence
  }
}
