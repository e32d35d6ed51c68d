import type { MessagePort } from 'node:worker_threads'
import { ErrorCode, TickbusError, invalidOption } from '../../errors.js'
import type { BatchSettings } from '../../bus/producer-runtime.js'
import { nonNegativeInteger, positiveInteger, rejectUnknown } from '../kafka/options.js'
import type { RetentionSettings } from './partition-log.js'

/** Options of embeddedBackend(). */
export interface EmbeddedBackendOptions {
  /** How long each partition keeps records. A topic's `retention.ms` config overrides `maxAgeMs` for that topic. */
  retention?: {
    /** Records each partition keeps at most; the oldest go first. Default 100000. */
    maxRecordsPerPartition?: number
    /** Age in ms, by record timestamp, after which a record is removed. Default: no age limit. */
    maxAgeMs?: number
  }
  /** Limits of each consumer shard's fetch from the broker. */
  fetch?: {
    /** Records one fetch returns at most. Default 500. */
    maxRecords?: number
    /** Bytes of keys, values and headers one fetch returns at most; a larger single record still comes alone. Default 1 MiB. */
    maxBytes?: number
    /** Time in ms the broker waits for a record before it replies to a fetch with nothing. Default 500. */
    maxWaitMs?: number
  }
  /** Batching of the producer worker, which sends the events of `bus.writer()` to the broker. */
  producer?: {
    /** A partition's batch is sent once its values, keys and headers reach this many bytes. Default 16384. */
    batchSizeBytes?: number
    /** A partition's batch is sent at the latest this many ms after its first event. Default 5. */
    lingerMs?: number
    /** Worker memory that read but unsettled events may hold, in bytes; above it the producer stops reading the outbound ring. Default 32 MiB. */
    maxInFlightBytes?: number
  }
}

/** Structured-clone-safe settings of the embedded backend's worker half. */
export interface EmbeddedWorkerConfig {
  readonly fetch: {
    readonly maxRecords: number
    readonly maxBytes: number
    readonly maxWaitMs: number
  }
  readonly producer: BatchSettings
}

/** Settings of one worker task: the shared settings plus the task's own port to the broker. */
export interface EmbeddedTaskConfig extends EmbeddedWorkerConfig {
  readonly port: MessagePort
}

/**
 * Returns a worker task's backendConfig as the embedded task config. Throws BACKEND_FAILED when it
 * has no broker port, which happens when the task was started without Backend.taskResources().
 */
export function readTaskConfig (backendConfig: unknown, task: string): EmbeddedTaskConfig {
  const config = backendConfig as Partial<EmbeddedTaskConfig> | undefined
  if (config?.port === undefined || config.fetch === undefined || config.producer === undefined) {
    throw new TickbusError(ErrorCode.BACKEND_FAILED, `The embedded backend's ${task} task has no broker port. Start it with the result of Backend.taskResources() as its backendConfig.`)
  }
  return config as EmbeddedTaskConfig
}

const BACKEND_KEYS = new Set(['retention', 'fetch', 'producer'])
const RETENTION_KEYS = new Set(['maxRecordsPerPartition', 'maxAgeMs'])
const FETCH_KEYS = new Set(['maxRecords', 'maxBytes', 'maxWaitMs'])
const PRODUCER_KEYS = new Set(['batchSizeBytes', 'lingerMs', 'maxInFlightBytes'])

/**
 * Validates embeddedBackend() options and fills in defaults. Throws INVALID_OPTION naming the
 * option path, the rule and the value received, also for unknown option names.
 */
export function resolveEmbeddedOptions (options: EmbeddedBackendOptions): { retention: RetentionSettings, worker: EmbeddedWorkerConfig } {
  if (typeof options !== 'object' || options === null) throw invalidOption('embedded', 'must be an object', options)
  rejectUnknown('embedded', options, BACKEND_KEYS)

  const retention = options.retention ?? {}
  if (typeof retention !== 'object' || retention === null) throw invalidOption('embedded.retention', 'must be an object', retention)
  rejectUnknown('embedded.retention', retention, RETENTION_KEYS)
  const maxAgeMs = retention.maxAgeMs ?? Number.POSITIVE_INFINITY
  if (maxAgeMs !== Number.POSITIVE_INFINITY) positiveInteger('embedded.retention.maxAgeMs', maxAgeMs, 0)

  const fetch = options.fetch ?? {}
  if (typeof fetch !== 'object' || fetch === null) throw invalidOption('embedded.fetch', 'must be an object', fetch)
  rejectUnknown('embedded.fetch', fetch, FETCH_KEYS)
  const maxWaitMs = fetch.maxWaitMs ?? 500
  if (!Number.isSafeInteger(maxWaitMs) || maxWaitMs < 0) throw invalidOption('embedded.fetch.maxWaitMs', 'must be a non-negative integer', maxWaitMs)

  const producer = options.producer ?? {}
  if (typeof producer !== 'object' || producer === null) throw invalidOption('embedded.producer', 'must be an object', producer)
  rejectUnknown('embedded.producer', producer, PRODUCER_KEYS)

  return {
    retention: {
      maxRecords: positiveInteger('embedded.retention.maxRecordsPerPartition', retention.maxRecordsPerPartition, 100_000),
      maxAgeMs,
    },
    worker: {
      fetch: {
        maxRecords: positiveInteger('embedded.fetch.maxRecords', fetch.maxRecords, 500),
        maxBytes: positiveInteger('embedded.fetch.maxBytes', fetch.maxBytes, 1024 * 1024),
        maxWaitMs,
      },
      producer: {
        batchSizeBytes: positiveInteger('embedded.producer.batchSizeBytes', producer.batchSizeBytes, 16 * 1024),
        lingerMs: nonNegativeInteger('embedded.producer.lingerMs', producer.lingerMs, 5),
        maxInFlightBytes: positiveInteger('embedded.producer.maxInFlightBytes', producer.maxInFlightBytes, 32 * 1024 * 1024),
      },
    },
  }
}

/**
 * Retention of a topic created from a topology: the backend's, with `maxAgeMs` taken from the
 * topic's `retention.ms` config when it has one (-1 means no age limit, as in Kafka). Returns a
 * warning instead when that config is not a valid value.
 */
export function topicRetention (defaults: RetentionSettings, configs: Readonly<Record<string, string>>, topic: string): { retention: RetentionSettings, warning: string | null } {
  const text = configs['retention.ms']
  if (text === undefined) return { retention: defaults, warning: null }
  const value = Number(text)
  if (value === -1) return { retention: { ...defaults, maxAgeMs: Number.POSITIVE_INFINITY }, warning: null }
  if (Number.isSafeInteger(value) && value > 0) return { retention: { ...defaults, maxAgeMs: value }, warning: null }
  return {
    retention: defaults,
    warning: `Topic ${topic} has retention.ms ${JSON.stringify(text)}, which is not -1 or a positive integer; the embedded broker uses the backend's retention for it.`,
  }
}
