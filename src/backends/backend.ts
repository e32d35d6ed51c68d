import type { TransferListItem } from 'node:worker_threads'
import type { Logger } from '../logger.js'
import type { Topology } from '../topology/types.js'

/**
 * What the bus needs from a broker. A backend has a main-thread half (this object) and a worker
 * half (the module named by `workerModule`). The bus creates the rings and worker threads and
 * runs each consumer shard as a task that imports `workerModule` and calls its
 * `runConsumerShard(task)` export with a ConsumerShardTask; the worker half fetches records,
 * hands each to a ShardRuntime (which decodes, writes the ring and tracks released offsets) and
 * commits what `ShardRuntime.takeCommittable()` returns.
 */
export interface Backend {
  /** Short name for logs and metrics, such as `kafka`. */
  readonly name: string
  /** `file:` URL of the worker half, imported by every consumer and producer task. */
  readonly workerModule: string
  /** Structured-clone-safe settings handed to the worker half. */
  readonly workerConfig: unknown
  /**
   * Applies the topology (creates missing topics, checks existing ones) on the main thread before
   * any worker starts. Rejects with a TickbusError when the broker cannot serve it.
   */
  start (topology: Topology, logger: Logger): Promise<BackendStartReport>
  /** Releases what start() acquired. */
  stop (): Promise<void>
  /**
   * Optional. Called on the main thread before each worker task starts, restarts included. What
   * it returns replaces `workerConfig` as that task's `backendConfig`, and its transfer list is
   * transferred with the task. For a backend whose worker half needs something of its own that
   * structured clone cannot copy, such as a MessagePort to a broker on the main thread.
   */
  taskResources? (target: WorkerTaskTarget): WorkerTaskResources
}

/** The worker task that Backend.taskResources() prepares data for. */
export type WorkerTaskTarget =
  | { readonly kind: 'consumer-shard', readonly shard: number, readonly groupId: string, readonly attempt: number }
  | { readonly kind: 'producer' }

/** Per-task data of a backend's worker half. */
export interface WorkerTaskResources {
  /** Structured-clone-safe data the task receives as its `backendConfig`. */
  readonly config: unknown
  /** Objects inside `config` to transfer instead of clone, such as MessagePorts. */
  readonly transferList: readonly TransferListItem[]
}

/** Outcome of Backend.start(). */
export interface BackendStartReport {
  /** Topics the backend created. */
  readonly created: readonly string[]
  /** Problems that did not stop the start, such as a partition count that differs from the topology. */
  readonly warnings: readonly string[]
}
