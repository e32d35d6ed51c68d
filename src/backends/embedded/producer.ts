import { ErrorCode, TickbusError } from '../../errors.js'
import type { ProducerStopReport, ProducerTask } from '../../bus/messages.js'
import { ProducerRuntime, type OutgoingHeaders, type OutgoingMessage, type PartitionBatch, type ProducerBackend, type SendFailure } from '../../bus/producer-runtime.js'
import { BrokerClient } from './broker-client.js'
import { readTaskConfig } from './options.js'
import { partitionForKey } from './partitioner.js'
import type { HeaderEntry, ProduceRecord } from './protocol.js'

/** Interval in ms in which repeated send failures are logged once, with a count. */
const FAILURE_LOG_WINDOW_MS = 10_000

/**
 * Runs the producer on a worker thread: the backend-independent ProducerRuntime, which reads the
 * outbound ring, batches per partition and reports failures, sending its batches to the embedded
 * broker over the task's broker port. Resolves when the main thread's stop request is done.
 */
export async function runProducer (task: ProducerTask): Promise<ProducerStopReport> {
  const config = readTaskConfig(task.backendConfig, 'producer')
  const client = new BrokerClient(config.port)
  let runtime: ProducerRuntime | undefined
  const backend = new EmbeddedProducerBackend(client, (message, fields) => {
    runtime?.send({ type: 'log', level: 'warn', message, fields })
  })
  runtime = new ProducerRuntime(task, config.producer, backend)
  return await runtime.run()
}

/**
 * Sends partition batches to the embedded broker with one produce request each. The broker
 * appends a batch whole or rejects it whole, and a rejection does not go away on a retry (an
 * unknown topic or partition, or a closed connection), so there are no retries.
 */
class EmbeddedProducerBackend implements ProducerBackend {
  readonly #client: BrokerClient
  readonly #warn: (message: string, fields: Record<string, unknown>) => void
  #failureWindowStart = 0
  #failuresInWindow = 0

  constructor (client: BrokerClient, warn: (message: string, fields: Record<string, unknown>) => void) {
    this.#client = client
    this.#warn = warn
  }

  partitionForKey (_topic: string, key: Buffer, partitions: number): number {
    return partitionForKey(key, partitions)
  }

  async send (batch: PartitionBatch): Promise<SendFailure | null> {
    try {
      await this.#client.produce(batch.topic, batch.messages.map((message) => toProduceRecord(message, batch.partition)))
      return null
    } catch (error) {
      const failure = describeSendFailure(error, batch)
      this.#logFailure(failure, batch)
      return failure
    }
  }

  async close (): Promise<void> {
    this.#client.close()
  }

  #logFailure (failure: SendFailure, batch: PartitionBatch): void {
    const now = Date.now()
    if (now - this.#failureWindowStart > FAILURE_LOG_WINDOW_MS) {
      const suppressed = this.#failuresInWindow > 1 ? this.#failuresInWindow - 1 : 0
      this.#failureWindowStart = now
      this.#failuresInWindow = 0
      this.#warn(`Delivery of ${batch.messages.length} events to ${batch.topic}[${batch.partition}] failed; they are reported as delivery failures`, {
        topic: batch.topic,
        partition: batch.partition,
        code: failure.code,
        errorType: failure.errorType,
        error: failure.message,
        suppressedFailures: suppressed,
      })
    }
    this.#failuresInWindow++
  }
}

/**
 * Converts an outgoing message into a produce request record. Payloads are copied into
 * exact-size arrays, because a Buffer may view a larger ArrayBuffer that postMessage would clone
 * whole.
 */
function toProduceRecord (message: OutgoingMessage, partition: number): ProduceRecord {
  const record: { -readonly [K in keyof ProduceRecord]: ProduceRecord[K] } = {
    key: message.key === null ? null : new Uint8Array(message.key),
    value: new Uint8Array(message.value),
    headers: message.headers === undefined ? [] : headerEntries(message.headers),
    partition,
  }
  if (message.timestamp >= 0) record.timestamp = message.timestamp
  return record
}

function headerEntries (headers: OutgoingHeaders): HeaderEntry[] {
  const entries: HeaderEntry[] = []
  for (const [name, value] of Object.entries(headers)) {
    for (const item of Array.isArray(value) ? value : [value]) entries.push([name, new Uint8Array(item)])
  }
  return entries
}

function describeSendFailure (error: unknown, batch: PartitionBatch): SendFailure {
  const code = error instanceof TickbusError ? error.code : 'Error'
  const text = error instanceof Error ? error.message : String(error)
  return {
    code: ErrorCode.DELIVERY_FAILED,
    message: `Sending ${batch.messages.length} events to ${batch.topic}[${batch.partition}] failed: ${text}`,
    errorType: code,
    retriable: error instanceof TickbusError && error.retriable,
    attempts: 1,
    batchTooLarge: false,
  }
}
