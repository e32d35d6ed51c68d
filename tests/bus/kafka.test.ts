import { kafkaBackend } from 'tickbus'
import { brokerList, useTestKafka } from '../helpers/kafka.js'
import { sharedBusSuite } from './shared-suite.js'

sharedBusSuite('kafka', () => {
  const kafka = useTestKafka()
  // kafkajs may send a batch again after a retriable error on a new topic, and the suite counts
  // every copy. An idempotent producer makes the broker drop the repeated batch.
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  return {
    backend: () => kafkaBackend({ brokers: brokerList() }),
    createTopic: async (topic, partitions) => { await kafka.createTopic(topic, partitions) },
    produce: async (topic, records) => {
      await (await producer).send({
        topic,
        messages: records.map((record) => ({
          key: record.key ?? null,
          value: record.value,
          ...(record.headers === undefined ? {} : { headers: record.headers }),
          ...(record.partition === undefined ? {} : { partition: record.partition }),
          ...(record.timestamp === undefined ? {} : { timestamp: String(record.timestamp) }),
        })),
      })
    },
  }
})
