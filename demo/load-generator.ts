/**
 * Load generator of the demo, run as its own process by demo/server.ts: produces PlayerMoved
 * (JSON), ItemPicked (protobuf) and ItemDropped (JSON) events to several partitions, plus a few
 * malformed payloads, at a steady rate, then reports what it produced over IPC.
 *
 * Arguments: --brokers host:port --prefix NAME --rate EVENTS_PER_SECOND --duration SECONDS
 */
import { parseArgs } from 'node:util'
import { Kafka, logLevel, type Message } from 'kafkajs'
import { EVENT_TYPE_HEADER, ItemPickedProto, demoTopology } from './events.js'

/** One payload in this many is malformed on purpose. */
const MALFORMED_EVERY = 500
const PLAYERS = 64
const SEND_INTERVAL_MS = 20

export interface GeneratorReport {
  type: 'done'
  moves: number
  picked: number
  dropped: number
  malformed: number
}

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
const rate = Number(values.rate)
const durationMs = Number(values.duration) * 1000
const { moves, items } = demoTopology(values.prefix)

const kafka = new Kafka({ clientId: 'tickbus-demo-load', brokers: values.brokers.split(','), logLevel: logLevel.ERROR })
const producer = kafka.producer({ allowAutoTopicCreation: false })
await producer.connect()

const report: GeneratorReport = { type: 'done', moves: 0, picked: 0, dropped: 0, malformed: 0 }
let sequence = 0
const started = Date.now()
let sent = 0

while (Date.now() - started < durationMs) {
  const due = Math.floor(((Date.now() - started) / 1000) * rate) - sent
  const moveMessages: Message[] = []
  const itemMessages: Message[] = []
  for (let i = 0; i < due; i++) {
    sequence++
    const playerId = sequence % PLAYERS
    const key = `player-${playerId}`
    if (sequence % MALFORMED_EVERY === 0) {
      // Not JSON at all: every PlayerMoved decoder rejects it.
      moveMessages.push({ key, value: Buffer.from(`{"playerId": ${playerId}, "x": oops`) })
      report.malformed++
    } else if (sequence % 5 === 0) {
      const value = ItemPickedProto.encode(ItemPickedProto.create({ playerId, itemId: sequence % 1000, quantity: 1 + (sequence % 3), eventId: sequence })).finish()
      itemMessages.push({ key, value: Buffer.from(value), headers: { [EVENT_TYPE_HEADER]: 'item-picked' } })
      report.picked++
    } else if (sequence % 7 === 0) {
      itemMessages.push({ key, value: Buffer.from(JSON.stringify({ playerId, itemId: sequence % 1000, eventId: sequence })), headers: { [EVENT_TYPE_HEADER]: 'item-dropped' } })
      report.dropped++
    } else {
      const angle = sequence / 100
      moveMessages.push({ key, value: Buffer.from(JSON.stringify({ playerId, x: Math.cos(angle) * 100, y: Math.sin(angle) * 100, eventId: sequence })) })
      report.moves++
    }
  }
  sent += due
  const batches = []
  if (moveMessages.length > 0) batches.push({ topic: moves, messages: moveMessages })
  if (itemMessages.length > 0) batches.push({ topic: items, messages: itemMessages })
  if (batches.length > 0) await producer.sendBatch({ topicMessages: batches })
  await new Promise((resolve) => setTimeout(resolve, SEND_INTERVAL_MS))
}

await producer.disconnect()
if (process.send !== undefined) {
  process.send(report)
} else {
  process.stdout.write(`${JSON.stringify(report)}\n`)
}
