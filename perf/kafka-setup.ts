import { Kafka, logLevel, Partitioners, type Admin, type Message } from 'kafkajs'
import { createMessage, type DataSetKind } from './data-sets.js'

/**
 * Bytes of message values per partition in one sendBatch call. kafkajs 2.2 produced fastest with
 * about 1 MB per call on a 2-core machine (60k small messages/s, against 23k/s at 6 MB per call).
 */
const BATCH_BYTES_PER_PARTITION = 128 * 1024
/** sendBatch calls in flight at once while pre-producing. */
const SEND_CONCURRENCY = 4

export function createAdminKafka (brokers: readonly string[]): Kafka {
  return new Kafka({ clientId: 'tickbus-perf', brokers: [...brokers], logLevel: logLevel.ERROR })
}

/** Creates `topic` with `partitions` partitions and waits for its leaders. */
export async function createTopic (admin: Admin, topic: string, partitions: number): Promise<void> {
  const created = await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true })
  if (!created) throw new Error(`Cannot create topic ${topic}: it exists already. Topic names of a run are unique, so another run may be using the same prefix.`)
}

/** Outcome of pre-producing a data set. */
export interface PreProduceReport {
  readonly events: number
  readonly payloadBytes: number
  /** Events per second, from the first send to the last acknowledgement. */
  readonly ratePerSec: number
}

/**
 * Writes `events` messages of a data set into `topic` with a plain kafkajs producer on this
 * thread: sendBatch calls of about BATCH_BYTES_PER_PARTITION per partition, SEND_CONCURRENCY in
 * flight. Every message carries the sentAt of its batch. `onProgress` gets the count sent so far.
 */
export async function preProduce (kafka: Kafka, kind: DataSetKind, topic: string, partitions: number, events: number, onProgress: (sent: number) => void): Promise<PreProduceReport> {
  const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  try {
    const sample = createMessage(kind, 0, partitions, 0).value as Buffer
    const perBatch = Math.max(partitions, Math.floor((BATCH_BYTES_PER_PARTITION * partitions) / Math.max(1, sample.length + 32)))
    let next = 0
    let acknowledged = 0
    let payloadBytes = 0
    const started = performance.now()

    const sendNext = async (): Promise<void> => {
      while (next < events) {
        const first = next
        const count = Math.min(perBatch, events - first)
        next += count
        const sentAt = performance.timeOrigin + performance.now()
        const messages: Message[] = new Array(count)
        for (let i = 0; i < count; i++) {
          const message = createMessage(kind, first + i, partitions, sentAt)
          payloadBytes += (message.value as Buffer).length
          messages[i] = message
        }
        await producer.sendBatch({ topicMessages: [{ topic, messages }] })
        acknowledged += count
        onProgress(acknowledged)
      }
    }
    await Promise.all(Array.from({ length: SEND_CONCURRENCY }, sendNext))
    const seconds = (performance.now() - started) / 1000
    return { events, payloadBytes: Math.round(payloadBytes / events), ratePerSec: events / seconds }
  } finally {
    await producer.disconnect()
  }
}
