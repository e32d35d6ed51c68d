import { logLevel, type LogEntry } from 'kafkajs'
import { describe, expect, it } from 'vitest'

import { ErrorCode, TickbusError } from '../src/errors.js'
import { kafkajsLogCreator, type LogLevel, type Logger, noopLogger } from '../src/logger.js'

interface Written {
  level: LogLevel
  bindings: Record<string, unknown>
  obj: object
  msg: string | undefined
}

/** Creates a Logger that records every entry, with the bindings of its `child()` calls. */
function recordingLogger (written: Written[], bindings: Record<string, unknown> = {}): Logger {
  const method = (level: LogLevel) => (obj: object, msg?: string) => { written.push({ level, bindings, obj, msg }) }
  return {
    trace: method('trace'),
    debug: method('debug'),
    info: method('info'),
    warn: method('warn'),
    error: method('error'),
    fatal: method('fatal'),
    child: (more) => recordingLogger(written, { ...bindings, ...more }),
  }
}

function entry (level: logLevel, namespace: string, message: string, extra: Record<string, unknown> = {}): LogEntry {
  return { level, namespace, label: logLevel[level], log: { timestamp: '2024-01-01T00:00:00.000Z', logger: 'kafkajs', message, ...extra } }
}

describe('noopLogger', () => {
  it('accepts every call', () => {
    expect(() => {
      noopLogger.info({ topic: 't' }, 'message')
      noopLogger.child({ worker: 1 }).error({}, 'message')
    }).not.toThrow()
    expect(noopLogger.child({})).toBe(noopLogger)
  })
})

describe('kafkajsLogCreator', () => {
  it('maps levels and keeps namespace and fields', () => {
    const written: Written[] = []
    const log = kafkajsLogCreator(recordingLogger(written), { repeatWindowMs: 0 })(logLevel.DEBUG)

    log(entry(logLevel.ERROR, 'Consumer', 'Crash', { groupId: 'g', error: 'boom' }))
    log(entry(logLevel.WARN, 'Connection', 'Retrying'))
    log(entry(logLevel.INFO, 'Consumer', 'Starting'))
    log(entry(logLevel.DEBUG, 'Fetcher', 'Fetching'))
    log(entry(logLevel.NOTHING, 'Fetcher', 'ignored'))

    expect(written.map((item) => item.level)).toEqual(['error', 'warn', 'info', 'debug'])
    expect(written[0]?.obj).toEqual({ namespace: 'Consumer', groupId: 'g', error: 'boom' })
    expect(written[0]?.msg).toBe('Crash')
    expect(written[0]?.bindings).toEqual({ component: 'kafkajs' })
    expect(written[3]?.obj).toEqual({ namespace: 'Fetcher' })
  })

  it('counts repeats within the window', () => {
    const written: Written[] = []
    let now = 1_000
    const log = kafkajsLogCreator(recordingLogger(written), { repeatWindowMs: 10_000, now: () => now })(logLevel.INFO)

    for (let i = 0; i < 5; i++) log(entry(logLevel.ERROR, 'Connection', 'Connection error: ECONNREFUSED'))
    log(entry(logLevel.ERROR, 'Connection', 'Another message'))
    log(entry(logLevel.WARN, 'Connection', 'Connection error: ECONNREFUSED'))
    expect(written.map((item) => [item.level, item.msg])).toEqual([
      ['error', 'Connection error: ECONNREFUSED'],
      ['error', 'Another message'],
      ['warn', 'Connection error: ECONNREFUSED'],
    ])

    now += 10_000
    log(entry(logLevel.ERROR, 'Connection', 'Connection error: ECONNREFUSED'))
    expect(written).toHaveLength(4)
    expect(written[3]?.obj).toEqual({ namespace: 'Connection', repeated: 4 })

    now += 10_000
    log(entry(logLevel.ERROR, 'Connection', 'Connection error: ECONNREFUSED'))
    expect(written[4]?.obj).toEqual({ namespace: 'Connection' })
  })

  it('keeps namespaces apart when counting', () => {
    const written: Written[] = []
    const log = kafkajsLogCreator(recordingLogger(written), { now: () => 0 })(logLevel.INFO)

    log(entry(logLevel.WARN, 'Consumer', 'Retrying'))
    log(entry(logLevel.WARN, 'Producer', 'Retrying'))
    log(entry(logLevel.WARN, 'Consumer', 'Retrying'))

    expect(written.map((item) => (item.obj as { namespace: string }).namespace)).toEqual(['Consumer', 'Producer'])
  })

  it('writes summaries of stale repeats when pruning', () => {
    const written: Written[] = []
    let now = 0
    const log = kafkajsLogCreator(recordingLogger(written), { repeatWindowMs: 100, now: () => now })(logLevel.INFO)

    log(entry(logLevel.WARN, 'Broker', 'stale'))
    log(entry(logLevel.WARN, 'Broker', 'stale'))
    now = 200
    for (let i = 0; i < 1000; i++) log(entry(logLevel.DEBUG, 'Broker', `message ${i}`))

    const summary = written.find((item) => (item.obj as { repeated?: number }).repeated !== undefined)
    expect(summary?.msg).toBe('stale')
    expect(summary?.level).toBe('warn')
    expect(summary?.obj).toEqual({ namespace: 'Broker', repeated: 1 })
  })

  it('logs every entry when the table is full', () => {
    const written: Written[] = []
    const log = kafkajsLogCreator(recordingLogger(written), { now: () => 0 })(logLevel.INFO)

    for (let i = 0; i < 1000; i++) log(entry(logLevel.INFO, 'Broker', `message ${i}`))
    log(entry(logLevel.INFO, 'Broker', 'untracked'))
    log(entry(logLevel.INFO, 'Broker', 'untracked'))

    expect(written.filter((item) => item.msg === 'untracked')).toHaveLength(2)
  })

  it('rejects a negative window', () => {
    let caught: unknown
    try {
      kafkajsLogCreator(noopLogger, { repeatWindowMs: -1 })
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(TickbusError)
    expect((caught as TickbusError).code).toBe(ErrorCode.INVALID_OPTION)
    expect((caught as TickbusError).message).toContain('repeatWindowMs')
  })
})
