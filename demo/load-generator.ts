/**
 * Load generator of the demo, run as its own process by demo/server.ts when the demo uses Kafka:
 * produces the demo's events with kafkajs (see load.ts), then reports what it produced over IPC.
 *
 * Arguments: --brokers host:port --prefix NAME --rate EVENTS_PER_SECOND --duration SECONDS
 */
import { parseArgs } from 'node:util'
import { Kafka, logLevel } from 'kafkajs'
import { demoTopology } from './events.js'
import { generateLoad } from './load.js'

const { values } = parseArgs({
  options: {
    brokers: { type: 'string' },
    prefix: { type: 'string' },
    rate: { type: 'string', default: '5000' },
    duration: { type: 'string', default: '10' },
  },
})
if (values.brokers === undefined || values.prefix === undefined) {
  throw new Error('Missing --brokers or --prefix: run the load generator through `npm run demo`.')
}
const { moves, items } = demoTopology(values.prefix)

// kafkajs logs retried requests at error level, such as InitProducerId while a new broker's
// coordinator is still loading. A send that finally fails rejects sendBatch() instead, which ends
// this process with a non-zero exit code that the demo server prints.
const kafka = new Kafka({ clientId: 'tickbus-demo-load', brokers: values.brokers.split(','), logLevel: logLevel.NOTHING })
const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 })
await producer.connect()
let interrupted = false
process.once('SIGINT', () => { interrupted = true })

const report = await generateLoad({
  moves,
  items,
  rate: Number(values.rate),
  durationMs: Number(values.duration) * 1000,
  stopped: () => interrupted,
  send: async (batches) => {
    await producer.sendBatch({ topicMessages: batches.map((batch) => ({ topic: batch.topic, messages: batch.records })) })
  },
})

await producer.disconnect()
if (process.send !== undefined) {
  process.send(report)
} else {
  process.stdout.write(`${JSON.stringify(report)}\n`)
}
