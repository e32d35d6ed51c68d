import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createTopology, customDecoder, defineEvent, protobufDecoder, t, TickbusError, ErrorCode } from 'tickbus'
import { bootstrapServers, uniqueName, useTestKafka, waitFor } from '../helpers/kafka.js'
import { startKafkaBus, tickUntil } from '../helpers/bus.js'

const Ping = defineEvent('Ping', { id: t.u32() })

function pingTopology (topic: string, groups: Array<{ groupId: string, initialOffset: 'earliest' | 'latest' }>, partitions = 3) {
  let builder = createTopology().topic(topic, { partitions, replicationFactor: 1 }).bind(topic, Ping)
  for (const group of groups) builder = builder.group(group.groupId, { topics: [topic], initialOffset: group.initialOffset })
  return builder.build()
}

async function producePings (topic: string, from: number, count: number): Promise<void> {
  const kafka = useTestKafka()
  const producer = await kafka.producer()
  const messages = []
  for (let id = from; id < from + count; id++) messages.push({ key: `k${id % 17}`, value: JSON.stringify({ id }) })
  await producer.send({ topic, messages })
}

describe('consumer groups and offsets', () => {
  it('gives every event to each of two groups', async () => {
    const topic = uniqueName('pings')
    const first = uniqueName('first')
    const second = uniqueName('second')
    const bus = await startKafkaBus({ topology: pingTopology(topic, [{ groupId: first, initialOffset: 'earliest' }, { groupId: second, initialOffset: 'earliest' }]) })
    const firstReader = bus.reader(Ping, { groupId: first })
    const secondReader = bus.reader(Ping, { groupId: second })
    await producePings(topic, 0, 200)

    const seen = { first: new Set<number>(), second: new Set<number>() }
    await tickUntil(bus, () => {
      for (const ping of firstReader) {
        expect(ping.groupId).toBe(first)
        seen.first.add(ping.id)
      }
      for (const ping of secondReader) {
        expect(ping.groupId).toBe(second)
        seen.second.add(ping.id)
      }
    }, () => seen.first.size === 200 && seen.second.size === 200, 30_000, '200 pings in each group')
  })

  it('starts a new group at earliest or latest', async () => {
    const topic = uniqueName('pings')
    const kafka = useTestKafka()
    await kafka.createTopic(topic, 3)
    await producePings(topic, 0, 50)

    const earliestGroup = uniqueName('earliest')
    const latestGroup = uniqueName('latest')
    const bus = await startKafkaBus({ topology: pingTopology(topic, [{ groupId: earliestGroup, initialOffset: 'earliest' }, { groupId: latestGroup, initialOffset: 'latest' }]) })
    const earliest = bus.reader(Ping, { groupId: earliestGroup })
    const latest = bus.reader(Ping, { groupId: latestGroup })

    // The latest group starts at the end once it has its partitions; wait for both groups.
    const earliestIds = new Set<number>()
    const latestIds = new Set<number>()
    const collect = (): void => {
      for (const ping of earliest) earliestIds.add(ping.id)
      for (const ping of latest) latestIds.add(ping.id)
    }
    await tickUntil(bus, collect, () => earliestIds.size === 50, 30_000, 'the backlog in the earliest group')

    // The latest group reads only what is produced after its consumer resolved the end offsets,
    // which happens a moment after it joins: probe until one record arrives there.
    let probe = 1000
    const deadline = Date.now() + 30_000
    while (latestIds.size === 0 && Date.now() < deadline) {
      await producePings(topic, probe++, 1)
      await tickUntil(bus, collect, () => latestIds.size > 0, 300, 'a probe').catch(() => {})
    }
    expect(latestIds.size).toBeGreaterThan(0)
    expect([...latestIds].every((id) => id >= 1000)).toBe(true)
    expect([...earliestIds].filter((id) => id < 50)).toHaveLength(50)
  })

  it('continues after the last released event when a bus restarts in its group', async () => {
    const topic = uniqueName('pings')
    const groupId = uniqueName('restart')
    const topology = pingTopology(topic, [{ groupId, initialOffset: 'earliest' }])
    const first = await startKafkaBus({ topology })
    const firstReader = first.reader(Ping)
    await producePings(topic, 0, 100)
    const seenFirst = new Set<number>()
    await tickUntil(first, () => { for (const ping of firstReader) seenFirst.add(ping.id) }, () => seenFirst.size === 100, 30_000, '100 pings')
    const report = await first.stop()
    expect(report.timedOutShards).toEqual([])
    expect(report.errors).toEqual([])

    await producePings(topic, 100, 50)
    const second = await startKafkaBus({ topology })
    const secondReader = second.reader(Ping)
    const seenSecond: number[] = []
    await tickUntil(second, () => { for (const ping of secondReader) seenSecond.push(ping.id) }, () => seenSecond.length >= 50, 30_000, '50 new pings')
    await new Promise((resolve) => setTimeout(resolve, 500))
    second.tick()
    for (const ping of secondReader) seenSecond.push(ping.id)
    expect(seenSecond.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => 100 + i))
  })

  it('splits partitions between two bus processes in one group', async () => {
    const topic = uniqueName('split')
    const groupId = uniqueName('split-group')
    const kafka = useTestKafka()
    await kafka.createTopic(topic, 6)

    const script = fileURLToPath(new URL('../fixtures/bus-process.ts', import.meta.url))
    const children: ChildProcess[] = []
    const received: Array<{ ids: Set<number>, partitions: Set<number> }> = []
    onTestFinished(() => { for (const child of children) child.kill('SIGKILL') })
    for (let i = 0; i < 2; i++) {
      const child = spawn(process.execPath, ['--import', 'tsx', script, bootstrapServers(), topic, groupId], { stdio: ['ignore', 'pipe', 'inherit'] })
      children.push(child)
      const state = { ids: new Set<number>(), partitions: new Set<number>(), started: false }
      received.push(state)
      let buffered = ''
      child.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8')
        let newline
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = JSON.parse(buffered.slice(0, newline)) as { ids?: number[], partitions?: number[], started?: boolean }
          buffered = buffered.slice(newline + 1)
          if (line.started === true) state.started = true
          for (const id of line.ids ?? []) state.ids.add(id)
          for (const partition of line.partitions ?? []) state.partitions.add(partition)
        }
      })
    }
    const admin = await kafka.admin()
    await waitFor(async () => {
      const description = await admin.describeGroups([groupId])
      const group = description.groups[0]
      return group?.state === 'Stable' && group.members.length === 2
    }, 45_000, { description: 'two members in the group', intervalMs: 200 })

    await producePings(topic, 0, 600)
    await waitFor(() => {
      const union = new Set([...received[0]!.ids, ...received[1]!.ids])
      return union.size === 600
    }, 45_000, { description: 'all 600 pings across both processes' })

    expect(received[0]!.ids.size).toBeGreaterThan(0)
    expect(received[1]!.ids.size).toBeGreaterThan(0)
    const overlap = [...received[0]!.partitions].filter((partition) => received[1]!.partitions.has(partition))
    expect(overlap).toEqual([])
    expect(received[0]!.partitions.size + received[1]!.partitions.size).toBe(6)

    for (const child of children) child.kill('SIGTERM')
    await Promise.all(children.map((child) => new Promise((resolve) => child.once('exit', resolve))))
  })
})

describe('tick limits and large records', () => {
  it('spreads a backlog over several ticks within maxEventsPerTick', async () => {
    const topic = uniqueName('backlog')
    const kafka = useTestKafka()
    await kafka.createTopic(topic, 3)
    await producePings(topic, 0, 1000)
    const bus = await startKafkaBus({
      topology: pingTopology(topic, [{ groupId: uniqueName('limited'), initialOffset: 'earliest' }]),
      limits: { maxEventsPerTick: 64, maxEventsPerType: { Ping: 50 } },
    })
    const pings = bus.reader(Ping)
    const ids = new Set<number>()
    let ticks = 0
    let busiest = 0
    await tickUntil(bus, () => {
      let count = 0
      for (const ping of pings) {
        ids.add(ping.id)
        count++
      }
      if (count > 0) ticks++
      busiest = Math.max(busiest, count)
    }, () => ids.size === 1000, 30_000, '1000 pings', 1)

    expect(busiest).toBeLessThanOrEqual(50)
    expect(ticks).toBeGreaterThanOrEqual(20)
  })

  it('carries a large record intact', async () => {
    const Blob = defineEvent('Blob', { name: t.string(), data: t.bytes() })
    const topic = uniqueName('large')
    const topology = createTopology()
      .topic(topic, { partitions: 1, replicationFactor: 1 })
      .group(uniqueName('server'), { topics: [topic], initialOffset: 'earliest' })
      .bind(topic, Blob)
      .build()
    const bus = await startKafkaBus({ topology, ringCapacityBytes: 1024 * 1024 })
    const blobs = bus.reader(Blob)
    const data = Buffer.alloc(600_000)
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff
    const kafka = useTestKafka()
    const producer = await kafka.producer()
    await producer.send({ topic, messages: [{ value: JSON.stringify({ name: 'x'.repeat(1000), data: data.toString('base64') }) }] })

    let received: Uint8Array | undefined
    let name = ''
    await tickUntil(bus, () => {
      for (const blob of blobs) {
        received = blob.toObject().data
        name = blob.name
      }
    }, () => received !== undefined, 30_000, 'the large record')
    expect(name).toBe('x'.repeat(1000))
    expect(Buffer.compare(Buffer.from(received!), data)).toBe(0)
  })
})

describe('oversize records', () => {
  it('reports a record larger than the ring and goes on', async () => {
    const Note = defineEvent('Note', { id: t.u32(), text: t.string() })
    const topic = uniqueName('oversize')
    const topology = createTopology()
      .topic(topic, { partitions: 1, replicationFactor: 1 })
      .group(uniqueName('server'), { topics: [topic], initialOffset: 'earliest' })
      .bind(topic, Note)
      .build()
    const bus = await startKafkaBus({ topology, ringCapacityBytes: 16 * 1024 })
    const notes = bus.reader(Note)
    const decodeErrors = bus.decodeErrors()
    const kafka = useTestKafka()
    const producer = await kafka.producer()
    await producer.send({
      topic,
      messages: [
        { value: JSON.stringify({ id: 1, text: 'small' }) },
        { value: JSON.stringify({ id: 2, text: 'x'.repeat(40_000) }) },
        { value: JSON.stringify({ id: 3, text: 'small again' }) },
      ],
    })

    const ids: number[] = []
    const failures: Array<{ offset: number, attempts: string, payload: Uint8Array | null }> = []
    const errors: TickbusError[] = []
    await tickUntil(bus, () => {
      for (const note of notes) ids.push(note.id)
      for (const failure of decodeErrors) failures.push({ offset: failure.offset, attempts: failure.attempts, payload: failure.payload })
      errors.push(...bus.errors)
    }, () => ids.length === 2 && failures.length === 1 && errors.length > 0, 30_000, 'two notes, one decode error and one bus error')

    expect(ids).toEqual([1, 3])
    expect(failures[0]!.offset).toBe(1)
    expect(failures[0]!.payload).toBeNull()
    expect(failures[0]!.attempts).toContain('maximum record size of 16384 bytes')
    expect(errors[0]!.code).toBe(ErrorCode.RECORD_TOO_LARGE)
    expect(errors[0]!.message).toContain('ringCapacityBytes')
  })
})

describe('metadata and decoders', () => {
  it('exposes topic, partition, offset, key, headers, timestamp and group', async () => {
    const topic = uniqueName('meta')
    const groupId = uniqueName('meta-group')
    const bus = await startKafkaBus({ topology: pingTopology(topic, [{ groupId, initialOffset: 'earliest' }], 2) })
    const pings = bus.reader(Ping)
    const kafka = useTestKafka()
    const producer = await kafka.producer()
    const timestamp = Date.now() - 5000
    await producer.send({ topic, messages: [{ key: 'player-1', partition: 1, timestamp: String(timestamp), value: JSON.stringify({ id: 9 }), headers: { trace: 'abc', empty: '' } }] })

    const seen: Array<Record<string, unknown>> = []
    await tickUntil(bus, () => {
      for (const ping of pings) {
        seen.push({ id: ping.id, topic: ping.topic, partition: ping.partition, offset: ping.offset, key: ping.keyString, headers: { ...ping.headers }, timestamp: ping.timestamp, groupId: ping.groupId })
      }
    }, () => seen.length === 1, 30_000, 'one ping')
    expect(seen[0]).toEqual({ id: 9, topic, partition: 1, offset: 0, key: 'player-1', headers: { trace: 'abc', empty: '' }, timestamp, groupId })
  })

  it('decodes protobuf payloads that protoc encoded', async () => {
    const protoFile = fileURLToPath(new URL('../fixtures/score.proto', import.meta.url))
    const encoded = execFileSync('protoc', ['--encode=fixtures.Score', `--proto_path=${join(protoFile, '..')}`, protoFile], {
      input: 'playerId: 42\npoints: 9007199254740993\nname: "zoë 🎮"\nwinner: true\nratio: 0.125\n',
    })
    const root = protobuf.loadSync(protoFile)
    const Score = defineEvent('Score', { playerId: t.u32(), points: t.i64(), name: t.string(), winner: t.bool(), ratio: t.f64() })
    const topic = uniqueName('scores')
    const topology = createTopology()
      .topic(topic, { partitions: 1, replicationFactor: 1 })
      .group(uniqueName('server'), { topics: [topic], initialOffset: 'earliest' })
      .bind(topic, Score, { decoder: protobufDecoder(root.lookupType('fixtures.Score')) })
      .build()
    const bus = await startKafkaBus({ topology })
    const scores = bus.reader(Score)
    const kafka = useTestKafka()
    const producer = await kafka.producer()
    await producer.send({ topic, messages: [{ value: encoded }] })

    const seen: unknown[] = []
    await tickUntil(bus, () => { for (const score of scores) seen.push(score.toObject()) }, () => seen.length === 1, 30_000, 'one score')
    expect(seen[0]).toEqual({ playerId: 42, points: 9007199254740993n, name: 'zoë 🎮', winner: true, ratio: 0.125 })
  })

  it('sends undecodable records to the dead-letter topic', async () => {
    const topic = uniqueName('dlq-source')
    const deadLetters = uniqueName('dlq')
    const topology = createTopology()
      .topic(topic, { partitions: 1, replicationFactor: 1 })
      .topic(deadLetters, { partitions: 1, replicationFactor: 1 })
      .routing(topic, { deadLetterTopic: deadLetters })
      .group(uniqueName('server'), { topics: [topic], initialOffset: 'earliest' })
      .bind(topic, Ping)
      .build()
    const bus = await startKafkaBus({ topology })
    const pings = bus.reader(Ping)
    const errors = bus.decodeErrors()
    const kafka = useTestKafka()
    const producer = await kafka.producer()
    await producer.send({ topic, messages: [{ key: 'k', value: 'not json', headers: { origin: 'test' } }, { value: JSON.stringify({ id: 5 }) }] })

    const ids: number[] = []
    let decodeErrors = 0
    await tickUntil(bus, () => {
      for (const ping of pings) ids.push(ping.id)
      for (const error of errors) { decodeErrors++; expect(error.offset).toBe(0) }
    }, () => ids.length === 1 && decodeErrors === 1, 30_000, 'one ping and one decode error')

    const consumer = await kafka.consumer({ groupId: uniqueName('dlq-reader') })
    await consumer.subscribe({ topics: [deadLetters], fromBeginning: true })
    const dead: Array<{ key: string, value: string, headers: Record<string, string> }> = []
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {}
        for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = String(value)
        dead.push({ key: String(message.key), value: String(message.value), headers })
      },
    })
    await waitFor(() => dead.length === 1, 30_000, { description: 'one dead letter' })
    expect(dead[0]!.key).toBe('k')
    expect(dead[0]!.value).toBe('not json')
    expect(dead[0]!.headers.origin).toBe('test')
    expect(dead[0]!.headers['tickbus-dlq-topic']).toBe(topic)
    expect(dead[0]!.headers['tickbus-dlq-offset']).toBe('0')
    expect(dead[0]!.headers['tickbus-dlq-decoders']).toBe('json')
    expect(dead[0]!.headers['tickbus-dlq-error']).toContain('not valid JSON')
  })
})

describe('worker failures', () => {
  it('restarts a crashed shard and loses nothing', async () => {
    const markerDir = mkdtempSync(join(tmpdir(), 'tickbus-crash-'))
    onTestFinished(() => { rmSync(markerDir, { recursive: true, force: true }) })
    process.env.TICKBUS_CRASH_MARKER = join(markerDir, 'crashed')
    onTestFinished(() => { delete process.env.TICKBUS_CRASH_MARKER })

    const Item = defineEvent('Item', { id: t.i32() })
    const topic = uniqueName('crash')
    const decoder = customDecoder({ module: new URL('../fixtures/crashing-decoder.mjs', import.meta.url), export: 'decodeOrCrash' })
    const topology = createTopology()
      .topic(topic, { partitions: 1, replicationFactor: 1 })
      .group(uniqueName('server'), { topics: [topic], initialOffset: 'earliest' })
      .bind(topic, Item, { decoder })
      .build()
    // A crashed consumer cannot leave its group, so its replacement joins once the broker drops
    // the old member after the session timeout; keep it short.
    const bus = await startKafkaBus({
      topology,
      restart: { initialDelayMs: 100, maxDelayMs: 1000 },
      kafka: { consumer: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 1000 } },
    })
    const items = bus.reader(Item)
    const kafka = useTestKafka()
    const producer = await kafka.producer()
    const messages = []
    for (let id = 0; id < 50; id++) messages.push({ value: JSON.stringify({ id }) })
    messages.push({ value: 'crash' })
    for (let id = 50; id < 100; id++) messages.push({ value: JSON.stringify({ id }) })
    await producer.send({ topic, messages })

    const ids = new Set<number>()
    const busErrors: TickbusError[] = []
    await tickUntil(bus, () => {
      for (const item of items) ids.add(item.id)
      busErrors.push(...bus.errors)
    }, () => ids.size === 101, 45_000, 'all 100 items and the crash record')

    const crash = busErrors.find((error) => error.code === ErrorCode.WORKER_CRASHED)
    expect(crash).toBeDefined()
    expect(crash!.message).toContain('Consumer shard 0')
  })
})
