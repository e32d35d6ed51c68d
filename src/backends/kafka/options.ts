import { invalidOption } from '../../errors.js'
import { resolveProducerOptions, type KafkaProducerOptions, type KafkaProducerSettings } from './producer-options.js'
import type { WorkerLogLevel } from './worker-log.js'

/** Connection settings shared by every kafkajs client that tickbus creates. */
export interface KafkaClientOptions {
  /** Bootstrap brokers as `host:port`. Required. */
  brokers: string[]
  /** Client id reported to the brokers. Default `tickbus`. */
  clientId?: string
  /** TCP connect timeout in ms. Default 3000. */
  connectionTimeoutMs?: number
  /** Request timeout in ms. Default 30000. */
  requestTimeoutMs?: number
  /** Retries of a failed request before the client gives up. Default 5. */
  retries?: number
}

/** Consumer settings, applied to every shard. */
export interface KafkaConsumerOptions {
  /** Group session timeout in ms: a shard silent for longer is removed from its group. Default 30000. */
  sessionTimeoutMs?: number
  /** Interval between heartbeats in ms, below a third of the session timeout. Default 3000. */
  heartbeatIntervalMs?: number
  /** Time the group coordinator waits for members during a rebalance, in ms. Default 60000. */
  rebalanceTimeoutMs?: number
  /** Maximum time the broker keeps a fetch open while waiting for data, in ms. Default 100. */
  maxWaitTimeMs?: number
  /** Fetch size limit per partition in bytes; bounds worker memory. Default 1 MiB. */
  maxBytesPerPartition?: number
  /** Fetch size limit per request in bytes. Default 10 MiB. */
  maxBytes?: number
  /** `read_committed` hides records of aborted and open transactions. Default `read_uncommitted`. */
  isolationLevel?: 'read_committed' | 'read_uncommitted'
}

/** Options of kafkaBackend(). */
export interface KafkaBackendOptions extends KafkaClientOptions {
  consumer?: KafkaConsumerOptions
  /** Settings of the producer that sends what the tick writes. */
  producer?: KafkaProducerOptions
  /** When an existing topic's partition count differs from the topology: fail start, or log a warning. Default `error`. */
  onPartitionMismatch?: 'error' | 'warn'
  /** Lowest KafkaJS log level forwarded from workers to the bus's logger. Default `warn`. */
  workerLogLevel?: WorkerLogLevel
}

/** Structured-clone-safe settings a Kafka worker builds its clients from. */
export interface KafkaWorkerConfig {
  readonly client: {
    readonly clientId: string
    readonly brokers: string[]
    readonly connectionTimeout: number
    readonly requestTimeout: number
    readonly retry: { readonly retries: number }
  }
  readonly consumer: {
    readonly sessionTimeout: number
    readonly heartbeatInterval: number
    readonly rebalanceTimeout: number
    readonly maxWaitTimeInMs: number
    readonly maxBytesPerPartition: number
    readonly maxBytes: number
    readonly readUncommitted: boolean
    readonly allowAutoTopicCreation: false
  }
  readonly producer: KafkaProducerSettings
  readonly logLevel: WorkerLogLevel
}

const BACKEND_KEYS = new Set(['brokers', 'clientId', 'connectionTimeoutMs', 'requestTimeoutMs', 'retries', 'consumer', 'producer', 'onPartitionMismatch', 'workerLogLevel'])
const CONSUMER_KEYS = new Set(['sessionTimeoutMs', 'heartbeatIntervalMs', 'rebalanceTimeoutMs', 'maxWaitTimeMs', 'maxBytesPerPartition', 'maxBytes', 'isolationLevel'])

/**
 * Validates kafkaBackend() options and fills in defaults. Throws INVALID_OPTION naming the option
 * path, the rule and the value received, also for unknown option names.
 */
export function resolveKafkaOptions (options: KafkaBackendOptions): { worker: KafkaWorkerConfig, onPartitionMismatch: 'error' | 'warn' } {
  if (typeof options !== 'object' || options === null) throw invalidOption('kafka', 'must be an object', options)
  rejectUnknown('kafka', options, BACKEND_KEYS)

  const brokers = options.brokers
  if (!Array.isArray(brokers) || brokers.length === 0) throw invalidOption('kafka.brokers', 'must be a non-empty array of "host:port" strings', brokers)
  brokers.forEach((broker, index) => {
    if (typeof broker !== 'string' || !/^[^\s:]+:\d{1,5}$/.test(broker)) {
      throw invalidOption(`kafka.brokers[${index}]`, 'must be "host:port"', broker)
    }
  })
  const clientId = options.clientId ?? 'tickbus'
  if (typeof clientId !== 'string' || clientId.length === 0) throw invalidOption('kafka.clientId', 'must be a non-empty string', clientId)

  const consumer = options.consumer ?? {}
  if (typeof consumer !== 'object' || consumer === null) throw invalidOption('kafka.consumer', 'must be an object', consumer)
  rejectUnknown('kafka.consumer', consumer, CONSUMER_KEYS)
  const sessionTimeout = positiveInteger('kafka.consumer.sessionTimeoutMs', consumer.sessionTimeoutMs, 30_000)
  const heartbeatInterval = positiveInteger('kafka.consumer.heartbeatIntervalMs', consumer.heartbeatIntervalMs, 3_000)
  if (heartbeatInterval * 3 > sessionTimeout) {
    throw invalidOption('kafka.consumer.heartbeatIntervalMs', `must be at most a third of sessionTimeoutMs (${sessionTimeout})`, heartbeatInterval)
  }
  const isolationLevel = consumer.isolationLevel ?? 'read_uncommitted'
  if (isolationLevel !== 'read_committed' && isolationLevel !== 'read_uncommitted') {
    throw invalidOption('kafka.consumer.isolationLevel', 'must be "read_committed" or "read_uncommitted"', isolationLevel)
  }
  const onPartitionMismatch = options.onPartitionMismatch ?? 'error'
  if (onPartitionMismatch !== 'error' && onPartitionMismatch !== 'warn') {
    throw invalidOption('kafka.onPartitionMismatch', 'must be "error" or "warn"', onPartitionMismatch)
  }
  const logLevel = options.workerLogLevel ?? 'warn'
  if (logLevel !== 'info' && logLevel !== 'warn' && logLevel !== 'error') {
    throw invalidOption('kafka.workerLogLevel', 'must be "info", "warn" or "error"', logLevel)
  }

  return {
    onPartitionMismatch,
    worker: {
      client: {
        clientId,
        brokers: [...brokers],
        connectionTimeout: positiveInteger('kafka.connectionTimeoutMs', options.connectionTimeoutMs, 3_000),
        requestTimeout: positiveInteger('kafka.requestTimeoutMs', options.requestTimeoutMs, 30_000),
        retry: { retries: nonNegativeInteger('kafka.retries', options.retries, 5) },
      },
      consumer: {
        sessionTimeout,
        heartbeatInterval,
        rebalanceTimeout: positiveInteger('kafka.consumer.rebalanceTimeoutMs', consumer.rebalanceTimeoutMs, 60_000),
        maxWaitTimeInMs: positiveInteger('kafka.consumer.maxWaitTimeMs', consumer.maxWaitTimeMs, 100),
        maxBytesPerPartition: positiveInteger('kafka.consumer.maxBytesPerPartition', consumer.maxBytesPerPartition, 1024 * 1024),
        maxBytes: positiveInteger('kafka.consumer.maxBytes', consumer.maxBytes, 10 * 1024 * 1024),
        readUncommitted: isolationLevel === 'read_uncommitted',
        allowAutoTopicCreation: false,
      },
      producer: resolveProducerOptions(options.producer),
      logLevel,
    },
  }
}

export function rejectUnknown (path: string, value: object, known: ReadonlySet<string>): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) throw invalidOption(`${path}.${key}`, `is not a known option (known: ${[...known].join(', ')})`, (value as Record<string, unknown>)[key])
  }
}

export function positiveInteger (path: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw invalidOption(path, 'must be a positive integer', value)
  return value
}

export function nonNegativeInteger (path: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalidOption(path, 'must be a non-negative integer', value)
  return value
}
