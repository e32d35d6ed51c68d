import type { LogEntry, logCreator as KafkaLogCreator } from 'kafkajs'

import { invalidOption } from './errors.js'

/**
 * One log method: a context object first, then the message, as pino takes them. The context contains
 * ids (topic, partition, groupId, worker) and, for a caught error, the error under `err`.
 */
export type LogFn = (obj: object, msg?: string) => void

/**
 * Logger that tickbus writes to. A pino logger fits this interface as it is, and so does any
 * logger with the six level methods and `child`. tickbus never writes to the console.
 */
export interface Logger {
  trace: LogFn
  debug: LogFn
  info: LogFn
  warn: LogFn
  error: LogFn
  fatal: LogFn
  /** Returns a logger that adds `bindings` to every entry. */
  child: (bindings: Record<string, unknown>) => Logger
}

/** Level names of {@link Logger}, lowest first. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'

function discard (): void {}

/** Logger that discards every entry; the default wherever tickbus takes a `logger` option. */
export const noopLogger: Logger = {
  trace: discard,
  debug: discard,
  info: discard,
  warn: discard,
  error: discard,
  fatal: discard,
  child: () => noopLogger,
}

/** KafkaJS level numbers (kafkajs `logLevel`, 2.2.x) mapped to tickbus level names. */
const KAFKAJS_LEVELS: Readonly<Record<number, LogLevel>> = {
  1: 'error',
  2: 'warn',
  4: 'info',
  5: 'debug',
}

export interface KafkajsLogCreatorOptions {
  /**
   * Window in ms in which repeats of one KafkaJS message (same level, namespace and text) are
   * counted instead of logged. The first occurrence is always logged. Default 10000; 0 logs
   * every entry.
   */
  repeatWindowMs?: number
  /** Clock in ms, replaceable in tests. Default `Date.now`. */
  now?: () => number
}

/** Maximum number of distinct KafkaJS messages whose repeats are tracked at one time. */
const MAX_TRACKED_MESSAGES = 1000

interface RepeatState {
  windowStartMs: number
  suppressed: number
  level: LogLevel
  namespace: string
  message: string
}

/**
 * Creates a KafkaJS `logCreator` that writes KafkaJS log entries to `logger`.
 *
 * Each entry keeps its KafkaJS namespace (`namespace`) and message, and its extra fields (for
 * example `error`, `groupId`, `retryCount`). KafkaJS's own `timestamp` and `logger` fields are
 * dropped because the target logger records its own. Levels map ERROR→error, WARN→warn,
 * INFO→info and DEBUG→debug. KafkaJS filters by its `logLevel` client option before an entry
 * gets here.
 *
 * KafkaJS logs the same connection or retry message many times while a broker is down. Within
 * `repeatWindowMs`, repeats of one message are counted, not logged. The first occurrence after the
 * window carries the count in `repeated`. A message that stops occurring has its count written
 * in a summary entry when the tracking table is pruned (at {@link MAX_TRACKED_MESSAGES} entries).
 */
export function kafkajsLogCreator (logger: Logger, options: KafkajsLogCreatorOptions = {}): KafkaLogCreator {
  const repeatWindowMs = options.repeatWindowMs ?? 10_000
  if (!Number.isFinite(repeatWindowMs) || repeatWindowMs < 0) {
    throw invalidOption('repeatWindowMs', 'expected a finite number >= 0', repeatWindowMs)
  }
  const now = options.now ?? Date.now
  const kafkaLogger = logger.child({ component: 'kafkajs' })
  const repeats = new Map<string, RepeatState>()

  function pruneExpired (nowMs: number): void {
    for (const [key, state] of repeats) {
      if (nowMs - state.windowStartMs < repeatWindowMs) continue
      repeats.delete(key)
      if (state.suppressed > 0) {
        kafkaLogger[state.level]({ namespace: state.namespace, repeated: state.suppressed }, state.message)
      }
    }
  }

  return () => (entry: LogEntry) => {
    const level = KAFKAJS_LEVELS[entry.level]
    if (level === undefined) return

    const { timestamp: _timestamp, logger: _logger, message, ...extra } = entry.log
    const text = String(message)
    const context: Record<string, unknown> = { namespace: entry.namespace, ...extra }

    if (repeatWindowMs > 0) {
      const nowMs = now()
      const key = `${level}\u0000${entry.namespace}\u0000${text}`
      const state = repeats.get(key)
      if (state !== undefined && nowMs - state.windowStartMs < repeatWindowMs) {
        state.suppressed++
        return
      }
      if (state !== undefined && state.suppressed > 0) context.repeated = state.suppressed
      repeats.delete(key)
      if (repeats.size >= MAX_TRACKED_MESSAGES) pruneExpired(nowMs)
      // A table still full of live windows stops tracking new messages: they are logged every time.
      if (repeats.size < MAX_TRACKED_MESSAGES) {
        repeats.set(key, { windowStartMs: nowMs, suppressed: 0, level, namespace: entry.namespace, message: text })
      }
    }

    kafkaLogger[level](context, text)
  }
}
