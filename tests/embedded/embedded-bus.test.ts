import { describe, expect, it, onTestFinished } from 'vitest'
import { createBus, createTopology, defineEvent, t, type Bus, type BusOptions } from 'tickbus'
// NOTE: imports the compiled module directly because src/index.ts does not export
// embeddedBackend yet; switch to `from 'tickbus'` once it does.
import { embeddedBackend } from '../../dist/src/backends/embedded/embedded-backend.js'
import { tickUntil } from '../helpers/bus.js'
import { waitFor } from '../helpers/kafka.js'

const Move = defineEvent('Move', { playerId: t.u32(), sequence: t.u32() })

async function startBus (options: BusOptions): Promise<Bus> {
  const bus = await createBus(options)
  onTestFinished(async () => { await bus.stop(5_000) })
  return bus
}

describe('bus on an embedded backend', () => {
  it('splits partitions among a group\'s shards', async () => {
    const backend = embeddedBackend()
    const topology = createTopology()
      .topic('moves', { partitions: 4 })
      .bind('moves', Move)
      .group('server', { topics: ['moves'], initialOffset: 'earliest', shards: 2 })
      .build()
    const bus = await startBus({ topology, backend })
    const moves = bus.reader(Move)

    await waitFor(() => backend.groupMembers('server').length === 2, 10_000, { description: 'both shards in the group' })
    const members = backend.groupMembers('server')
    for (let i = 0; i < 40; i++) backend.produce('moves', { key: `player-${i % 8}`, value: JSON.stringify({ playerId: i % 8, sequence: i }) })
    const sequences: number[] = []
    await tickUntil(bus, () => {
      for (const move of moves) sequences.push(move.sequence)
    }, () => sequences.length >= 40, 10_000, '40 moves')

    expect(members.map((member) => member.partitions.length)).toEqual([2, 2])
    expect(members.flatMap((member) => member.partitions.map((entry) => entry.partition)).sort()).toEqual([0, 1, 2, 3])
    expect(sequences.sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i))
  })

  it('commits released offsets into the backend', async () => {
    const backend = embeddedBackend()
    const topology = createTopology()
      .topic('moves', { partitions: 1 })
      .bind('moves', Move)
      .group('server', { topics: ['moves'], initialOffset: 'earliest' })
      .build()
    const bus = await startBus({ topology, backend, commit: { intervalMs: 20 } })
    const moves = bus.reader(Move)

    for (let i = 0; i < 5; i++) backend.produce('moves', { value: JSON.stringify({ playerId: 1, sequence: i }) })
    let received = 0
    await tickUntil(bus, () => { received += moves.skipAll() }, () => received >= 5, 10_000, '5 moves')
    bus.tick()

    await waitFor(() => backend.committedOffsets('server')[0]?.offset === 5, 10_000, { description: 'offset 5 committed' })
    expect(backend.committedOffsets('server')).toEqual([{ topic: 'moves', partition: 0, offset: 5 }])
    expect(bus.commitStatistics.committed.get('moves:0')).toBe(5)
  })

  it('reports a send the broker rejects as a delivery failure', async () => {
    const backend = embeddedBackend()
    // The broker keeps its 1 partition; the topology's 3 only produce a start warning.
    backend.createTopic('moves', { partitions: 1 })
    const topology = createTopology()
      .topic('moves', { partitions: 3 })
      .bind('moves', Move)
      .group('server', { topics: ['moves'], initialOffset: 'earliest' })
      .build()
    const bus = await startBus({ topology, backend })
    const failures = bus.deliveryFailures()

    expect(bus.writer().write(Move, { playerId: 1, sequence: 0 }, { partition: 2 })).toBe(true)
    const seen: Array<{ topic: string, partition: number, errorType: string, message: string }> = []
    await tickUntil(bus, () => {
      for (const failure of failures) seen.push({ topic: failure.topic, partition: failure.partition, errorType: failure.errorType, message: failure.message })
    }, () => seen.length >= 1, 10_000, 'one delivery failure')

    expect(seen).toHaveLength(1)
    expect(seen[0]!.topic).toBe('moves')
    expect(seen[0]!.partition).toBe(2)
    expect(seen[0]!.errorType).toBe('TICKBUS_INVALID_OPTION')
    expect(seen[0]!.message).toContain('has 1 partitions')
    expect(bus.producerStatistics().failed).toBe(1)
  })
})
