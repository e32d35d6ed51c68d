import { setTimeout as sleep } from 'node:timers/promises'

import { CompressionCodecs, CompressionTypes, type KafkaMessage } from 'kafkajs'
import protobuf from 'protobufjs'
import { createTopology, defineEvent, protobufDecoder, t, type Bus } from 'tickbus'
import { describe, expect, it, onTestFinished } from 'vitest'

import { startKafkaBus, tickUntil } from '../helpers/bus.js'
import { brokerList, uniqueName, useTestKafka, waitFor, type TestKafka } from '../helpers/kafka.js'
import { findClosedPort, startInProcessProducer, startSilentServer } from '../helpers/producer.js'
import { registerCompressionCodecs } from '../../src/backends/kafka/compression.js'

const Move = defineEvent('Move', { playerId: t.u32(), x: t.f64(), name: t.string(), avatar: t.bytes().nullable() })
const Blob = defineEvent('Blob', { text: t.string() })

/** A consumed message with the record batch fields that kafkajs decodes but does not type. */
type ConsumedMessage = KafkaMessage & {
  readonly partition: number
  readonly batchContext: { readonly firstOffset: string, readonly producerId: string }
}

/** Reads `count` messages of `topic` from the beginning with a plain kafkajs consumer. */
async function consume (kafka: TestKafka, topic: string, count: number, timeoutMs = 20_000): Promise<ConsumedMessage[]> {
  const consumer = await kafka.consumer({ groupId: uniqueName('check'), maxWaitTimeInMs: 100 })
  await consumer.subscribe({ topic, fromBeginning: true })
  const messages: ConsumedMessage[] = []
  await consumer.run({ eachMessage: async ({ message, partition }) => { messages.push({ ...message, partition } as unknown as ConsumedMessage) } })
  await waitFor(() => messages.length >= count, timeoutMs, { description: `${count} messages on ${topic} (got ${messages.length})` })
  return messages
}

function moveTopology (topic: string, partitions = 1, configs: Record<string, string> = {}) {
  return createTopology().topic(topic, { partitions, replicationFactor: 1, configs }).bind(topic, Move).build()
}

function writeMoves (bus: Bus, count: number, options: { partition?: number } = {}): void {
  const writer = bus.writer()
  for (let i = 0; i < count; i++) {
    expect(writer.write(Move, { playerId: i, x: i / 2, name: `player ${i}` }, options)).toBe(true)
  }
}

/** Number of record batches the messages arrived in. */
function countBatches (messages: readonly ConsumedMessage[]): number {
  return new Set(messages.map((message) => `${message.partition}:${message.batchContext.firstOffset}`)).size
}

describe('producer round trip', () => {
  it('sends fields, key, headers and partition', async () => {
    const kafka = useTestKafka()
    const topic = uniqueName('moves-out')
    const bus = await startKafkaBus({ topology: moveTopology(topic, 3) })
    const avatar = new Uint8Array([0, 1, 255])
    const writer = bus.writer()
    expect(writer.write(Move, { playerId: 7, x: 1.25, name: 'Zoë', avatar }, { key: 'player-7', headers: { origin: 'tick', raw: new Uint8Array([9]) }, partition: 2, timestamp: 1_700_000_000_000 })).toBe(true)
    expect(writer.write(Move, { playerId: 8, x: -3, name: 'Bo' }, { key: new Uint8Array([1, 2]) })).toBe(true)
    expect(await bus.flush(10_000)).toBe(true)

    const messages = await consume(kafka, topic, 2)
    const first = messages.find((message) => message.key?.toString() === 'player-7')!
    expect(JSON.parse(first.value!.toString())).toEqual({ playerId: 7, x: 1.25, name: 'Zoë', avatar: 'AAH/' })
    expect(first.partition).toBe(2)
    expect(first.timestamp).toBe('1700000000000')
    expect(first.headers?.origin?.toString()).toBe('tick')
    expect([...(first.headers?.raw as Buffer)]).toEqual([9])
    const second = messages.find((message) => message.key?.equals(Buffer.from([1, 2])))!
    expect(JSON.parse(second.value!.toString())).toEqual({ playerId: 8, x: -3, name: 'Bo', avatar: null })
    expect(bus.producerStatistics()).toMatchObject({ written: 2, delivered: 2, failed: 0, pending: 0, rejected: 0 })
  })

  it('reads its own events back through the bus', async () => {
    const topic = uniqueName('echo')
    const topology = createTopology()
      .topic(topic, { partitions: 2, replicationFactor: 1 })
      .group(uniqueName('echo-group'), { topics: [topic], initialOffset: 'earliest' })
      .bind(topic, Move)
      .build()
    const bus = await startKafkaBus({ topology })
    const moves = bus.reader(Move)
    writeMoves(bus, 20)

    const seen = new Map<number, number>()
    await tickUntil(bus, () => {
      for (const move of moves) seen.set(move.playerId, move.x)
    }, () => seen.size >= 20, 30_000, 'the 20 written moves')
    for (let i = 0; i < 20; i++) expect(seen.get(i)).toBe(i / 2)
  })

  it('encodes with the binding protobuf type and its match header', async () => {
    const kafka = useTestKafka()
    const topic = uniqueName('proto-out')
    const MoveProto = protobuf.parse('syntax = "proto3"; package game; message Move { uint32 player_id = 1; double x = 2; string name = 3; optional bytes avatar = 4; }').root.lookupType('game.Move')
    const topology = createTopology()
      .topic(topic, { partitions: 1, replicationFactor: 1 })
      .bind(topic, Move, { decoder: protobufDecoder(MoveProto), match: { header: 'type', value: 'move' } })
      .build()
    const bus = await startKafkaBus({ topology })
    bus.writer().write(Move, { playerId: 3, x: 0.5, name: 'pb' })
    expect(await bus.flush(10_000)).toBe(true)

    const [message] = await consume(kafka, topic, 1)
    expect(MoveProto.toObject(MoveProto.decode(message!.value!))).toEqual({ playerId: 3, x: 0.5, name: 'pb' })
    expect(message!.headers?.type?.toString()).toBe('move')
  })
})

describe('producer options', () => {
  it('retries a deleted topic, then reports through the bus', async () => {
    const kafka = useTestKafka()
    const topic = uniqueName('deleted')
    const bus = await startKafkaBus({
      topology: moveTopology(topic),
      kafka: { producer: { acks: 'all', retries: 2, retryBackoffMs: 20, requestTimeoutMs: 5000 } },
    })
    const admin = await kafka.admin()
    await admin.deleteTopics({ topics: [topic] })
    await waitFor(async () => !(await admin.listTopics()).includes(topic), 10_000, { description: `deletion of ${topic}` })

    const failures = bus.deliveryFailures()
    bus.writer().write(Move, { playerId: 1, x: 2, name: 'lost' }, { key: 'k1', headers: { trace: 'abc' } })
    expect(await bus.flush(30_000)).toBe(true)

    const copied: Array<Record<string, unknown>> = []
    await tickUntil(bus, () => {
      for (const failure of failures) {
        expect(failure.eventType).toBe('Move')
        expect(failure.event.name).toBe('lost')
        expect(failure.keyString).toBe('k1')
        copied.push(failure.toObject())
      }
    }, () => copied.length > 0, 10_000, 'the delivery failure')
    expect(copied).toHaveLength(1)
    expect(copied[0]).toMatchObject({
      eventType: 'Move',
      topic,
      partition: 0,
      sequence: 0,
      headers: { trace: 'abc' },
      event: { playerId: 1, x: 2, name: 'lost', avatar: null },
      attempts: 3,
      error: expect.objectContaining({ code: 'TICKBUS_DELIVERY_FAILED', retriable: true }),
    })
    expect(['UNKNOWN_TOPIC_OR_PARTITION', 'NOT_LEADER_FOR_PARTITION', 'LEADER_NOT_AVAILABLE']).toContain(copied[0]!.errorType)
    expect(bus.producerStatistics()).toMatchObject({ failed: 1, delivered: 0, retries: 2, pending: 0 })
  })

  it('acks 1 reports an oversized message and acks 0 does not', async () => {
    const kafka = useTestKafka()
    const leaderTopic = uniqueName('small-leader')
    const noAckTopic = uniqueName('small-noack')
    const big = { text: 'x'.repeat(8000) }
    const topologyOf = (topic: string) => createTopology().topic(topic, { partitions: 1, replicationFactor: 1, configs: { 'max.message.bytes': '2048' } }).bind(topic, Blob).build()

    const leader = await startKafkaBus({ topology: topologyOf(leaderTopic), kafka: { producer: { acks: 1 } } })
    const failures = leader.deliveryFailures()
    leader.writer().write(Blob, big)
    expect(await leader.flush(10_000)).toBe(true)
    leader.tick()
    const reported = [...failures].map((failure) => failure.toObject())
    expect(reported).toHaveLength(1)
    expect(reported[0]).toMatchObject({ errorType: 'MESSAGE_TOO_LARGE', attempts: 1, error: expect.objectContaining({ retriable: false }) })
    expect(leader.producerStatistics()).toMatchObject({ failed: 1, retries: 0 })

    const noAck = await startKafkaBus({ topology: topologyOf(noAckTopic), kafka: { producer: { acks: 0 } } })
    noAck.writer().write(Blob, big)
    expect(await noAck.flush(10_000)).toBe(true)
    expect(noAck.producerStatistics()).toMatchObject({ delivered: 1, failed: 0 })
    const admin = await kafka.admin()
    const offsets = await admin.fetchTopicOffsets(noAckTopic)
    expect(offsets[0]?.high).toBe('0')
  })

  it('reports the oversized message and delivers its batch mates', async () => {
    const kafka = useTestKafka()
    const topic = uniqueName('split')
    const topology = createTopology().topic(topic, { partitions: 1, replicationFactor: 1, configs: { 'max.message.bytes': '4096' } }).bind(topic, Blob).build()
    const bus = await startKafkaBus({ topology, kafka: { producer: { acks: 1, lingerMs: 200 } } })
    const failures = bus.deliveryFailures()
    const writer = bus.writer()
    writer.write(Blob, { text: 'small-1' })
    writer.write(Blob, { text: 'y'.repeat(10_000) })
    writer.write(Blob, { text: 'small-2' })
    expect(await bus.flush(10_000)).toBe(true)

    bus.tick()
    const reported = [...failures].map((failure) => failure.toObject())
    expect(reported).toHaveLength(1)
    expect(reported[0]).toMatchObject({ sequence: 1, errorType: 'MESSAGE_TOO_LARGE', error: expect.objectContaining({ retriable: false }) })
    const messages = await consume(kafka, topic, 2)
    expect(messages.map((message) => JSON.parse(message.value!.toString()).text)).toEqual(['small-1', 'small-2'])
  })

  it('compresses record batches with gzip and snappy', async () => {
    const kafka = useTestKafka()
    // The consumer in this thread decompresses every compressed record batch it fetches. Counting
    // those calls per codec shows the codec in the batch attributes that the broker stored.
    registerCompressionCodecs()
    const decompressed = { gzip: 0, snappy: 0 }
    for (const [name, type] of [['gzip', CompressionTypes.GZIP], ['snappy', CompressionTypes.Snappy]] as const) {
      const original = CompressionCodecs[type]
      CompressionCodecs[type] = () => {
        const codec = original()
        return { compress: codec.compress, decompress: async (buffer: Buffer) => { decompressed[name]++; return await codec.decompress(buffer) } }
      }
      onTestFinished(() => { CompressionCodecs[type] = original })
    }

    for (const compression of ['gzip', 'snappy', 'none'] as const) {
      const topic = uniqueName(`compressed-${compression}`)
      const bus = await startKafkaBus({ topology: moveTopology(topic), kafka: { producer: { compression } } })
      writeMoves(bus, 10)
      expect(await bus.flush(10_000)).toBe(true)
      const before = { ...decompressed }
      const messages = await consume(kafka, topic, 10)

      expect(messages.map((message) => JSON.parse(message.value!.toString()).playerId), compression).toEqual([...Array(10).keys()])
      expect(decompressed.gzip > before.gzip, `gzip batches for ${compression}`).toBe(compression === 'gzip')
      expect(decompressed.snappy > before.snappy, `snappy batches for ${compression}`).toBe(compression === 'snappy')
    }
  })

  it('idempotent producer stamps a producer id on its batches', async () => {
    const kafka = useTestKafka()
    const idempotentTopic = uniqueName('idempotent')
    const plainTopic = uniqueName('not-idempotent')
    const idempotent = await startKafkaBus({ topology: moveTopology(idempotentTopic), kafka: { producer: { idempotent: true } } })
    const plain = await startKafkaBus({ topology: moveTopology(plainTopic), kafka: { producer: { idempotent: false } } })
    writeMoves(idempotent, 5)
    writeMoves(plain, 5)
    expect(await idempotent.flush(10_000)).toBe(true)
    expect(await plain.flush(10_000)).toBe(true)

    const withId = await consume(kafka, idempotentTopic, 5)
    expect(new Set(withId.map((message) => message.batchContext.producerId)).has('-1')).toBe(false)
    const withoutId = await consume(kafka, plainTopic, 5)
    expect(withoutId.every((message) => message.batchContext.producerId === '-1')).toBe(true)
  })

  it('lingerMs holds a partition batch back', async () => {
    const kafka = useTestKafka()
    const topic = uniqueName('linger')
    const bus = await startKafkaBus({ topology: moveTopology(topic), kafka: { producer: { lingerMs: 1500, batchSizeBytes: 1024 * 1024 } } })
    writeMoves(bus, 20)
    // The next tick publishes what this tick wrote.
    bus.tick()
    await sleep(500)
    expect(bus.producerStatistics().delivered).toBe(0)
    await waitFor(() => bus.producerStatistics().delivered === 20, 10_000, { description: '20 delivered events' })

    const messages = await consume(kafka, topic, 20)
    expect(countBatches(messages)).toBe(1)
  })

  it('batchSizeBytes sends full batches before lingerMs', async () => {
    const kafka = useTestKafka()
    const topic = uniqueName('batch-size')
    const bus = await startKafkaBus({ topology: moveTopology(topic), kafka: { producer: { lingerMs: 60_000, batchSizeBytes: 200 } } })
    writeMoves(bus, 20)
    bus.tick()
    // Each JSON value is about 45 bytes, so every fifth event closes a batch of 200 bytes or more.
    await waitFor(() => bus.producerStatistics().delivered >= 15, 10_000, { description: 'the full batches' })
    expect(bus.producerStatistics().sends).toBeGreaterThanOrEqual(3)
    expect(await bus.flush(10_000)).toBe(true)

    const messages = await consume(kafka, topic, 20)
    expect(countBatches(messages)).toBeGreaterThanOrEqual(4)
    expect(messages.map((message) => JSON.parse(message.value!.toString()).playerId)).toEqual([...Array(20).keys()])
  })

  it('maxInFlightBytes pushes back into a full ring', async () => {
    const kafka = useTestKafka()
    const topic = uniqueName('pressure')
    const bus = await startKafkaBus({
      topology: moveTopology(topic),
      outbound: { ringCapacityBytes: 1024 },
      kafka: { producer: { maxInFlightBytes: 1, lingerMs: 60_000 } },
    })
    const writer = bus.writer()
    let accepted = 0
    for (let i = 0; i < 100; i++) if (writer.write(Move, { playerId: i, x: 0, name: 'pressure' })) accepted++
    expect(accepted).toBeLessThan(100)
    expect(writer.rejected).toBe(100 - accepted)

    bus.tick()
    const ringFull = bus.errors.filter((error) => error.code === 'TICKBUS_RING_FULL')
    expect(ringFull).toHaveLength(1)
    expect(ringFull[0]!.message).toContain(`${100 - accepted} event(s) were not written`)
    expect(await bus.flush(20_000)).toBe(true)
    expect(bus.producerStatistics()).toMatchObject({ delivered: accepted, rejected: 100 - accepted })
    expect(await consume(kafka, topic, accepted)).toHaveLength(accepted)
  })

  it('requestTimeoutMs bounds the wait for a silent broker', async () => {
    const silent = await startSilentServer()
    const topic = uniqueName('silent')
    const producer = startInProcessProducer({
      topology: moveTopology(topic),
      kafka: { brokers: [silent], retries: 0, producer: { requestTimeoutMs: 1000, retries: 0 } },
    })
    const started = performance.now()
    producer.channel.writer.write(Move, { playerId: 1, x: 0, name: 'silent' })
    expect(await producer.channel.flush(15_000)).toBe(true)
    const elapsedMs = performance.now() - started

    const failures = producer.tick()
    expect(failures).toHaveLength(1)
    expect(failures[0]).toMatchObject({ errorType: 'KafkaJSRequestTimeoutError', error: expect.objectContaining({ code: 'TICKBUS_BROKER_UNREACHABLE', retriable: true }) })
    expect(elapsedMs).toBeGreaterThanOrEqual(900)
    expect(elapsedMs).toBeLessThan(10_000)
  })
})

describe('delivery failures', () => {
  it('reports events for an unreachable broker', async () => {
    const closed = await findClosedPort()
    const topic = uniqueName('unreachable')
    const producer = startInProcessProducer({
      topology: moveTopology(topic),
      kafka: { brokers: [closed], retries: 0, connectionTimeoutMs: 500, producer: { retries: 1, retryBackoffMs: 20 } },
    })
    for (let i = 0; i < 5; i++) producer.channel.writer.write(Move, { playerId: i, x: 0, name: `n${i}` }, { key: `k${i}` })
    expect(await producer.channel.flush(20_000)).toBe(true)

    const failures = producer.tick()
    expect(failures.map((failure) => failure.event.playerId).sort()).toEqual([0, 1, 2, 3, 4])
    for (const failure of failures) {
      expect(failure).toMatchObject({ eventType: 'Move', topic, errorType: 'KafkaJSConnectionError', attempts: 2 })
      expect(failure.error).toMatchObject({ code: 'TICKBUS_BROKER_UNREACHABLE', retriable: true })
      expect(Buffer.from(failure.key!).toString()).toBe(`k${failure.event.playerId as number}`)
    }
    expect(producer.channel.statistics()).toMatchObject({ failed: 5, delivered: 0, retries: 1, pending: 0 })
  })

  it('reports events for a missing topic', async () => {
    const topic = uniqueName('never-created')
    const producer = startInProcessProducer({
      topology: moveTopology(topic),
      kafka: { brokers: brokerList(), producer: { retries: 1, retryBackoffMs: 20, requestTimeoutMs: 5000 } },
    })
    producer.channel.writer.write(Move, { playerId: 1, x: 0, name: 'nowhere' })
    expect(await producer.channel.flush(30_000)).toBe(true)

    const failures = producer.tick()
    expect(failures).toHaveLength(1)
    expect(failures[0]).toMatchObject({ topic, errorType: 'UNKNOWN_TOPIC_OR_PARTITION', error: expect.objectContaining({ retriable: true }) })
  })

  it('stop reports every event it could not deliver', async () => {
    const closed = await findClosedPort()
    const producer = startInProcessProducer({
      topology: moveTopology(uniqueName('stop-unreachable')),
      kafka: { brokers: [closed], retries: 0, connectionTimeoutMs: 200, producer: { retries: 1000, retryBackoffMs: 50 } },
    })
    for (let i = 0; i < 7; i++) producer.channel.writer.write(Move, { playerId: i, x: 0, name: 'stuck' })
    const report = await producer.stop(500)

    expect(report.delivered).toBe(0)
    expect(report.failed + report.undelivered).toBe(7)
    expect(report.undelivered).toBe(7)
    expect(() => producer.channel.writer.write(Move, { playerId: 1, x: 0, name: '' })).toThrow(/closed/)
  })
})

describe('flush and stop', () => {
  it('flush sends without waiting for lingerMs', async () => {
    const topic = uniqueName('flush')
    const bus = await startKafkaBus({ topology: moveTopology(topic, 2), kafka: { producer: { lingerMs: 60_000 } } })
    writeMoves(bus, 30)
    const started = performance.now()
    expect(await bus.flush(10_000)).toBe(true)
    expect(performance.now() - started).toBeLessThan(10_000)
    expect(bus.producerStatistics()).toMatchObject({ delivered: 30, pending: 0 })
  })

  it('wakes an idle producer without a tick', async () => {
    const topic = uniqueName('wake')
    const bus = await startKafkaBus({ topology: moveTopology(topic), kafka: { producer: { lingerMs: 0 } } })
    // A write while the worker runs waits for the next tick, so a first event goes out with one.
    bus.writer().write(Move, { playerId: 0, x: 0, name: 'first' })
    bus.tick()
    await waitFor(() => bus.producerStatistics().delivered === 1, 10_000, { description: 'the first event delivered' })

    // The worker sleeps idle after that send, so this write publishes and wakes it at once.
    bus.writer().write(Move, { playerId: 1, x: 0, name: 'alone' })
    await waitFor(() => bus.producerStatistics().delivered === 2, 10_000, { description: 'the lone event delivered' })
  })

  it('flush resolves false on timeout', async () => {
    const closed = await findClosedPort()
    const producer = startInProcessProducer({
      topology: moveTopology(uniqueName('flush-timeout')),
      kafka: { brokers: [closed], retries: 0, connectionTimeoutMs: 200, producer: { retries: 1000, retryBackoffMs: 50 } },
    })
    producer.channel.writer.write(Move, { playerId: 1, x: 0, name: 'stuck' })
    expect(await producer.channel.flush(300)).toBe(false)
    expect(producer.channel.statistics().pending).toBe(1)
  })

  it('stop delivers events still lingering', async () => {
    const kafka = useTestKafka()
    const topic = uniqueName('stop-flush')
    const bus = await startKafkaBus({ topology: moveTopology(topic, 2), kafka: { producer: { lingerMs: 60_000 } } })
    writeMoves(bus, 40)
    const report = await bus.stop(10_000)

    expect(report.producer).toMatchObject({ delivered: 40, failed: 0, undelivered: 0, failures: [], timedOut: false, error: null })
    expect(await consume(kafka, topic, 40)).toHaveLength(40)
  })
})
