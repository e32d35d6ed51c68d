import { describe, expect, it } from 'vitest'
import { checkKafkaTopology, createBus, createTopology, defineEvent, ErrorCode, jsonDecoder, kafkaBackend, t } from 'tickbus'
import { brokerList, uniqueName, useTestKafka } from '../helpers/kafka.js'
import { startKafkaBus, tickUntil } from '../helpers/bus.js'

const Move = defineEvent('Move', {
  playerId: t.u32(),
  sequence: t.u32(),
  x: t.f64(),
})

const Chat = defineEvent('Chat', {
  playerId: t.u32(),
  text: t.string(),
})

describe('Kafka ingestion through the bus', () => {
  it('keeps per-partition order of keyed events', async () => {
    const kafka = useTestKafka()
    const topic = uniqueName('moves')
    const topology = createTopology()
      .topic(topic, { partitions: 4, replicationFactor: 1 })
      .group(uniqueName('server'), { topics: [topic], initialOffset: 'earliest' })
      .bind(topic, Move)
      .build()
    const bus = await startKafkaBus({ topology })
    const moves = bus.reader(Move)

    const producer = await kafka.producer()
    const players = 20
    const perPlayer = 50
    const messages = []
    for (let sequence = 0; sequence < perPlayer; sequence++) {
      for (let playerId = 0; playerId < players; playerId++) {
        messages.push({ key: `p${playerId}`, value: JSON.stringify({ playerId, sequence, x: sequence / 2 }) })
      }
    }
    await producer.send({ topic, messages })

    const lastSequence = new Map<number, number>()
    const partitionOfPlayer = new Map<number, number>()
    let received = 0
    let outOfOrder = 0
    await tickUntil(bus, () => {
      for (const move of moves) {
        const previous = lastSequence.get(move.playerId) ?? -1
        if (move.sequence !== previous + 1) outOfOrder++
        lastSequence.set(move.playerId, move.sequence)
        const partition = partitionOfPlayer.get(move.playerId)
        if (partition !== undefined) expect(move.partition).toBe(partition)
        partitionOfPlayer.set(move.playerId, move.partition)
        expect(move.x).toBe(move.sequence / 2)
        received++
      }
    }, () => received >= players * perPlayer, 30_000, `${players * perPlayer} moves (got ${received})`)

    expect(received).toBe(players * perPlayer)
    expect(outOfOrder).toBe(0)
    expect(new Set(partitionOfPlayer.values()).size).toBeGreaterThan(1)
  })

  it('reads several topics and several event types per topic', async () => {
    const kafka = useTestKafka()
    const movesTopic = uniqueName('moves')
    const mixedTopic = uniqueName('mixed')
    const topology = createTopology()
      .topic(movesTopic, { partitions: 2, replicationFactor: 1 })
      .topic(mixedTopic, { partitions: 2, replicationFactor: 1 })
      .group(uniqueName('server'), { topics: [movesTopic, mixedTopic], initialOffset: 'earliest' })
      .bind(movesTopic, Move)
      .bind(mixedTopic, Move, { match: { header: 'type', value: 'move' } })
      .bind(mixedTopic, Chat, { match: { header: 'type', value: 'chat' } })
      .build()
    const bus = await startKafkaBus({ topology })
    const moves = bus.reader(Move)
    const chats = bus.reader(Chat)

    const producer = await kafka.producer()
    await producer.send({ topic: movesTopic, messages: [{ value: JSON.stringify({ playerId: 1, sequence: 0, x: 1.5 }) }] })
    await producer.send({
      topic: mixedTopic,
      messages: [
        { value: JSON.stringify({ playerId: 2, sequence: 1, x: 2.5 }), headers: { type: 'move' } },
        { value: JSON.stringify({ playerId: 3, text: 'héllo 🌍' }), headers: { type: 'chat' } },
      ],
    })

    const moveTopics: string[] = []
    const texts: string[] = []
    await tickUntil(bus, () => {
      for (const move of moves) moveTopics.push(move.topic)
      for (const chat of chats) texts.push(chat.text)
    }, () => moveTopics.length >= 2 && texts.length >= 1, 30_000, 'two moves and one chat')

    expect(moveTopics.sort()).toEqual([movesTopic, mixedTopic].sort())
    expect(texts).toEqual(['héllo 🌍'])
  })

  it('fans one payload out to two event types', async () => {
    const kafka = useTestKafka()
    const topic = uniqueName('fanout')
    const Position = defineEvent('Position', { playerId: t.u32(), x: t.f64() })
    const topology = createTopology()
      .topic(topic, { partitions: 1, replicationFactor: 1 })
      .routing(topic, { dispatch: 'all' })
      .group(uniqueName('server'), { topics: [topic], initialOffset: 'earliest' })
      .bind(topic, Move)
      .bind(topic, Position)
      .build()
    const bus = await startKafkaBus({ topology })
    const moves = bus.reader(Move)
    const positions = bus.reader(Position)

    const producer = await kafka.producer()
    await producer.send({ topic, messages: [{ value: JSON.stringify({ playerId: 7, sequence: 3, x: 9.25 }) }] })

    const seen: string[] = []
    await tickUntil(bus, () => {
      for (const move of moves) seen.push(`move ${move.playerId} ${move.x} @${move.offset}`)
      for (const position of positions) seen.push(`position ${position.playerId} ${position.x} @${position.offset}`)
    }, () => seen.length >= 2, 30_000, 'both event types')

    expect(seen.sort()).toEqual(['move 7 9.25 @0', 'position 7 9.25 @0'])
  })

  it('reports decode errors with the raw payload and continues', async () => {
    const kafka = useTestKafka()
    const topic = uniqueName('errors')
    const topology = createTopology()
      .topic(topic, { partitions: 1, replicationFactor: 1 })
      .group(uniqueName('server'), { topics: [topic], initialOffset: 'earliest' })
      .bind(topic, Move, { decoder: jsonDecoder() })
      .build()
    const bus = await startKafkaBus({ topology })
    const moves = bus.reader(Move)
    const errors = bus.decodeErrors()

    const producer = await kafka.producer()
    await producer.send({
      topic,
      messages: [
        { value: JSON.stringify({ playerId: 1, sequence: 0, x: 0 }) },
        { key: 'bad', value: '{"playerId": "not a number"', headers: { origin: 'test' } },
        { value: JSON.stringify({ playerId: 2, sequence: 1, x: 1 }) },
      ],
    })

    const players: number[] = []
    const failures: Array<{ payload: string, offset: number, key: string | null, topic: string, attempts: string, origin: string | undefined }> = []
    await tickUntil(bus, () => {
      for (const move of moves) players.push(move.playerId)
      for (const error of errors) {
        failures.push({
          payload: Buffer.from(error.payload!).toString('utf8'),
          offset: error.offset,
          key: error.keyString,
          topic: error.topic,
          attempts: error.attempts,
          origin: error.headers.origin,
        })
      }
    }, () => players.length >= 2 && failures.length >= 1, 30_000, 'two moves and one decode error')

    expect(players).toEqual([1, 2])
    expect(failures).toHaveLength(1)
    expect(failures[0]!.payload).toBe('{"playerId": "not a number"')
    expect(failures[0]!.offset).toBe(1)
    expect(failures[0]!.key).toBe('bad')
    expect(failures[0]!.topic).toBe(topic)
    expect(failures[0]!.origin).toBe('test')
    expect(failures[0]!.attempts).toContain('json')
    expect(failures[0]!.attempts).toContain('Move')
  })

  it('returns nothing quickly on idle ticks', async () => {
    const topic = uniqueName('idle')
    const topology = createTopology()
      .topic(topic, { partitions: 1, replicationFactor: 1 })
      .group(uniqueName('server'), { topics: [topic], initialOffset: 'earliest' })
      .bind(topic, Move)
      .build()
    const bus = await startKafkaBus({ topology })
    const moves = bus.reader(Move)
    for (let i = 0; i < 100; i++) {
      const stats = bus.tick()
      expect(stats.drained).toBe(0)
      expect(moves.read()).toBeNull()
    }
    expect(bus.stats.idleStreak).toBe(100)
  })

  it('checks a topology without creating topics', async () => {
    const kafka = useTestKafka()
    const topic = uniqueName('checked')
    const topology = createTopology()
      .topic(topic, { partitions: 3, replicationFactor: 1 })
      .group(uniqueName('server'), { topics: [topic], initialOffset: 'earliest' })
      .bind(topic, Move)
      .build()
    const report = await checkKafkaTopology(topology, { brokers: brokerList() })
    expect(report.wouldCreate).toEqual([topic])
    expect(report.created).toEqual([])
    const admin = await kafka.admin()
    expect(await admin.listTopics()).not.toContain(topic)
  })

  it('rejects a start when a topic has another partition count', async () => {
    const kafka = useTestKafka()
    const topic = uniqueName('mismatch')
    await kafka.createTopic(topic, 2)
    const topology = createTopology()
      .topic(topic, { partitions: 4, replicationFactor: 1 })
      .group(uniqueName('server'), { topics: [topic], initialOffset: 'earliest' })
      .bind(topic, Move)
      .build()
    const started = createBus({ topology, backend: kafkaBackend({ brokers: brokerList() }) })
    await expect(started).rejects.toMatchObject({ code: ErrorCode.TOPOLOGY_MISMATCH })
    await expect(started).rejects.toThrow(/2/)
  })
})
