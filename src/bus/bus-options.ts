import { invalidOption } from '../errors.js'
import { noopLogger, type Logger } from '../logger.js'
import { validateRingCapacity } from '../ring/ring-buffer.js'
import type { Topology } from '../topology/types.js'
import type { Backend } from '../backends/backend.js'
import type { CommitMode, CommitSettings } from './messages.js'
import type { OutboundOptions } from './outbound-channel.js'

/** Options of createBus(). */
export interface BusOptions {
  /** The built topology (`createTopology()...build()`). Required. */
  topology: Topology
  /** The broker backend, such as `kafkaBackend({ brokers })`. Required. */
  backend: Backend
  /** Data capacity of each consumer shard's ring in bytes, a power of two. Default 4 MiB. */
  ringCapacityBytes?: number
  /** Worker threads that run the consumer shards. Default: one per shard, at most one less than the CPU count, at least 1. */
  workers?: number
  /** How many ticks a record stays readable: 1 (until the next tick) or 2. Default 1. */
  eventLifetimeTicks?: 1 | 2
  limits?: {
    /** Events (all types, plus decode errors) one tick hands out at most. Default unlimited. */
    maxEventsPerTick?: number
    /** Per event type name, events one tick hands out at most. */
    maxEventsPerType?: Record<string, number>
    /** Time one tick may spend claiming records, in ms. Default unlimited. */
    timeBudgetMs?: number
  }
  commit?: {
    /** `released` (default): workers commit what ticks released. `manual`: only what bus.commit() names. */
    mode?: CommitMode
    /** Maximum time a released offset waits for its commit, in ms. Default 1000. */
    intervalMs?: number
    /** Released records that trigger a commit before the interval ends. Default 10000. */
    records?: number
  }
  /** Views throw when read after their records were released. Default: TICKBUS_DEV=1 in the environment. */
  devMode?: boolean
  /** pino-compatible logger. Default: discards everything. */
  logger?: Logger
  /** Back-off between restarts of a failed consumer shard. */
  restart?: {
    /** Default 500. */
    initialDelayMs?: number
    /** Default 30000. */
    maxDelayMs?: number
  }
  /** Time stop() waits for the producer to deliver what was written and for shards to commit and leave their groups, in ms. Default 10000. */
  stopTimeoutMs?: number
  /** Ring sizes of the outbound path (events the tick writes, delivery failures). */
  outbound?: OutboundOptions
}

/** Per-tick limits in the form the drain loop reads. */
export interface TickLimits {
  readonly maxEventsPerTick: number
  /** Indexed by event type id; index 0 is decode errors. */
  readonly maxEventsPerType: Int32Array
  /** 0n when there is no time budget. */
  readonly timeBudgetNs: bigint
}

const KNOWN = new Set(['topology', 'backend', 'ringCapacityBytes', 'workers', 'eventLifetimeTicks', 'limits', 'commit', 'devMode', 'logger', 'restart', 'stopTimeoutMs', 'outbound'])

/** Validates createBus() options and fills in defaults; throws INVALID_OPTION naming the option. */
export function resolveBusOptions (options: BusOptions) {
  if (typeof options !== 'object' || options === null) throw invalidOption('options', 'must be an object', options)
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw invalidOption(key, `is not a known option (known: ${[...KNOWN].join(', ')})`, (options as unknown as Record<string, unknown>)[key])
  }
  const topology = options.topology
  if (typeof topology !== 'object' || topology === null || !Array.isArray(topology.topics) || !Array.isArray(topology.eventTypes)) {
    throw invalidOption('topology', 'must be the result of createTopology()...build()', topology)
  }
  const backend = options.backend
  if (typeof backend !== 'object' || backend === null || typeof backend.start !== 'function' || typeof backend.workerModule !== 'string') {
    throw invalidOption('backend', 'must be a backend such as kafkaBackend({ brokers })', backend)
  }

  const ringCapacityBytes = validateRingCapacity(options.ringCapacityBytes ?? 4 * 1024 * 1024, 'ringCapacityBytes')
  const workers = options.workers
  if (workers !== undefined && (!Number.isSafeInteger(workers) || workers < 1)) throw invalidOption('workers', 'must be a positive integer', workers)
  const eventLifetimeTicks = options.eventLifetimeTicks ?? 1
  if (eventLifetimeTicks !== 1 && eventLifetimeTicks !== 2) throw invalidOption('eventLifetimeTicks', 'must be 1 or 2', eventLifetimeTicks)

  const limits = options.limits ?? {}
  const maxEventsPerTick = limits.maxEventsPerTick ?? Number.MAX_SAFE_INTEGER
  if (!Number.isSafeInteger(maxEventsPerTick) || maxEventsPerTick < 1) throw invalidOption('limits.maxEventsPerTick', 'must be a positive integer', maxEventsPerTick)
  const perType = new Int32Array(topology.eventTypes.length + 1).fill(0x7fffffff)
  for (const [name, limit] of Object.entries(limits.maxEventsPerType ?? {})) {
    const type = topology.eventTypes.find((candidate) => candidate.name === name)
    if (type === undefined) throw invalidOption(`limits.maxEventsPerType.${name}`, 'must name an event type of the topology', name)
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 0x7fffffff) throw invalidOption(`limits.maxEventsPerType.${name}`, 'must be a positive integer', limit)
    perType[type.id] = limit
  }
  const timeBudgetMs = limits.timeBudgetMs ?? 0
  if (typeof timeBudgetMs !== 'number' || !(timeBudgetMs >= 0) || !Number.isFinite(timeBudgetMs)) throw invalidOption('limits.timeBudgetMs', 'must be a non-negative number of ms', timeBudgetMs)

  const commitOptions = options.commit ?? {}
  const mode = commitOptions.mode ?? 'released'
  if (mode !== 'released' && mode !== 'manual') throw invalidOption('commit.mode', 'must be "released" or "manual"', mode)
  const intervalMs = commitOptions.intervalMs ?? 1000
  if (!Number.isSafeInteger(intervalMs) || intervalMs < 1) throw invalidOption('commit.intervalMs', 'must be a positive integer', intervalMs)
  const records = commitOptions.records ?? 10_000
  if (!Number.isSafeInteger(records) || records < 1) throw invalidOption('commit.records', 'must be a positive integer', records)
  const commit: CommitSettings = { mode, intervalMs, records }

  const restart = options.restart ?? {}
  const initialDelayMs = restart.initialDelayMs ?? 500
  const maxDelayMs = restart.maxDelayMs ?? 30_000
  if (!Number.isSafeInteger(initialDelayMs) || initialDelayMs < 1) throw invalidOption('restart.initialDelayMs', 'must be a positive integer', initialDelayMs)
  if (!Number.isSafeInteger(maxDelayMs) || maxDelayMs < initialDelayMs) throw invalidOption('restart.maxDelayMs', `must be an integer of at least restart.initialDelayMs (${initialDelayMs})`, maxDelayMs)
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000
  if (!Number.isSafeInteger(stopTimeoutMs) || stopTimeoutMs < 0) throw invalidOption('stopTimeoutMs', 'must be a non-negative integer', stopTimeoutMs)
  const devMode = options.devMode
  if (devMode !== undefined && typeof devMode !== 'boolean') throw invalidOption('devMode', 'must be a boolean', devMode)

  const tickLimits: TickLimits = { maxEventsPerTick, maxEventsPerType: perType, timeBudgetNs: BigInt(Math.round(timeBudgetMs * 1e6)) }
  return {
    topology: topology as Topology,
    backend,
    ringCapacityBytes,
    workers,
    eventLifetimeTicks: eventLifetimeTicks as 1 | 2,
    limits: tickLimits,
    commit,
    devMode,
    logger: options.logger ?? noopLogger,
    restart: { initialDelayMs, maxDelayMs },
    stopTimeoutMs,
    outbound: options.outbound,
  }
}
