import { MessageChannel } from 'node:worker_threads'
import { afterEach, describe, expect, it } from 'vitest'

import { BrokerClient } from '../../src/backends/embedded/broker-client.js'
import { EmbeddedBroker } from '../../src/backends/embedded/broker.js'
import type { BrokerMessage, ProduceRecord } from '../../src/backends/embedded/protocol.js'
import { ErrorCode } from '../../src/errors.js'

type Assignment = Extract<BrokerMessage, { type: 'assignment' }>

const UNLIMITED = { maxRecords: Number.POSITIVE_INFINITY, maxAgeMs: Number.POSITIVE_INFINITY }
const LIMITS = { maxRecords: 100, maxBytes: 1 << 20, maxWaitMs: 0 }

const clients: BrokerClient[] = []

afterEach(() => {
  for (const client of clients.splice(0)) client.close()
})

/** Connects a client to `broker` and collects every assignment the client receives. */
function connect (broker: EmbeddedBroker): { client: BrokerClient, assignments: Assignment[] } {
  const channel = new MessageChannel()
  broker.connect(channel.port1)
  const client = new BrokerClient(channel.port2)
  clients.push(client)
  const assignments: Assignment[] = []
  client.onAssignment = (assignment) => { assignments.push(assignment) }
  return { client, assignments }
}

function record (value: string, key: string | null = null): ProduceRecord {
  return { key: key === null ? null : Buffer.from(key), value: Buffer.from(value), headers: [] }
}

function text (bytes: Uint8Array | null): string | null {
  return bytes === null ? null : Buffer.from(bytes).toString('utf8')
}

/**
 * Waits until every client got the assignment of the group's current generation. Ports deliver
 * in order each, but not relative to each other, so one client's join reply can arrive before
 * another client's assignment.
 */
async function settled (...members: Array<{ assignments: Assignment[] }>): Promise<void> {
  await until(() => {
    const generations = members.map((member) => member.assignments.at(-1)?.generation ?? -1)
    return generations.every((generation) => generation === generations[0])
  }, 'every member to receive the same generation')
}

function partitionsOf (assignment: Assignment | undefined): string[] {
  return (assignment?.partitions ?? []).map((entry) => `${entry.topic}/${entry.partition}`).sort()
}

async function until (condition: () => boolean, description: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${description}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

describe('embedded broker', () => {
  it('assigns every partition to a single member', async () => {
    const broker = new EmbeddedBroker(UNLIMITED)
    broker.createTopic('moves', 3)
    broker.produce('moves', record('a'))
    const { client, assignments } = connect(broker)

    await client.join('g', ['moves'], 'earliest', 0)

    expect(assignments).toHaveLength(1)
    expect(partitionsOf(assignments[0])).toEqual(['moves/0', 'moves/1', 'moves/2'])
    expect(assignments[0]!.partitions.every((entry) => entry.offset === 0)).toBe(true)
  })

  it('starts latest members at the end offset', async () => {
    const broker = new EmbeddedBroker(UNLIMITED)
    broker.createTopic('moves', 1)
    broker.produce('moves', record('a'))
    broker.produce('moves', record('b'))
    const { client, assignments } = connect(broker)

    await client.join('g', ['moves'], 'latest', 0)

    expect(assignments[0]!.partitions).toEqual([{ topic: 'moves', partition: 0, offset: 2 }])
  })

  it('fetches records in offset order with headers and timestamps', async () => {
    const broker = new EmbeddedBroker(UNLIMITED)
    broker.createTopic('moves', 1)
    broker.produce('moves', { ...record('a', 'k'), headers: [['h', Buffer.from('1')], ['h', null]], timestamp: 1234 })
    broker.produce('moves', record('b'))
    const { client } = connect(broker)
    await client.join('g', ['moves'], 'earliest', 0)

    const reply = await client.fetch([{ topic: 'moves', partition: 0, offset: 0 }], LIMITS)

    expect(reply.batches).toHaveLength(1)
    const batch = reply.batches[0]!
    expect(batch.records.map((entry) => [entry.offset, text(entry.value)])).toEqual([[0, 'a'], [1, 'b']])
    expect(batch.nextOffset).toBe(2)
    expect(batch.highWatermark).toBe(2)
    expect(text(batch.records[0]!.key)).toBe('k')
    expect(batch.records[0]!.timestamp).toBe(1234)
    expect(batch.records[0]!.headers.map(([name, value]) => [name, text(value)])).toEqual([['h', '1'], ['h', null]])
  })

  it('holds an empty fetch until a record arrives', async () => {
    const broker = new EmbeddedBroker(UNLIMITED)
    broker.createTopic('moves', 2)
    const { client } = connect(broker)
    await client.join('g', ['moves'], 'earliest', 0)

    const started = Date.now()
    const pending = client.fetch([{ topic: 'moves', partition: 0, offset: 0 }, { topic: 'moves', partition: 1, offset: 0 }], { ...LIMITS, maxWaitMs: 5000 })
    await new Promise((resolve) => setTimeout(resolve, 50))
    broker.produce('moves', { ...record('late'), partition: 1 })
    const reply = await pending

    expect(Date.now() - started).toBeLessThan(4000)
    expect(reply.batches.map((batch) => [batch.partition, batch.records.length])).toEqual([[1, 1]])
  })

  it('answers a held fetch empty after maxWaitMs', async () => {
    const broker = new EmbeddedBroker(UNLIMITED)
    broker.createTopic('moves', 1)
    const { client } = connect(broker)
    await client.join('g', ['moves'], 'earliest', 0)

    const started = Date.now()
    const reply = await client.fetch([{ topic: 'moves', partition: 0, offset: 0 }], { ...LIMITS, maxWaitMs: 60 })

    expect(reply.batches).toEqual([])
    expect(Date.now() - started).toBeGreaterThanOrEqual(55)
  })

  it('ignores positions of partitions the member does not own', async () => {
    const broker = new EmbeddedBroker(UNLIMITED)
    broker.createTopic('moves', 2)
    broker.produce('moves', { ...record('p0'), partition: 0 })
    broker.produce('moves', { ...record('p1'), partition: 1 })
    const first = connect(broker)
    const second = connect(broker)
    await first.client.join('g', ['moves'], 'earliest', 0)
    await second.client.join('g', ['moves'], 'earliest', 1)

    const reply = await first.client.fetch([{ topic: 'moves', partition: 0, offset: 0 }, { topic: 'moves', partition: 1, offset: 0 }], LIMITS)

    expect(reply.batches.map((batch) => batch.partition)).toEqual([0])
  })

  it('splits partitions round-robin in shard order', async () => {
    const broker = new EmbeddedBroker(UNLIMITED)
    broker.createTopic('a', 3)
    broker.createTopic('b', 1)
    const shard1 = connect(broker)
    const shard0 = connect(broker)
    await shard1.client.join('g', ['a', 'b'], 'earliest', 1)
    await shard0.client.join('g', ['a', 'b'], 'earliest', 0)
    await settled(shard0, shard1)

    expect(partitionsOf(shard0.assignments.at(-1))).toEqual(['a/0', 'a/2'])
    expect(partitionsOf(shard1.assignments.at(-1))).toEqual(['a/1', 'b/0'])
    expect(shard0.assignments.at(-1)!.generation).toBe(shard1.assignments.at(-1)!.generation)
  })

  it('gives a leaving member\'s partitions to the rest', async () => {
    const broker = new EmbeddedBroker(UNLIMITED)
    broker.createTopic('moves', 4)
    const first = connect(broker)
    const second = connect(broker)
    await first.client.join('g', ['moves'], 'earliest', 0)
    await second.client.join('g', ['moves'], 'earliest', 1)
    await settled(first, second)
    expect(partitionsOf(first.assignments.at(-1))).toHaveLength(2)
    const generation = first.assignments.at(-1)!.generation

    await second.client.leave()

    await until(() => first.assignments.at(-1)!.generation > generation, 'the rebalance after the leave')
    expect(partitionsOf(first.assignments.at(-1))).toEqual(['moves/0', 'moves/1', 'moves/2', 'moves/3'])
    expect(broker.groupMembers('g').map((member) => member.shard)).toEqual([0])
  })

  it('rebalances when a member\'s port closes', async () => {
    const broker = new EmbeddedBroker(UNLIMITED)
    broker.createTopic('moves', 2)
    const first = connect(broker)
    const second = connect(broker)
    await first.client.join('g', ['moves'], 'earliest', 0)
    await second.client.join('g', ['moves'], 'earliest', 1)
    await settled(first, second)
    const generation = first.assignments.at(-1)!.generation

    second.client.close()

    await until(() => first.assignments.at(-1)!.generation > generation, 'the rebalance after the close')
    expect(partitionsOf(first.assignments.at(-1))).toEqual(['moves/0', 'moves/1'])
    expect(broker.groupMembers('g')).toHaveLength(1)
  })

  it('answers a held fetch when the assignment changes', async () => {
    const broker = new EmbeddedBroker(UNLIMITED)
    broker.createTopic('moves', 2)
    const first = connect(broker)
    await first.client.join('g', ['moves'], 'earliest', 0)
    const pending = first.client.fetch([{ topic: 'moves', partition: 0, offset: 0 }, { topic: 'moves', partition: 1, offset: 0 }], { ...LIMITS, maxWaitMs: 10_000 })

    const second = connect(broker)
    await second.client.join('g', ['moves'], 'earliest', 1)
    const reply = await pending

    expect(reply.batches).toEqual([])
    expect(reply.generation).toBe(first.assignments.at(-1)!.generation)
  })

  it('starts a new member at the committed offset', async () => {
    const broker = new EmbeddedBroker(UNLIMITED)
    broker.createTopic('moves', 1)
    for (let i = 0; i < 5; i++) broker.produce('moves', record(`r${i}`))
    const first = connect(broker)
    await first.client.join('g', ['moves'], 'earliest', 0)
    await first.client.commit([{ topic: 'moves', partition: 0, offset: 3 }])
    await first.client.leave()

    const second = connect(broker)
    await second.client.join('g', ['moves'], 'earliest', 0)

    expect(second.assignments.at(-1)!.partitions).toEqual([{ topic: 'moves', partition: 0, offset: 3 }])
    expect(broker.committedOffsets('g')).toEqual([{ topic: 'moves', partition: 0, offset: 3 }])
    expect(broker.committedOffsets('other')).toEqual([])
  })

  it('keeps committed offsets per group', async () => {
    const broker = new EmbeddedBroker(UNLIMITED)
    broker.createTopic('moves', 1)
    const a = connect(broker)
    const b = connect(broker)
    await a.client.join('group-a', ['moves'], 'earliest', 0)
    await b.client.join('group-b', ['moves'], 'earliest', 0)

    await a.client.commit([{ topic: 'moves', partition: 0, offset: 7 }])

    expect(broker.committedOffsets('group-a')).toEqual([{ topic: 'moves', partition: 0, offset: 7 }])
    expect(broker.committedOffsets('group-b')).toEqual([])
    expect(partitionsOf(b.assignments.at(-1))).toEqual(['moves/0'])
  })

  it('rejects a commit for a reassigned partition', async () => {
    const broker = new EmbeddedBroker(UNLIMITED)
    broker.createTopic('moves', 2)
    const first = connect(broker)
    const second = connect(broker)
    await first.client.join('g', ['moves'], 'earliest', 0)
    await second.client.join('g', ['moves'], 'earliest', 1)
    await settled(first, second)
    const lost = second.assignments.at(-1)!.partitions[0]!

    const failure = await first.client.commit([{ topic: lost.topic, partition: lost.partition, offset: 1 }]).catch((error: unknown) => error)

    expect(failure).toMatchObject({ code: ErrorCode.COMMIT_FAILED, retriable: true, groupId: 'g', partition: lost.partition })
    expect(broker.committedOffsets('g')).toEqual([])
  })

  it('rejects a commit before join', async () => {
    const broker = new EmbeddedBroker(UNLIMITED)
    const { client } = connect(broker)

    await expect(client.commit([{ topic: 'moves', partition: 0, offset: 1 }])).rejects.toMatchObject({ code: ErrorCode.COMMIT_FAILED })
  })

  it('resets a position that retention removed', async () => {
    const broker = new EmbeddedBroker({ maxRecords: 2, maxAgeMs: Number.POSITIVE_INFINITY })
    broker.createTopic('moves', 1)
    for (let i = 0; i < 5; i++) broker.produce('moves', record(`r${i}`))
    const earliest = connect(broker)
    const latest = connect(broker)
    await earliest.client.join('g1', ['moves'], 'earliest', 0)
    await latest.client.join('g2', ['moves'], 'latest', 0)

    const fromStart = await earliest.client.fetch([{ topic: 'moves', partition: 0, offset: 0 }], LIMITS)
    const fromEnd = await latest.client.fetch([{ topic: 'moves', partition: 0, offset: 0 }], LIMITS)

    expect(fromStart.batches[0]!.records.map((entry) => entry.offset)).toEqual([3, 4])
    expect(fromStart.batches[0]!.fetchOffset).toBe(0)
    expect(fromEnd.batches[0]!.records).toEqual([])
    expect(fromEnd.batches[0]!.nextOffset).toBe(5)
  })

  it('rotates which partition a limited fetch reads first', async () => {
    const broker = new EmbeddedBroker(UNLIMITED)
    broker.createTopic('moves', 2)
    for (let i = 0; i < 10; i++) {
      broker.produce('moves', { ...record(`a${i}`), partition: 0 })
      broker.produce('moves', { ...record(`b${i}`), partition: 1 })
    }
    const { client } = connect(broker)
    await client.join('g', ['moves'], 'earliest', 0)
    const positions = [{ topic: 'moves', partition: 0, offset: 0 }, { topic: 'moves', partition: 1, offset: 0 }]

    const first = await client.fetch(positions, { ...LIMITS, maxRecords: 5 })
    const second = await client.fetch(positions, { ...LIMITS, maxRecords: 5 })

    expect(first.batches.map((batch) => batch.partition)).toEqual([0])
    expect(second.batches.map((batch) => batch.partition)).toEqual([1])
  })

  it('places keyed records by murmur2 and unkeyed ones round-robin', () => {
    const broker = new EmbeddedBroker(UNLIMITED)
    broker.createTopic('moves', 4)

    const keyed = Array.from({ length: 5 }, () => broker.produce('moves', record('x', 'player-1')).partition)
    const unkeyed = Array.from({ length: 6 }, () => broker.produce('moves', record('x')).partition)

    expect(new Set(keyed).size).toBe(1)
    expect(unkeyed).toEqual([0, 1, 2, 3, 0, 1])
  })

  it('assigns a topic created after the group joined', async () => {
    const broker = new EmbeddedBroker(UNLIMITED)
    const { client, assignments } = connect(broker)
    await client.join('g', ['later'], 'earliest', 0)
    expect(partitionsOf(assignments.at(-1))).toEqual([])

    broker.createTopic('later', 2)

    await until(() => partitionsOf(assignments.at(-1)).length === 2, 'the new topic\'s partitions')
  })

  it('rejects produce to an unknown topic or partition', () => {
    const broker = new EmbeddedBroker(UNLIMITED)
    broker.createTopic('moves', 2)

    expect(() => broker.produce('nope', record('x'))).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION, message: expect.stringContaining('moves') }))
    expect(() => broker.produce('moves', { ...record('x'), partition: 2 })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION, option: 'record.partition' }))
    expect(() => broker.produce('moves', { ...record('x'), timestamp: -5 })).toThrow(expect.objectContaining({ option: 'record.timestamp' }))
  })

  it('rejects invalid topic names and partition counts', () => {
    const broker = new EmbeddedBroker(UNLIMITED)

    expect(() => broker.createTopic('bad name', 1)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION }))
    expect(() => broker.createTopic('moves', 0)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION }))
    expect(broker.createTopic('moves', 1)).toBe(true)
    expect(broker.createTopic('moves', 5)).toBe(false)
    expect(broker.partitionCount('moves')).toBe(1)
  })

  it('appends dead letters sent by a worker', async () => {
    const broker = new EmbeddedBroker(UNLIMITED)
    broker.createTopic('dead', 1)
    const { client } = connect(broker)

    const reply = await client.produce('dead', [record('one'), record('two')])

    expect(reply.results).toEqual([{ partition: 0, offset: 0 }, { partition: 0, offset: 1 }])
    await expect(client.produce('missing', [record('x')])).rejects.toMatchObject({ code: ErrorCode.INVALID_OPTION })
  })

  it('rejects open requests when the port closes', async () => {
    const broker = new EmbeddedBroker(UNLIMITED)
    broker.createTopic('moves', 1)
    const { client } = connect(broker)
    await client.join('g', ['moves'], 'earliest', 0)
    const pending = client.fetch([{ topic: 'moves', partition: 0, offset: 0 }], { ...LIMITS, maxWaitMs: 10_000 })

    broker.closeConnections()

    await expect(pending).rejects.toMatchObject({ code: ErrorCode.BACKEND_FAILED })
    expect(broker.groupMembers('g')).toEqual([])
  })
})
