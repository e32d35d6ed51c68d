import { Kafka, type Admin } from 'kafkajs'
import { ErrorCode, TickbusError } from '../../errors.js'
import { kafkajsLogCreator, noopLogger, type Logger } from '../../logger.js'
import type { Topology } from '../../topology/types.js'
import type { Backend, BackendStartReport } from '../backend.js'
import { applyTopology, type ApplyTopologyReport } from './apply-topology.js'
import { resolveKafkaOptions, type KafkaBackendOptions, type KafkaWorkerConfig } from './options.js'

/**
 * Creates the Kafka backend: kafkajs consumers in worker threads, topics created at start from
 * the topology. Validates every option now and throws INVALID_OPTION naming the first bad one.
 */
export function kafkaBackend (options: KafkaBackendOptions): Backend {
  const resolved = resolveKafkaOptions(options)
  return new KafkaBackend(resolved.worker, resolved.onPartitionMismatch)
}

/**
 * Checks a topology against a Kafka cluster without creating or changing anything: the broker
 * validates each missing topic's creation (Kafka's CreateTopics validate-only flag) and existing
 * topics are compared with their declarations. Resolves with the report; rejects with
 * TOPOLOGY_MISMATCH (unless `onPartitionMismatch` is `warn`) or the broker's error.
 */
export async function checkKafkaTopology (topology: Topology, options: KafkaBackendOptions & { logger?: Logger }): Promise<ApplyTopologyReport> {
  const { logger = noopLogger, ...kafkaOptions } = options
  const resolved = resolveKafkaOptions(kafkaOptions)
  const kafka = new Kafka({ ...resolved.worker.client, logCreator: kafkajsLogCreator(logger) })
  const admin = kafka.admin()
  await admin.connect()
  try {
    return await applyTopology(admin, topology, { onPartitionMismatch: resolved.onPartitionMismatch, validateOnly: true, logger })
  } finally {
    await admin.disconnect()
  }
}

class KafkaBackend implements Backend {
  readonly name = 'kafka'
  readonly workerModule = new URL('./worker.js', import.meta.url).href
  readonly workerConfig: KafkaWorkerConfig
  readonly #onPartitionMismatch: 'error' | 'warn'
  #admin: Admin | undefined

  constructor (config: KafkaWorkerConfig, onPartitionMismatch: 'error' | 'warn') {
    this.workerConfig = config
    this.#onPartitionMismatch = onPartitionMismatch
  }

  async start (topology: Topology, logger: Logger): Promise<BackendStartReport> {
    const kafka = new Kafka({ ...this.workerConfig.client, logCreator: kafkajsLogCreator(logger) })
    const admin = kafka.admin()
    this.#admin = admin
    try {
      await admin.connect()
    } catch (error) {
      await this.stop()
      throw new TickbusError(
        ErrorCode.BROKER_UNREACHABLE,
        `Cannot connect to Kafka at ${this.workerConfig.client.brokers.join(',')}: ${error instanceof Error ? error.message : String(error)}. ` +
        'Check that the broker runs and that kafka.brokers lists its address.',
        { retriable: true, cause: error },
      )
    }
    try {
      const report = await applyTopology(admin, topology, {
        onPartitionMismatch: this.#onPartitionMismatch,
        logger,
      })
      return { created: report.created, warnings: report.warnings }
    } catch (error) {
      await this.stop()
      throw error
    }
  }

  async stop (): Promise<void> {
    const admin = this.#admin
    this.#admin = undefined
    await admin?.disconnect()
  }
}
