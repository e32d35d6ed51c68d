/**
 * Produces a data set at a fixed rate, in its own process so that producing does not run on the
 * measured consumer's main thread. Forked by run-performance-tests.ts: receives a RateProducerJob
 * over IPC, sends exactly `events` messages at `eventsPerSec`, each stamped with its sentAt when
 * its batch is built, then reports 'done' and exits.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { Kafka, logLevel, Partitioners, type Message } from 'kafkajs'
import { createMessage } from './data-sets.js'
import type { RateProducerJob, RateProducerMessage } from './protocol.js'

/** Interval between batches in ms. Each batch contains the events due since the previous one. */
const SEND_INTERVAL_MS = 5

function send (message: RateProducerMessage): void {
  process.send?.(message)
}

async function run (job: RateProducerJob): Promise<void> {
  const kafka = new Kafka({ clientId: `perf-rate-producer-${process.pid}`, brokers: [...job.brokers], logLevel: logLevel.ERROR })
  const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  try {
    const started = performance.now()
    let sent = 0
    let lastProgress = started
    while (sent < job.events) {
      const elapsedMs = performance.now() - started
      const due = Math.min(job.events, Math.floor((elapsedMs / 1000) * job.eventsPerSec)) - sent
      if (due > 0) {
        const sentAt = performance.timeOrigin + performance.now()
        const messages: Message[] = new Array(due)
        for (let i = 0; i < due; i++) messages[i] = createMessage(job.dataSet, sent + i, job.partitions, sentAt)
        await producer.send({ topic: job.topic, messages })
        sent += due
      }
      if (performance.now() - lastProgress >= 250) {
        lastProgress = performance.now()
        send({ type: 'progress', done: sent, total: job.events })
      }
      await sleep(SEND_INTERVAL_MS)
    }
    send({ type: 'done', sent, ratePerSec: sent / ((performance.now() - started) / 1000) })
  } finally {
    await producer.disconnect()
  }
}

process.once('message', (job: RateProducerJob) => {
  run(job).catch((error: unknown) => {
    send({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) })
    process.exitCode = 1
  }).finally(() => { process.disconnect?.() })
})
