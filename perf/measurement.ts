import type { Logger } from 'tickbus'
import type { TickLoop } from './tick-loop.js'

/** Pieces that the consumer and producer measurement processes share. */

/** Warnings and errors a measurement logged, each text once with its count. */
export class WarningLog {
  readonly #counts = new Map<string, number>()
  /**
   * Whether the consumers are still joining their group. Rebalance warnings are expected then,
   * so entries of that phase are marked as such.
   */
  joining = true

  add (text: string): void {
    const entry = this.joining ? `while joining the group: ${text}` : text
    this.#counts.set(entry, (this.#counts.get(entry) ?? 0) + 1)
  }

  list (): string[] {
    return [...this.#counts].map(([text, count]) => (count === 1 ? text : `${text} (${count} times)`))
  }
}

/**
 * Measured stretch of a run: it opens after the warm-up and ends with the last event. Keeps the
 * event count and the main thread's event-loop use at both ends.
 */
export class MeasurementWindow {
  open = false
  closed = false
  startEvents = 0
  startMs = 0
  endEvents = 0
  endMs = 0
  #elu: ReturnType<typeof performance.eventLoopUtilization> | undefined
  activeMs = 0

  start (events: number, now: number): void {
    this.open = true
    this.startEvents = events
    this.startMs = now
    this.endEvents = events
    this.endMs = now
    this.#elu = performance.eventLoopUtilization()
  }

  /** Records that `events` events were handled by `now`. */
  advance (events: number, now: number): void {
    if (!this.open || this.closed) return
    if (events > this.endEvents) {
      this.endEvents = events
      this.endMs = now
    }
  }

  finish (): void {
    if (!this.open || this.closed) return
    this.closed = true
    this.activeMs = performance.eventLoopUtilization(this.#elu).active
  }

  get events (): number {
    return this.endEvents - this.startEvents
  }

  get ratePerSec (): number {
    const seconds = (this.endMs - this.startMs) / 1000
    return seconds > 0 ? this.events / seconds : Number.NaN
  }
}

/**
 * Main-thread event-loop active time in the window per event, in ns, without the fixed game work
 * of the tick loop: what consuming or producing costs the game's thread.
 */
export function mainThreadNsPerEvent (window: MeasurementWindow, loop: TickLoop | undefined): number {
  if (window.events === 0) return Number.NaN
  return ((window.activeMs - (loop?.fixedWorkMs ?? 0)) * 1e6) / window.events
}

/**
 * Logger for the bus: keeps warnings and errors in `warnings`, and reports each shard's partitions
 * (as `topic:partition`) from the bus's 'partitions assigned' entries.
 */
export function createCaptureLogger (warnings: WarningLog, onAssignment: (shard: number, partitions: readonly string[]) => void): Logger {
  const ignore = (): void => {}
  const record = (level: string) => (obj: object, msg?: string): void => {
    const err = (obj as { err?: unknown }).err
    warnings.add(`${level}: ${msg ?? ''}${err instanceof Error ? ` (${err.message})` : ''}`)
  }
  const logger: Logger = {
    trace: ignore,
    debug: ignore,
    info: (obj, msg) => {
      if (msg !== 'partitions assigned') return
      const entry = obj as { shard?: number, partitions?: Array<{ topic: string, partitions: number[] }> }
      if (entry.shard === undefined || entry.partitions === undefined) return
      onAssignment(entry.shard, entry.partitions.flatMap((topic) => topic.partitions.map((partition) => `${topic.topic}:${partition}`)))
    },
    warn: record('warn'),
    error: record('error'),
    fatal: record('fatal'),
    child: () => logger,
  }
  return logger
}
