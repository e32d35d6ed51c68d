import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createBus, createTopology, defineEvent, jsonDecoder, t, type Backend, type Bus, type BusOptions } from 'tickbus'
import { partitionForKey } from '../../src/backends/embedded/partitioner.js'
import { uniqueName, waitFor } from '../helpers/kafka.js'
import { tickUntil } from '../helpers/bus.js'

/** A record as the suite produces it, independent of the backend's client. */
export interface SuiteRecord {
  key?: string
  value: string
  headers?: Record<string, string>
  partition?: number
  /** ms since the epoch. */
  timestamp?: number
}

/** What the suite needs from a backend under test, made fresh for each test. */
export interface SuiteBackend {
  /** Returns a backend for one bus. All calls within a test reach the same broker. */
  backend (): Backend
  /** Creates a topic before a bus starts, so that records can be produced before any group joins. */
  createTopic (topic: string, partitions: number): Promise<void>
  /** Produces the records in order and resolves once the broker stored all of them. */
  produce (topic: string, records: readonly SuiteRecord[]): Promise<void>
}

const Move = defineEvent('Move', {
  playerId: t.u32(),
  sequence: t.u32(),
  x: t.f64(),
})

/** Time a test may wait for events; Kafka group joins take a few seconds each. */
const WAIT_MS = 30_000

function moveJson (playerId: number, sequence: number): string {
  return JSON.stringify({ playerId, sequence, x: sequence / 2 })
}

/**
 * Defines the bus behaviour tests that every backend must pass in the same way, so that game
 * code behaves the same on each. `setup` runs at the start of each test.
 */
export function sharedBusSuite (name: string, setup: () => SuiteBackend | Promise<SuiteBackend>): void {
  async function startBus (suite: SuiteBackend, options: Omit<BusOptions, 'backend'>): Promise<Bus> {
    const bus = await createBus({ ...options, backend: suite.backend() })
    onTestFinished(async () => { await bus.stop(5_000) })
    return bus
  }

  describe(`bus on the ${name} backend`, () => {
    it('keeps per-partition order of keyed events', async () => {
      const suite = await setup()
      const topic = uniqueName('moves')
      const partitions = 4
      const topology = createTopology()
        .topic(topic, { partitions, replicationFactor: 1 })
        .bind(topic, Move)
        .group(uniqueName('server'), { topics: [topic], initialOffset: 'earliest' })
        .build()
      const bus = await startBus(suite, { topology })
      const moves = bus.reader(Move)

      const players = 20
      const perPlayer = 50
      const records: SuiteRecord[] = []
      for (let sequence = 0; sequence < perPlayer; sequence++) {
        for (let playerId = 0; playerId < players; playerId++) records.push({ key: `player-${playerId}`, value: moveJson(playerId, sequence) })
      }
      await suite.produce(topic, records)

      const lastSequence = new Map<number, number>()
      const outOfOrder: string[] = []
      const misplaced: string[] = []
      let received = 0
      await tickUntil(bus, () => {
        for (const move of moves) {
          const previous = lastSequence.get(move.playerId) ?? -1
          if (move.sequence !== previous + 1) outOfOrder.push(`player ${move.playerId}: ${move.sequence} after ${previous}`)
          lastSequence.set(move.playerId, move.sequence)
          const expected = partitionForKey(Buffer.from(`player-${move.playerId}`), partitions)
          if (move.partition !== expected || move.keyString !== `player-${move.playerId}`) {
            misplaced.push(`player ${move.playerId} on partition ${move.partition} with key ${move.keyString}`)
          }
          received++
        }
      }, () => received >= players * perPlayer, WAIT_MS, `${players * perPlayer} moves (received ${received})`)

      expect(received).toBe(players * perPlayer)
      expect(outOfOrder).toEqual([])
      expect(misplaced).toEqual([])
    })

    it('passes keys, headers and timestamps through', async () => {
      const suite = await setup()
      const topic = uniqueName('meta')
      const topology = createTopology()
        .topic(topic, { partitions: 1, replicationFactor: 1 })
        .bind(topic, Move)
        .group(uniqueName('server'), { topics: [topic], initialOffset: 'earliest' })
        .build()
      const bus = await startBus(suite, { topology })
      const moves = bus.reader(Move)

      const timestamp = Date.UTC(2024, 0, 2, 3, 4, 5)
      await suite.produce(topic, [
        { key: 'p1', value: moveJson(1, 0), headers: { origin: 'test', 'trace-id': 'é-1' }, timestamp },
        { value: moveJson(2, 0) },
      ])

      const seen: Array<{ key: string | null, headers: Record<string, string>, timestamp: number, offset: number }> = []
      await tickUntil(bus, () => {
        for (const move of moves) seen.push({ key: move.keyString, headers: { ...move.headers }, timestamp: move.timestamp, offset: move.offset })
      }, () => seen.length >= 2, WAIT_MS, 'two moves')

      expect(seen[0]).toEqual({ key: 'p1', headers: { origin: 'test', 'trace-id': 'é-1' }, timestamp, offset: 0 })
      expect(seen[1]!.key).toBeNull()
      expect(seen[1]!.headers).toEqual({})
      expect(seen[1]!.offset).toBe(1)
      expect(Math.abs(seen[1]!.timestamp - Date.now())).toBeLessThan(60_000)
    })

    it('delivers every event to each consumer group', async () => {
      const suite = await setup()
      const topic = uniqueName('shared')
      const groupA = uniqueName('group-a')
      const groupB = uniqueName('group-b')
      const topology = createTopology()
        .topic(topic, { partitions: 3, replicationFactor: 1 })
        .bind(topic, Move)
        .group(groupA, { topics: [topic], initialOffset: 'earliest' })
        .group(groupB, { topics: [topic], initialOffset: 'earliest' })
        .build()
      const bus = await startBus(suite, { topology })
      const movesA = bus.reader(Move, { groupId: groupA })
      const movesB = bus.reader(Move, { groupId: groupB })
      const all = bus.reader(Move)

      const count = 60
      await suite.produce(topic, Array.from({ length: count }, (_, sequence) => ({ key: `player-${sequence % 7}`, value: moveJson(sequence % 7, sequence) })))

      const sequencesA: number[] = []
      const sequencesB: number[] = []
      const groupsOfAll: string[] = []
      await tickUntil(bus, () => {
        for (const move of movesA) sequencesA.push(move.sequence)
        for (const move of movesB) sequencesB.push(move.sequence)
        for (const move of all) groupsOfAll.push(move.groupId)
      }, () => sequencesA.length >= count && sequencesB.length >= count, WAIT_MS, `${count} moves in each group (received ${sequencesA.length} and ${sequencesB.length})`)

      const everySequence = Array.from({ length: count }, (_, sequence) => sequence)
      expect(sequencesA.sort((a, b) => a - b)).toEqual(everySequence)
      expect(sequencesB.sort((a, b) => a - b)).toEqual(everySequence)
      expect(groupsOfAll.filter((group) => group === groupA)).toHaveLength(count)
      expect(groupsOfAll.filter((group) => group === groupB)).toHaveLength(count)
    })

    it('continues after the committed offset on restart', async () => {
      const suite = await setup()
      const topic = uniqueName('resume')
      const groupId = uniqueName('server')
      const topology = createTopology()
        .topic(topic, { partitions: 2, replicationFactor: 1 })
        .bind(topic, Move)
        .group(groupId, { topics: [topic], initialOffset: 'earliest' })
        .build()
      await suite.createTopic(topic, 2)
      const first = Array.from({ length: 20 }, (_, sequence) => ({ key: `player-${sequence % 5}`, value: moveJson(sequence % 5, sequence) }))
      const second = Array.from({ length: 20 }, (_, i) => ({ key: `player-${i % 5}`, value: moveJson(i % 5, 20 + i) }))
      await suite.produce(topic, first)

      const firstBus = await startBus(suite, { topology })
      const firstMoves = firstBus.reader(Move)
      const firstSeen: number[] = []
      await tickUntil(firstBus, () => {
        for (const move of firstMoves) firstSeen.push(move.sequence)
      }, () => firstSeen.length >= first.length, WAIT_MS, `${first.length} moves before the restart`)
      // Releases the last tick's events, so the stop commits all of them.
      firstBus.tick()
      const report = await firstBus.stop(10_000)
      expect(report.errors).toEqual([])
      expect(report.timedOutShards).toEqual([])

      await suite.produce(topic, second)
      const secondBus = await startBus(suite, { topology })
      const secondMoves = secondBus.reader(Move)
      const secondSeen: number[] = []
      await tickUntil(secondBus, () => {
        for (const move of secondMoves) secondSeen.push(move.sequence)
      }, () => secondSeen.length >= second.length, WAIT_MS, `${second.length} moves after the restart`)
      // A few more ticks, so a redelivered event would show.
      for (let i = 0; i < 20; i++) {
        await sleep(10)
        secondBus.tick()
        for (const move of secondMoves) secondSeen.push(move.sequence)
      }

      expect(firstSeen.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i))
      expect(secondSeen.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => 20 + i))
    })

    it('starts new groups at earliest or latest', async () => {
      const suite = await setup()
      const topic = uniqueName('initial')
      const earliestGroup = uniqueName('earliest')
      const latestGroup = uniqueName('latest')
      const topology = createTopology()
        .topic(topic, { partitions: 2, replicationFactor: 1 })
        .bind(topic, Move)
        .group(earliestGroup, { topics: [topic], initialOffset: 'earliest' })
        .group(latestGroup, { topics: [topic], initialOffset: 'latest' })
        .build()
      await suite.createTopic(topic, 2)
      const before = 10
      await suite.produce(topic, Array.from({ length: before }, (_, sequence) => ({ key: `player-${sequence}`, value: moveJson(sequence, sequence) })))

      const bus = await startBus(suite, { topology })
      const earliest = bus.reader(Move, { groupId: earliestGroup })
      const latest = bus.reader(Move, { groupId: latestGroup })
      const earliestSeen: number[] = []
      const latestSeen: number[] = []
      const drain = (): void => {
        for (const move of earliest) earliestSeen.push(move.sequence)
        for (const move of latest) latestSeen.push(move.sequence)
      }

      // The latest group starts wherever the partition ends when the group gets its position,
      // which the test cannot observe, so it keeps producing until one new event arrives there.
      const firstNew = 1000
      let nextSequence = firstNew
      let lastProducedAt = 0
      const deadline = Date.now() + WAIT_MS
      while (earliestSeen.filter((value) => value < before).length < before || !latestSeen.some((value) => value >= firstNew)) {
        if (Date.now() > deadline) throw new Error(`Timed out after ${WAIT_MS} ms: earliest group has ${earliestSeen.length} events, latest group ${latestSeen.length}`)
        bus.tick()
        drain()
        if (Date.now() - lastProducedAt > 250) {
          await suite.produce(topic, [{ key: `player-${nextSequence}`, value: moveJson(1, nextSequence) }])
          nextSequence++
          lastProducedAt = Date.now()
        }
        await sleep(10)
      }

      expect(earliestSeen.filter((value) => value < before).sort((a, b) => a - b)).toEqual(Array.from({ length: before }, (_, i) => i))
      expect(latestSeen.filter((value) => value < before)).toEqual([])
    })

    it('reports decode errors with the raw payload', async () => {
      const suite = await setup()
      const topic = uniqueName('errors')
      const topology = createTopology()
        .topic(topic, { partitions: 1, replicationFactor: 1 })
        .bind(topic, Move, { decoder: jsonDecoder() })
        .group(uniqueName('server'), { topics: [topic], initialOffset: 'earliest' })
        .build()
      const bus = await startBus(suite, { topology })
      const moves = bus.reader(Move)
      const errors = bus.decodeErrors()

      await suite.produce(topic, [
        { value: moveJson(1, 0) },
        { key: 'bad', value: '{"playerId": "not a number"', headers: { origin: 'test' } },
        { value: moveJson(2, 1) },
      ])

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
      }, () => players.length >= 2 && failures.length >= 1, WAIT_MS, 'two moves and one decode error')

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

    it('reads back what the writer sent', async () => {
      const suite = await setup()
      const topic = uniqueName('roundtrip')
      const partitions = 3
      const topology = createTopology()
        .topic(topic, { partitions, replicationFactor: 1 })
        .bind(topic, Move)
        .group(uniqueName('server'), { topics: [topic], initialOffset: 'earliest' })
        .build()
      const bus = await startBus(suite, { topology })
      const moves = bus.reader(Move)
      const writer = bus.writer()

      const players = 5
      const perPlayer = 20
      for (let sequence = 0; sequence < perPlayer; sequence++) {
        for (let playerId = 0; playerId < players; playerId++) {
          expect(writer.write(Move, { playerId, sequence, x: sequence / 2 }, { key: `player-${playerId}`, headers: { source: 'writer' } })).toBe(true)
        }
      }
      expect(await bus.flush(WAIT_MS)).toBe(true)

      const lastSequence = new Map<number, number>()
      const problems: string[] = []
      let received = 0
      await tickUntil(bus, () => {
        for (const move of moves) {
          const previous = lastSequence.get(move.playerId) ?? -1
          if (move.sequence !== previous + 1) problems.push(`player ${move.playerId}: ${move.sequence} after ${previous}`)
          lastSequence.set(move.playerId, move.sequence)
          if (move.x !== move.sequence / 2) problems.push(`player ${move.playerId} sequence ${move.sequence}: x ${move.x}`)
          if (move.partition !== partitionForKey(Buffer.from(`player-${move.playerId}`), partitions)) problems.push(`player ${move.playerId} on partition ${move.partition}`)
          if (move.headers.source !== 'writer') problems.push(`player ${move.playerId}: headers ${JSON.stringify(move.headers)}`)
          received++
        }
      }, () => received >= players * perPlayer, WAIT_MS, `${players * perPlayer} written moves (received ${received})`)

      expect(received).toBe(players * perPlayer)
      expect(problems).toEqual([])
      const statistics = bus.producerStatistics()
      expect(statistics.written).toBe(players * perPlayer)
      expect(statistics.delivered).toBe(players * perPlayer)
      expect(statistics.failed).toBe(0)
      expect(bus.errors).toEqual([])
    })

    it('spreads a backlog over ticks by maxEventsPerTick', async () => {
      const suite = await setup()
      const topic = uniqueName('backlog')
      const topology = createTopology()
        .topic(topic, { partitions: 1, replicationFactor: 1 })
        .bind(topic, Move)
        .group(uniqueName('server'), { topics: [topic], initialOffset: 'earliest' })
        .build()
      const maxEventsPerTick = 7
      const bus = await startBus(suite, { topology, limits: { maxEventsPerTick } })
      const moves = bus.reader(Move)

      // Every record takes the same ring space (no key, same fields). Before the first tick, the
      // ring therefore contains all of them once its used bytes reach count times the first's size.
      const count = 100
      await suite.produce(topic, [{ value: moveJson(1, 0) }])
      await waitFor(() => bus.ringDepths()[0]!.usedBytes > 0, WAIT_MS, { description: 'the first record in the ring' })
      const recordBytes = bus.ringDepths()[0]!.usedBytes
      await suite.produce(topic, Array.from({ length: count - 1 }, (_, i) => ({ value: moveJson(1, i + 1) })))
      await waitFor(() => bus.ringDepths()[0]!.usedBytes >= count * recordBytes, WAIT_MS, { description: `${count} records in the ring` })

      const drainedPerTick: number[] = []
      const limitedPerTick: boolean[] = []
      const sequences: number[] = []
      while (sequences.length < count && drainedPerTick.length < 100) {
        const stats = bus.tick()
        drainedPerTick.push(stats.drained)
        limitedPerTick.push(stats.limited)
        for (const move of moves) sequences.push(move.sequence)
      }
      for (let i = 0; i < 5; i++) {
        drainedPerTick.push(bus.tick().drained)
        for (const move of moves) sequences.push(move.sequence)
      }

      const fullTicks = Math.floor(count / maxEventsPerTick)
      expect(drainedPerTick.slice(0, fullTicks)).toEqual(new Array(fullTicks).fill(maxEventsPerTick))
      expect(drainedPerTick[fullTicks]).toBe(count % maxEventsPerTick)
      expect(Math.max(...drainedPerTick)).toBe(maxEventsPerTick)
      expect(limitedPerTick.slice(0, fullTicks - 1).every(Boolean)).toBe(true)
      expect(limitedPerTick[fullTicks]).toBe(false)
      expect(sequences).toEqual(Array.from({ length: count }, (_, i) => i))
    })
  })
}
