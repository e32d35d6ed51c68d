import { logLevel, type logCreator as KafkaLogCreator } from 'kafkajs'
import type { FromWorkerMessage } from '../../bus/messages.js'

/** Level names a worker forwards to the main thread's logger. */
export type WorkerLogLevel = 'info' | 'warn' | 'error'

const LEVEL_RANK: Record<WorkerLogLevel, number> = { info: logLevel.INFO, warn: logLevel.WARN, error: logLevel.ERROR }

/** Repeats of one message forwarded per window before they are only counted. */
const REPEATS_PER_WINDOW = 3
const WINDOW_MS = 10_000

/**
 * Routes KafkaJS log entries of a worker to the main thread, where the bus passes them to the
 * user's logger. Entries below `minimum` are dropped, and a message that repeats is forwarded
 * at most REPEATS_PER_WINDOW times per WINDOW_MS, with the count of suppressed repeats.
 */
export function workerLogCreator (sink: { send (message: FromWorkerMessage): void }, minimum: WorkerLogLevel): KafkaLogCreator {
  const threshold = LEVEL_RANK[minimum]
  const seen = new Map<string, { windowStart: number, count: number, suppressed: number }>()
  return () => ({ namespace, level, log }) => {
    if (level === logLevel.NOTHING || level > threshold) return
    const now = Date.now()
    const key = `${namespace}:${log.message}`
    let entry = seen.get(key)
    if (entry === undefined || now - entry.windowStart > WINDOW_MS) {
      const suppressed = entry?.suppressed ?? 0
      entry = { windowStart: now, count: 0, suppressed: 0 }
      seen.set(key, entry)
      if (suppressed > 0) log = { ...log, suppressedRepeats: suppressed }
      if (seen.size > 1000) seen.clear()
    }
    entry.count++
    if (entry.count > REPEATS_PER_WINDOW) {
      entry.suppressed++
      return
    }
    const { message, timestamp: _timestamp, logger: _logger, ...fields } = log
    sink.send({
      type: 'log',
      level: level <= logLevel.ERROR ? 'error' : level <= logLevel.WARN ? 'warn' : 'info',
      message: `kafkajs ${namespace}: ${message}`,
      fields,
    })
  }
}
