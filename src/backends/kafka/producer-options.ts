import { invalidOption } from '../../errors.js'
import { nonNegativeInteger, positiveInteger, rejectUnknown } from './options.js'

/** Producer settings of kafkaBackend(), under its `producer` option. */
export interface KafkaProducerOptions {
  /**
   * Acknowledgements the broker collects before it responds to a produce request: 0 (none; the
   * producer counts a sent event as delivered and never sees broker errors), 1 (the partition
   * leader wrote it) or -1 / 'all' (every in-sync replica wrote it, at least the topic's
   * min.insync.replicas). Default 'all'.
   */
  acks?: 0 | 1 | -1 | 'all'
  /** Compression of each record batch: 'none', 'gzip' or 'snappy'. Default 'none'. */
  compression?: 'none' | 'gzip' | 'snappy'
  /**
   * Idempotent producer: the broker keeps a retried batch only once, by producer id and sequence
   * number. Requires acks 'all'. Default false.
   */
  idempotent?: boolean
  /** A partition's batch is sent once its values, keys and headers reach this many bytes. Default 16384. */
  batchSizeBytes?: number
  /** A partition's batch is sent at the latest this many ms after its first event. Default 5. */
  lingerMs?: number
  /** Retries of a batch after a retriable error, before its events are reported as failed. Default 5. */
  retries?: number
  /** Wait before the first retry in ms; it doubles for each further retry, up to retryBackoffMaxMs. Default 100. */
  retryBackoffMs?: number
  /** Maximum wait between two retries in ms. Default 1000. */
  retryBackoffMaxMs?: number
  /**
   * Time the producer waits for a broker's response to a request, and the time the broker may take to
   * collect the acks, in ms. Default 30000.
   */
  requestTimeoutMs?: number
  /** Produce requests in flight per broker connection (kafkajs maxInFlightRequests). Default 5. */
  maxInFlightRequests?: number
  /**
   * Worker memory that read but unsettled events may hold, in bytes. Above it the producer stops
   * reading the outbound ring, which then fills and makes writes return false. Default 32 MiB.
   */
  maxInFlightBytes?: number
}

/** Producer settings after validation, as the worker receives them. */
export interface KafkaProducerSettings {
  readonly acks: 0 | 1 | -1
  readonly compression: 'none' | 'gzip' | 'snappy'
  readonly idempotent: boolean
  readonly batchSizeBytes: number
  readonly lingerMs: number
  readonly retries: number
  readonly retryBackoffMs: number
  readonly retryBackoffMaxMs: number
  readonly requestTimeoutMs: number
  readonly maxInFlightRequests: number
  readonly maxInFlightBytes: number
}

const PRODUCER_KEYS = new Set([
  'acks', 'compression', 'idempotent', 'batchSizeBytes', 'lingerMs', 'retries', 'retryBackoffMs',
  'retryBackoffMaxMs', 'requestTimeoutMs', 'maxInFlightRequests', 'maxInFlightBytes',
])

/** Largest batch: Kafka's default message.max.bytes (1 MiB plus record batch overhead) rounded down. */
const MAX_BATCH_SIZE_BYTES = 1024 * 1024

/**
 * Validates the `producer` option of kafkaBackend() and fills in defaults. Throws INVALID_OPTION
 * naming the option path (under `path`), the rule and the value received.
 */
export function resolveProducerOptions (value: unknown, path = 'kafka.producer'): KafkaProducerSettings {
  const options = value ?? {}
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw invalidOption(path, 'must be an object', options)
  rejectUnknown(path, options, PRODUCER_KEYS)
  const producerOptions = options as KafkaProducerOptions

  const acksOption = producerOptions.acks ?? 'all'
  if (acksOption !== 0 && acksOption !== 1 && acksOption !== -1 && acksOption !== 'all') {
    throw invalidOption(`${path}.acks`, 'must be 0, 1, -1 or "all"', acksOption)
  }
  const acks = acksOption === 'all' ? -1 : acksOption

  const compression = producerOptions.compression ?? 'none'
  if (compression !== 'none' && compression !== 'gzip' && compression !== 'snappy') {
    throw invalidOption(`${path}.compression`, 'must be "none", "gzip" or "snappy"', compression)
  }

  const idempotent = producerOptions.idempotent ?? false
  if (typeof idempotent !== 'boolean') throw invalidOption(`${path}.idempotent`, 'must be a boolean', idempotent)
  if (idempotent && acks !== -1) {
    throw invalidOption(`${path}.acks`, 'must be "all" (or -1) when idempotent is true, because the broker deduplicates only batches that all in-sync replicas acknowledge', acksOption)
  }

  const batchSizeBytes = positiveInteger(`${path}.batchSizeBytes`, producerOptions.batchSizeBytes, 16 * 1024)
  if (batchSizeBytes > MAX_BATCH_SIZE_BYTES) {
    throw invalidOption(`${path}.batchSizeBytes`, `must be at most ${MAX_BATCH_SIZE_BYTES} (Kafka's default message.max.bytes)`, batchSizeBytes)
  }
  const retryBackoffMs = positiveInteger(`${path}.retryBackoffMs`, producerOptions.retryBackoffMs, 100)
  const retryBackoffMaxMs = positiveInteger(`${path}.retryBackoffMaxMs`, producerOptions.retryBackoffMaxMs, Math.max(1000, retryBackoffMs))
  if (retryBackoffMaxMs < retryBackoffMs) {
    throw invalidOption(`${path}.retryBackoffMaxMs`, `must be at least retryBackoffMs (${retryBackoffMs})`, retryBackoffMaxMs)
  }
  const maxInFlightBytes = positiveInteger(`${path}.maxInFlightBytes`, producerOptions.maxInFlightBytes, 32 * 1024 * 1024)
  if (maxInFlightBytes > 0x7fffffff) throw invalidOption(`${path}.maxInFlightBytes`, 'must be below 2 GiB', maxInFlightBytes)

  return {
    acks,
    compression,
    idempotent,
    batchSizeBytes,
    lingerMs: nonNegativeInteger(`${path}.lingerMs`, producerOptions.lingerMs, 5),
    retries: nonNegativeInteger(`${path}.retries`, producerOptions.retries, 5),
    retryBackoffMs,
    retryBackoffMaxMs,
    requestTimeoutMs: positiveInteger(`${path}.requestTimeoutMs`, producerOptions.requestTimeoutMs, 30_000),
    maxInFlightRequests: positiveInteger(`${path}.maxInFlightRequests`, producerOptions.maxInFlightRequests, 5),
    maxInFlightBytes,
  }
}
