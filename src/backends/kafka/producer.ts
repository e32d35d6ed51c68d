import { setTimeout as sleep } from 'node:timers/promises'

import { CompressionTypes, Kafka, Partitioners, type Message, type PartitionMetadata, type Producer } from 'kafkajs'

import { ErrorCode } from '../../errors.js'
import type { FromProducerMessage, FromWorkerMessage, ProducerStopReport, ProducerTask } from '../../bus/messages.js'
import { ProducerRuntime, type PartitionBatch, type ProducerBackend, type SendFailure } from '../../bus/producer-runtime.js'
import { registerCompressionCodecs } from './compression.js'
import type { KafkaWorkerConfig } from './options.js'
import type { KafkaProducerSettings } from './producer-options.js'
import { workerLogCreator } from './worker-log.js'

/**
 * Runs the producer on a worker thread: a kafkajs producer behind the backend-independent
 * ProducerRuntime, which reads the outbound ring, batches per partition and reports failures.
 * Resolves when the main thread's stop request is done (see ProducerRuntime.run()).
 */
export async function runProducer (task: ProducerTask): Promise<ProducerStopReport> {
  const config = task.backendConfig as KafkaWorkerConfig
  const settings = config.producer
  let runtime: ProducerRuntime | undefined
  const sink = { send: (message: FromProducerMessage): void => { runtime?.send(message) } }
  const logSink = { send: (message: FromWorkerMessage): void => { if (message.type === 'log') sink.send(message) } }
  const kafka = new Kafka({
    ...config.client,
    requestTimeout: settings.requestTimeoutMs,
    logCreator: workerLogCreator(logSink, config.logLevel),
  })
  const backend = new KafkaProducerBackend(kafka, settings, sink)
  runtime = new ProducerRuntime(task, settings, backend)
  return await runtime.run()
}

registerCompressionCodecs()

/** Error names of kafkajs for a broker that could not be reached or did not respond. */
const UNREACHABLE_ERRORS: ReadonlySet<string> = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
])

/** Kafka protocol errors for a record batch above the broker's or topic's size limit. */
const BATCH_TOO_LARGE_ERRORS: ReadonlySet<string> = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE'])

const COMPRESSION_TYPES: Record<KafkaProducerSettings['compression'], CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
}

/** Interval in ms in which repeated send failures or retries are logged once, with a count. */
const FAILURE_LOG_WINDOW_MS = 10_000

/** Sends partition batches with a kafkajs producer, with tickbus's own retry loop around each send. */
class KafkaProducerBackend implements ProducerBackend {
  readonly #producer: Producer
  readonly #settings: KafkaProducerSettings
  readonly #partitioner = Partitioners.DefaultPartitioner()
  readonly #partitionMetadata = new Map<number, PartitionMetadata[]>()
  readonly #compression: CompressionTypes
  readonly #failureLog: RateLimitedLog
  readonly #retryLog: RateLimitedLog
  #connecting: Promise<void> | undefined
  #closed = false

  constructor (kafka: Kafka, settings: KafkaProducerSettings, log: { send (message: FromProducerMessage): void }) {
    this.#settings = settings
    this.#failureLog = new RateLimitedLog(log)
    this.#retryLog = new RateLimitedLog(log)
    this.#compression = COMPRESSION_TYPES[settings.compression]
    this.#producer = kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: settings.idempotent,
      maxInFlightRequests: settings.maxInFlightRequests,
      // tickbus retries each batch itself, so that it counts the retries and keeps a partition's
      // batches in order. kafkajs 2.2 refuses an idempotent producer without internal retries.
      // NOTE: an idempotent producer's attempts may each include one kafkajs retry that the
      // retries counter does not see.
      retry: { retries: settings.idempotent ? 1 : 0, initialRetryTime: settings.retryBackoffMs, maxRetryTime: settings.retryBackoffMaxMs },
    })
  }

  /** kafkajs's default partitioner: murmur2 of the key modulo the partition count, as the Java client. */
  partitionForKey (topic: string, key: Buffer, partitions: number): number {
    let metadata = this.#partitionMetadata.get(partitions)
    if (metadata === undefined) {
      // Only the count matters for a keyed message; the partitioner reads no other field then.
      metadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }))
      this.#partitionMetadata.set(partitions, metadata)
    }
    return this.#partitioner({ topic, partitionMetadata: metadata, message: { key, value: null } })
  }

  async send (batch: PartitionBatch, onRetry: () => void): Promise<SendFailure | null> {
    const messages: Message[] = batch.messages.map((message) => {
      const kafkaMessage: Message = { key: message.key, value: message.value, partition: batch.partition }
      if (message.headers !== undefined) kafkaMessage.headers = message.headers
      if (message.timestamp >= 0) kafkaMessage.timestamp = String(message.timestamp)
      return kafkaMessage
    })

    for (let attempt = 1; ; attempt++) {
      try {
        if (this.#closed) throw new Error('the producer is closed because the bus stopped')
        await this.#connect()
        await this.#producer.send({
          topic: batch.topic,
          messages,
          acks: this.#settings.acks,
          timeout: this.#settings.requestTimeoutMs,
          compression: this.#compression,
        })
        return null
      } catch (error) {
        const failure = describeSendFailure(error, batch, attempt)
        if (!failure.retriable || attempt > this.#settings.retries || this.#closed) {
          this.#failureLog.log(`Delivery of ${batch.messages.length} events to ${batch.topic}[${batch.partition}] failed; they are reported as delivery failures`, {
            topic: batch.topic,
            partition: batch.partition,
            code: failure.code,
            errorType: failure.errorType,
            error: failure.message,
            attempts: failure.attempts,
          })
          return failure
        }
        onRetry()
        const backoffMs = Math.min(this.#settings.retryBackoffMaxMs, this.#settings.retryBackoffMs * 2 ** (attempt - 1))
        this.#retryLog.log(`Sending to ${batch.topic}[${batch.partition}] failed; retrying`, {
          topic: batch.topic,
          partition: batch.partition,
          errorType: failure.errorType,
          error: failure.message,
          attempt,
          backoffMs,
        })
        await sleep(backoffMs)
      }
    }
  }

  async close (): Promise<void> {
    this.#closed = true
    await this.#producer.disconnect().catch(() => {})
  }

  /** Connects once; a failed connect is tried again by the next attempt. */
  async #connect (): Promise<void> {
    this.#connecting ??= this.#producer.connect().catch((error: unknown) => {
      this.#connecting = undefined
      throw error
    })
    await this.#connecting
  }
}

/**
 * Logs one warning per FAILURE_LOG_WINDOW_MS and counts the others, which the next warning
 * carries as `suppressed`, so a broker outage does not log once per batch.
 */
class RateLimitedLog {
  readonly #sink: { send (message: FromProducerMessage): void }
  #windowStart = -Infinity
  #suppressed = 0

  constructor (sink: { send (message: FromProducerMessage): void }) {
    this.#sink = sink
  }

  log (message: string, fields: Record<string, unknown>): void {
    const now = Date.now()
    if (now - this.#windowStart < FAILURE_LOG_WINDOW_MS) {
      this.#suppressed++
      return
    }
    this.#windowStart = now
    this.#sink.send({ type: 'log', level: 'warn', message, fields: { ...fields, suppressed: this.#suppressed } })
    this.#suppressed = 0
  }
}

/** Unwraps kafkajs's retry wrappers down to the error that caused the failure. */
function rootCause (error: unknown): unknown {
  let current = error
  for (let depth = 0; depth < 8; depth++) {
    const name = (current as { name?: unknown } | null)?.name
    const cause = (current as { cause?: unknown } | null)?.cause
    if ((name !== 'KafkaJSNumberOfRetriesExceeded' && name !== 'KafkaJSNonRetriableError') || !(cause instanceof Error) || cause === current) break
    current = cause
  }
  return current
}

function describeSendFailure (error: unknown, batch: PartitionBatch, attempts: number): SendFailure {
  const cause = rootCause(error)
  const name = cause instanceof Error ? cause.name : 'Error'
  const protocolType = (cause as { type?: unknown } | null)?.type
  const errorType = typeof protocolType === 'string' ? protocolType : name
  // kafkajs treats an error as retriable unless the error sets retriable to false.
  const retriable = (cause as { retriable?: unknown } | null)?.retriable !== false
  const text = cause instanceof Error ? cause.message : String(cause)
  return {
    code: UNREACHABLE_ERRORS.has(name) ? ErrorCode.BROKER_UNREACHABLE : ErrorCode.DELIVERY_FAILED,
    message: `Sending ${batch.messages.length} events to ${batch.topic}[${batch.partition}] failed after ${attempts} attempt(s): ${text} (${errorType}).`,
    errorType,
    retriable,
    attempts,
    batchTooLarge: BATCH_TOO_LARGE_ERRORS.has(errorType),
  }
}
