import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { createTopology, defineEvent, t, type Bus, type CommitResult } from 'tickbus'
import { startKafkaBus, tickUntil } from '../helpers/bus.js'
import { uniqueName, useTestKafka } from '../helpers/kafka.js'
import { readCommittedOffsets } from './fault-harness.js'

const Ping = defineEvent('Ping', { id: t.u32() })

function pingTopology (topic: string, groupId: string, partitions: number) {
  return createTopology()
    .topic(topic, { partitions, replicationFactor: 1 })
    .group(groupId, { topics: [topic], initialOffset: 'earliest' })
    .bind(topic, Ping)
    .build()
}

/** Ticks about every 5 ms for `ms` and calls `onTick` after each tick. */
async function tickFor (bus: Bus, ms: number, onTick: () => void): Promise<void> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    bus.tick()
    onTick()
    await sleep(5)
  }
}

describe('manual commit mode', () => {
  it('commits only what bus.commit() names', async () => {
    const topic = uniqueName('manual')
    const groupId = uniqueName('manual-group')
    const kafka = useTestKafka()
    await kafka.createTopic(topic, 2)
    const admin = await kafka.admin()
    const producer = await kafka.producer()
    const messages = []
    for (let id = 0; id < 200; id++) messages.push({ partition: id % 2, value: JSON.stringify({ id }) })
    await producer.send({ topic, messages })

    // A released-mode bus with this interval would commit ten times in the second tickFor().
    const bus = await startKafkaBus({ topology: pingTopology(topic, groupId, 2), commit: { mode: 'manual', intervalMs: 100 } })
    const pings = bus.reader(Ping)
    const ids = new Set<number>()
    const results: CommitResult[] = []
    const collect = (): void => {
      for (const ping of pings) ids.add(ping.id)
      results.push(...bus.commitResults)
    }
    await tickUntil(bus, collect, () => ids.size === 200, 30_000, '200 pings')
    await tickFor(bus, 1000, collect)

    expect(results).toEqual([])
    expect(bus.commitStatistics.successes).toBe(0)
    expect(bus.commitStatistics.failures).toBe(0)
    expect(await readCommittedOffsets(admin, groupId, topic)).toEqual(new Map([[0, -1], [1, -1]]))

    const requested = [{ topic, partition: 0, offset: 100 }, { topic, partition: 1, offset: 40 }]
    bus.commit(requested)
    await tickUntil(bus, collect, () => results.length > 0, 10_000, 'the commit result')
    expect(results).toHaveLength(1)
    expect(results[0]!.error).toBeNull()
    expect(results[0]!.groupId).toBe(groupId)
    expect(results[0]!.offsets).toEqual(requested)
    expect(bus.commitStatistics.successes).toBe(1)
    expect(bus.commitStatistics.committed).toEqual(new Map([[`${topic}:0`, 100], [`${topic}:1`, 40]]))
    expect(await readCommittedOffsets(admin, groupId, topic)).toEqual(new Map([[0, 100], [1, 40]]))

    // Stopping in manual mode commits nothing more, although every event was released.
    const report = await bus.stop()
    expect(report.committed).toEqual([])
    expect(report.uncommittedRecords).toBe(0)
    expect(await readCommittedOffsets(admin, groupId, topic)).toEqual(new Map([[0, 100], [1, 40]]))

    // The group resumes at the manual commits: offsets 40 to 99 of partition 1 come again.
    const next = await startKafkaBus({ topology: pingTopology(topic, groupId, 2) })
    const nextPings = next.reader(Ping)
    const again: Array<{ partition: number, offset: number }> = []
    const collectAgain = (): void => { for (const ping of nextPings) again.push({ partition: ping.partition, offset: ping.offset }) }
    await tickUntil(next, collectAgain, () => again.length >= 60, 30_000, '60 uncommitted pings')
    await tickFor(next, 500, collectAgain)
    expect(again).toEqual(Array.from({ length: 60 }, (_, i) => ({ partition: 1, offset: 40 + i })))
  })
})

describe('read_committed isolation', () => {
  it('never hands out aborted records', async () => {
    const topic = uniqueName('transactions')
    const kafka = useTestKafka()
    await kafka.createTopic(topic, 1)
    const committedBus = await startKafkaBus({
      topology: pingTopology(topic, uniqueName('read-committed'), 1),
      kafka: { consumer: { isolationLevel: 'read_committed' } },
    })
    const uncommittedBus = await startKafkaBus({ topology: pingTopology(topic, uniqueName('read-uncommitted'), 1) })
    const committedPings = committedBus.reader(Ping)
    const uncommittedPings = uncommittedBus.reader(Ping)
    const committedIds: number[] = []
    const uncommittedIds: number[] = []
    const collect = (): void => {
      for (const ping of committedPings) committedIds.push(ping.id)
      uncommittedBus.tick()
      for (const ping of uncommittedPings) uncommittedIds.push(ping.id)
    }

    const producer = await kafka.producer({ transactionalId: uniqueName('tx'), idempotent: true, maxInFlightRequests: 1 })
    const sendInTransaction = async (ids: number[], outcome: 'commit' | 'abort' | 'open') => {
      const transaction = await producer.transaction()
      await transaction.send({ topic, messages: ids.map((id) => ({ value: JSON.stringify({ id }) })) })
      if (outcome === 'commit') await transaction.commit()
      if (outcome === 'abort') await transaction.abort()
      return transaction
    }
    const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i)
    await sendInTransaction(range(0, 10), 'commit')
    await sendInTransaction(range(1000, 10), 'abort')
    await sendInTransaction(range(10, 10), 'commit')
    const open = await sendInTransaction(range(2000, 5), 'open')

    // The read_uncommitted bus reads every record, so the aborted and open records were fetchable.
    await tickUntil(committedBus, collect, () => uncommittedIds.length === 35 && committedIds.length >= 20, 30_000, 'all records in the read_uncommitted bus')
    await tickFor(committedBus, 500, collect)
    expect(uncommittedIds).toEqual([...range(0, 10), ...range(1000, 10), ...range(10, 10), ...range(2000, 5)])
    expect(committedIds).toEqual([...range(0, 10), ...range(10, 10)])

    await open.commit()
    await tickUntil(committedBus, collect, () => committedIds.length >= 25, 30_000, 'the records of the committed open transaction')
    expect(committedIds).toEqual([...range(0, 10), ...range(10, 10), ...range(2000, 5)])
  })
})
