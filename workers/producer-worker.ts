/**
 * piscina entry point of the producer task. It imports the backend's worker half named in the
 * task and runs its `runProducer` until the bus stops it. All logic lives in src/, so that it
 * runs in-process under tests too.
 */
import type { ProducerStopReport, ProducerTask } from '../src/bus/messages.js'

interface ProducerWorkerModule {
  runProducer (task: ProducerTask): Promise<ProducerStopReport>
}

export default async function runProducerTask (task: ProducerTask): Promise<ProducerStopReport> {
  const backend = await import(task.backendModule) as ProducerWorkerModule
  return await backend.runProducer(task)
}
