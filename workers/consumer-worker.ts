/**
 * piscina entry point of every long-lived tickbus worker task. It imports the backend's worker
 * half named in the task and runs the task until the bus stops it; all logic lives in src/ so
 * that it runs in-process under tests too.
 */
import type { ConsumerShardTask, ShardStopReport } from '../src/bus/messages.js'

interface ConsumerWorkerModule {
  runConsumerShard (task: ConsumerShardTask): Promise<ShardStopReport>
}

export default async function runTask (task: ConsumerShardTask): Promise<ShardStopReport> {
  const backend = await import(task.backendModule) as ConsumerWorkerModule
  return await backend.runConsumerShard(task)
}
