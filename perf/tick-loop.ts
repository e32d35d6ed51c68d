import { setTimeout as sleep } from 'node:timers/promises'
import { SampleBuffer } from './stats.js'

/** Tick interval of a 60 Hz game loop, in ms. */
export const TICK_MS = 1000 / 60

/**
 * Passes of the fixed game work over FIXED_WORK_ENTITIES entities per tick in the tick
 * scenarios. The count is fixed, not calibrated to a duration, so every run does the same work.
 * The idle scenario's tick times show how long it takes on the machine at hand.
 */
export const FIXED_WORK_PASSES = 12
const FIXED_WORK_ENTITIES = 16_384

export interface TickLoopOptions {
  /** Called at the start of each tick with the tick's wall clock in ms since the epoch. */
  readonly onTick: (visibleAtMs: number) => void
  /** Checked after each tick; the loop ends when it returns true. */
  readonly done: () => boolean
  /** The loop also ends at this performance.now() value. */
  readonly deadline: number
  /** Whether each tick also runs the fixed game work (see FIXED_WORK_PASSES). */
  readonly fixedWork: boolean
}

/**
 * A fixed-rate 60 Hz loop on setTimeout, as a game server runs one. Per tick it records the
 * lateness (actual start minus scheduled start), the work time (onTick plus fixed work) and their
 * sum, the frame time. The frame time shows a stall whether it happened inside the tick or
 * blocked the event loop before it. A tick that ends more than one interval late skips the
 * missed slots instead of running them back to back, as game loops do, and counts them.
 */
export class TickLoop {
  readonly frameMs = new SampleBuffer(4096)
  readonly workMs = new SampleBuffer(4096)
  readonly latenessMs = new SampleBuffer(4096)
  /** Whether ticks are recorded; the caller switches it on after its warm-up. */
  recording = false
  skippedTicks = 0
  ticks = 0
  /** Time spent in the fixed game work of recorded ticks, in ms. */
  fixedWorkMs = 0
  readonly #options: TickLoopOptions
  readonly #positions = new Float64Array(FIXED_WORK_ENTITIES)
  readonly #velocities = new Float64Array(FIXED_WORK_ENTITIES).map((_, i) => ((i % 17) - 8) * 0.01)

  constructor (options: TickLoopOptions) {
    this.#options = options
  }

  async run (): Promise<void> {
    const options = this.#options
    let scheduled = performance.now()
    for (;;) {
      const start = performance.now()
      options.onTick(performance.timeOrigin + start)
      const workStart = performance.now()
      if (options.fixedWork) this.#fixedWork()
      const end = performance.now()
      this.ticks++
      if (this.recording) {
        this.fixedWorkMs += end - workStart
        const lateness = Math.max(0, start - scheduled)
        this.latenessMs.push(lateness)
        this.workMs.push(end - start)
        this.frameMs.push(lateness + end - start)
      }
      if (options.done() || end > options.deadline) return

      scheduled += TICK_MS
      while (scheduled + TICK_MS < end) {
        scheduled += TICK_MS
        this.skippedTicks++
      }
      await sleep(Math.max(0, scheduled - performance.now()))
    }
  }

  /** Moves entities and bounces them off the bounds of the world: arithmetic that allocates nothing. */
  #fixedWork (): void {
    const positions = this.#positions
    const velocities = this.#velocities
    for (let pass = 0; pass < FIXED_WORK_PASSES; pass++) {
      for (let i = 0; i < positions.length; i++) {
        const next = positions[i]! + velocities[i]!
        if (next > 100 || next < -100) velocities[i] = -velocities[i]!
        else positions[i] = next
      }
    }
  }
}
