import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createTopology, defineEvent, jsonDecoder, serveMetrics, t, type Bus, type MetricsServer } from 'tickbus'
import { uniqueName, useTestKafka, waitFor } from '../helpers/kafka.js'
import { startKafkaBus, tickUntil } from '../helpers/bus.js'
import { scrape, select, total, type Sample } from './scrape.js'

const Move = defineEvent('Move', {
  playerId: t.u32(),
  sequence: t.u32(),
  x: t.f64(),
})

/** Serves the bus's metrics on a free loopback port and closes the server when the test ends. */
async function startMetricsServer (bus: Bus): Promise<MetricsServer> {
  const server = await serveMetrics(bus, { port: 0 })
  onTestFinished(async () => { await server.close() })
  return server
}

function moveMessages (count: number, firstSequence = 0): Array<{ key: string, value: string }> {
  const messages = []
  for (let i = 0; i < count; i++) {
    const sequence = firstSequence + i
    messages.push({ key: `player-${sequence % 20}`, value: JSON.stringify({ playerId: sequence % 20, sequence, x: sequence / 4 }) })
  }
  return messages
}

/** Per-partition values of a metric for one consumer group, keyed by partition number. */
function byPartition (samples: readonly Sample[], name: string, group: string): Map<number, number> {
  return new Map(select(samples, name, { consumergroup: group }).map((sample) => [Number(sample.labels.partition), sample.value]))
}

describe('metrics against a real broker', () => {
  it('reports lag that falls to zero as ticks drain', async () => {
    const kafka = useTestKafka()
    const topic = uniqueName('lag')
    const group = uniqueName('server')
    const topology = createTopology()
      .topic(topic, { partitions: 4, replicationFactor: 1 })
      .group(group, { topics: [topic], initialOffset: 'earliest' })
      .bind(topic, Move)
      .build()
    const bus = await startKafkaBus({ topology, commit: { intervalMs: 100 } })
    const server = await startMetricsServer(bus)
    const metricsUrl = `${server.url}/metrics`
    const moves = bus.reader(Move)
    const producer = await kafka.producer()

    // Without ticks nothing is released or committed. With no commit and initialOffset
    // earliest, every retained record counts as lag.
    await producer.send({ topic, messages: moveMessages(400) })
    await waitFor(async () => total(await scrape(metricsUrl), 'tickbus_consumergroup_lag', { consumergroup: group }) === 400, 30_000, {
      description: 'a lag of 400 before the first tick',
    })
    expect(bus.metrics.partitions.totalLag(group)).toBe(400)

    // A stream keeps arriving while the game ticks; the scrapes see the lag, then see it fall.
    const streaming = (async () => {
      for (let batch = 0; batch < 4; batch++) {
        await producer.send({ topic, messages: moveMessages(100, 400 + batch * 100) })
        await sleep(100)
      }
    })()
    const lagSeen: number[] = []
    let read = 0
    let lastScrape = 0
    const deadline = Date.now() + 30_000
    while (read < 800) {
      if (Date.now() > deadline) throw new Error(`Timed out after 30000 ms waiting for 800 moves (got ${read})`)
      bus.tick()
      for (const _move of moves) read++
      if (Date.now() - lastScrape > 50) {
        lagSeen.push(total(await scrape(metricsUrl), 'tickbus_consumergroup_lag', { consumergroup: group }))
        lastScrape = Date.now()
      }
      await sleep(5)
    }
    await streaming

    // The last tick's records are released by the next tick, and committed after that.
    await waitFor(async () => {
      bus.tick()
      const samples = await scrape(metricsUrl)
      return select(samples, 'tickbus_consumergroup_lag', { consumergroup: group }).length === 4 &&
        total(samples, 'tickbus_consumergroup_lag', { consumergroup: group }) === 0
    }, 30_000, { description: 'a lag of 0 on all 4 partitions' })

    const samples = await scrape(metricsUrl)
    const highWatermarks = byPartition(samples, 'tickbus_consumergroup_high_watermark', group)
    const committed = byPartition(samples, 'tickbus_consumergroup_committed_offset', group)
    const positions = byPartition(samples, 'tickbus_consumergroup_position', group)
    expect(read).toBe(800)
    expect(Math.max(...lagSeen)).toBeGreaterThan(0)
    expect([...highWatermarks.values()].reduce((sum, value) => sum + value, 0)).toBe(800)
    for (const [partition, highWatermark] of highWatermarks) {
      expect(committed.get(partition), `committed offset of partition ${partition}`).toBe(highWatermark)
      if (highWatermark > 0) expect(positions.get(partition), `position of partition ${partition}`).toBe(highWatermark)
    }
    expect(total(samples, 'tickbus_consumergroup_commits_total', { consumergroup: group, result: 'success' })).toBeGreaterThan(0)
    expect(total(samples, 'tickbus_consumergroup_commits_total', { consumergroup: group, result: 'failure' })).toBe(0)
    expect(total(samples, 'tickbus_consumergroup_commit_duration_seconds_total', { consumergroup: group })).toBeGreaterThan(0)
    expect(bus.metrics.partitions.totalLag(group)).toBe(0)
    const slot = bus.metrics.partitions.slotOf(group, topic, 0)
    expect(bus.metrics.partitions.lagBasis(slot)).toBe(highWatermarks.get(0) === 0 ? 'empty' : 'committed')
  })

  it('counts drained records like the readers', async () => {
    const kafka = useTestKafka()
    const topic = uniqueName('drain')
    const group = uniqueName('server')
    const topology = createTopology()
      .topic(topic, { partitions: 4, replicationFactor: 1 })
      .group(group, { topics: [topic], initialOffset: 'earliest' })
      .bind(topic, Move)
      .build()
    const bus = await startKafkaBus({ topology, limits: { maxEventsPerTick: 100 } })
    const server = await startMetricsServer(bus)
    const moves = bus.reader(Move)
    const producer = await kafka.producer()
    const messages = moveMessages(600)
    await producer.send({ topic, messages })

    const partitions = bus.metrics.partitions
    const fetched = (): number => {
      let sum = 0
      for (let slot = 0; slot < partitions.size; slot++) sum += partitions.recordsFetched(slot)
      return sum
    }
    await waitFor(() => fetched() === 600, 30_000, { description: '600 fetched records' })

    const readPerPartition = new Map<number, number>()
    const lastOffset = new Map<number, number>()
    const mismatches: string[] = []
    let read = 0
    let firstTick = true
    await tickUntil(bus, () => {
      let readThisTick = 0
      for (const move of moves) {
        readPerPartition.set(move.partition, (readPerPartition.get(move.partition) ?? 0) + 1)
        lastOffset.set(move.partition, Math.max(lastOffset.get(move.partition) ?? -1, move.offset))
        readThisTick++
      }
      read += readThisTick
      const drainedThisTick = partitions.drainedThisTick.reduce((sum, count) => sum + count, 0)
      if (drainedThisTick !== readThisTick) mismatches.push(`tick ${bus.stats.tick}: ${drainedThisTick} drained, ${readThisTick} read`)
      if (bus.drainedCount(Move) !== readThisTick) mismatches.push(`tick ${bus.stats.tick}: drainedCount ${bus.drainedCount(Move)}, ${readThisTick} read`)
      if (firstTick) {
        firstTick = false
        const ring = bus.metrics.rings[0]!
        expect(readThisTick).toBe(100)
        expect(ring.recordsHandedOut).toBe(100)
        expect(ring.depthEvents).toBe(ring.recordsWritten - 100)
        expect(ring.depthBytes).toBeGreaterThan(0)
      }
    }, () => read >= 600, 30_000, `600 moves (got ${read})`)
    bus.tick()

    expect(mismatches).toEqual([])
    const samples = await scrape(`${server.url}/metrics`)
    expect(total(samples, 'tickbus_drained_events_total', { event_type: 'Move' })).toBe(600)
    expect(total(samples, 'tickbus_drained_events_total', { event_type: 'DecodeError' })).toBe(0)
    const drainedPerPartition = byPartition(samples, 'tickbus_consumergroup_drained_records_total', group)
    const lastDrained = byPartition(samples, 'tickbus_consumergroup_last_drained_offset', group)
    for (const [partition, count] of readPerPartition) {
      expect(drainedPerPartition.get(partition), `drained records of partition ${partition}`).toBe(count)
      expect(lastDrained.get(partition), `last drained offset of partition ${partition}`).toBe(lastOffset.get(partition))
    }
    const payloadBytes = messages.reduce((sum, message) => sum + Buffer.byteLength(message.key) + Buffer.byteLength(message.value), 0)
    expect(total(samples, 'tickbus_consumergroup_fetched_records_total', { consumergroup: group })).toBe(600)
    expect(total(samples, 'tickbus_consumergroup_fetched_bytes_total', { consumergroup: group })).toBe(payloadBytes)
    expect(total(samples, 'tickbus_ring_written_records_total', { consumergroup: group })).toBe(600)
    expect(total(samples, 'tickbus_ring_depth_events', { consumergroup: group })).toBe(0)
    expect(total(samples, 'tickbus_ring_depth_bytes', { consumergroup: group })).toBe(0)
    expect(total(samples, 'tickbus_ticks_limited_total')).toBeGreaterThanOrEqual(5)
    expect(total(samples, 'tickbus_tick_drain_duration_seconds_count')).toBe(total(samples, 'tickbus_ticks_total'))
    expect(total(samples, 'tickbus_ticks_total')).toBe(bus.stats.tick)
  })

  it('resets the idle streak on a busy tick', async () => {
    const kafka = useTestKafka()
    const topic = uniqueName('idle')
    const topology = createTopology()
      .topic(topic, { partitions: 1, replicationFactor: 1 })
      .group(uniqueName('server'), { topics: [topic], initialOffset: 'earliest' })
      .bind(topic, Move)
      .build()
    const bus = await startKafkaBus({ topology })
    const server = await startMetricsServer(bus)
    const metricsUrl = `${server.url}/metrics`
    const moves = bus.reader(Move)

    for (let i = 0; i < 25; i++) bus.tick()
    expect(total(await scrape(metricsUrl), 'tickbus_tick_idle_streak')).toBe(25)

    const producer = await kafka.producer()
    await producer.send({ topic, messages: moveMessages(1) })
    let read = 0
    await tickUntil(bus, () => { for (const _move of moves) read++ }, () => read === 1, 30_000, 'one move')
    expect(bus.stats.idleStreak).toBe(0)
    expect(total(await scrape(metricsUrl), 'tickbus_tick_idle_streak')).toBe(0)
    expect(total(await scrape(metricsUrl), 'tickbus_tick_drained_events', { event_type: 'Move' })).toBe(1)

    bus.tick()
    const samples = await scrape(metricsUrl)
    expect(total(samples, 'tickbus_tick_idle_streak')).toBe(1)
    expect(total(samples, 'tickbus_tick_drained_events', { event_type: 'Move' })).toBe(0)
  })

  it('counts decode errors per topic and decoder', async () => {
    const kafka = useTestKafka()
    const topic = uniqueName('errors')
    const group = uniqueName('server')
    const topology = createTopology()
      .topic(topic, { partitions: 1, replicationFactor: 1 })
      .group(group, { topics: [topic], initialOffset: 'earliest' })
      .bind(topic, Move, { decoder: jsonDecoder() })
      .build()
    const bus = await startKafkaBus({ topology })
    const server = await startMetricsServer(bus)
    const moves = bus.reader(Move)
    const errors = bus.decodeErrors()

    const producer = await kafka.producer()
    await producer.send({
      topic,
      messages: [
        { value: '{"playerId": "not a number"' },
        ...moveMessages(2),
        { value: 'not json at all' },
        { value: '{"playerId": 1, "sequence": -5, "x": 0}' },
      ],
    })
    let decoded = 0
    let failed = 0
    await tickUntil(bus, () => {
      for (const _move of moves) decoded++
      for (const _error of errors) failed++
    }, () => decoded + failed >= 5, 30_000, `five records (got ${decoded} moves and ${failed} decode errors)`)

    const samples = await scrape(`${server.url}/metrics`)
    expect(failed).toBe(3)
    expect(total(samples, 'tickbus_decode_error_records_total', { consumergroup: group, topic })).toBe(failed)
    expect(total(samples, 'tickbus_decode_failures_total', { consumergroup: group, topic, event_type: 'Move', decoder: 'json' })).toBe(failed)
    expect(total(samples, 'tickbus_drained_events_total', { event_type: 'DecodeError' })).toBe(failed)
    expect(total(samples, 'tickbus_drained_events_total', { event_type: 'Move' })).toBe(decoded)
    expect(total(samples, 'tickbus_consumergroup_fetched_records_total', { consumergroup: group })).toBe(5)
  })

  it('keeps one lag series per partition', async () => {
    const kafka = useTestKafka()
    const topic = uniqueName('wide')
    const group = uniqueName('server')
    const topology = createTopology()
      .topic(topic, { partitions: 32, replicationFactor: 1 })
      .group(group, { topics: [topic], initialOffset: 'earliest', shards: 2 })
      .bind(topic, Move)
      .build()
    const bus = await startKafkaBus({ topology, commit: { intervalMs: 100 } })
    const server = await startMetricsServer(bus)
    const metricsUrl = `${server.url}/metrics`
    const moves = bus.reader(Move)
    const producer = await kafka.producer()
    await producer.send({ topic, messages: moveMessages(300) })

    // Partitions that received nothing get their series from the workers' broker refresh.
    await waitFor(async () => select(await scrape(metricsUrl), 'tickbus_consumergroup_lag', { consumergroup: group }).length === 32, 30_000, {
      description: '32 lag series',
    })
    let read = 0
    await tickUntil(bus, () => { for (const _move of moves) read++ }, () => read >= 300, 30_000, `300 moves (got ${read})`)
    await waitFor(async () => {
      bus.tick()
      return total(await scrape(metricsUrl), 'tickbus_consumergroup_lag', { consumergroup: group }) === 0
    }, 30_000, { description: 'a lag of 0' })

    const samples = await scrape(metricsUrl)
    const lagSeries = select(samples, 'tickbus_consumergroup_lag')
    expect(lagSeries).toHaveLength(32)
    expect(new Set(lagSeries.map((sample) => sample.labels.partition)).size).toBe(32)
    for (const sample of lagSeries) expect(Object.keys(sample.labels).sort()).toEqual(['consumergroup', 'partition', 'topic'])
    expect(select(samples, 'tickbus_consumergroup_drained_records_total')).toHaveLength(32)
    expect(select(samples, 'tickbus_consumergroup_assigned_partitions')).toHaveLength(2)
    expect(total(samples, 'tickbus_consumergroup_assigned_partitions', { consumergroup: group })).toBe(32)
    // No label carries an offset or a key: every label value of every sample comes from a small set.
    const labelValues = new Set(samples.flatMap((sample) => Object.values(sample.labels)))
    expect(labelValues.size).toBeLessThan(100)

    const health = await fetch(`${server.url}/health`)
    expect(health.status).toBe(200)
    const body = await health.json() as { status: string, groups: Array<{ groupId: string, partitions: number, assignedPartitions: number, shards: unknown[] }> }
    expect(body.status).toBe('ok')
    expect(body.groups).toEqual([expect.objectContaining({ groupId: group, partitions: 32, assignedPartitions: 32 })])
    expect(body.groups[0]!.shards).toHaveLength(2)
  })

  it('counts only retained records of a truncated log', async () => {
    const kafka = useTestKafka()
    const topic = uniqueName('truncated')
    const group = uniqueName('server')
    const topology = createTopology()
      .topic(topic, { partitions: 1, replicationFactor: 1 })
      .group(group, { topics: [topic], initialOffset: 'earliest' })
      .bind(topic, Move)
      .build()
    const bus = await startKafkaBus({ topology, commit: { mode: 'manual' } })
    const partitions = bus.metrics.partitions
    const slot = partitions.slotOf(group, topic, 0)
    const moves = bus.reader(Move)
    const producer = await kafka.producer()
    await producer.send({ topic, messages: moveMessages(100) })
    let read = 0
    await tickUntil(bus, () => { for (const _move of moves) read++ }, () => read >= 100, 30_000, `100 moves (got ${read})`)

    // The group commits offset 10 only, then the broker deletes everything before offset 60
    // while the consumer keeps fetching at 100.
    bus.commit([{ topic, partition: 0, offset: 10 }])
    await waitFor(() => {
      bus.tick()
      return partitions.committedOffset(slot) === 10
    }, 30_000, { description: 'committed offset 10' })
    const admin = await kafka.admin()
    // kafkajs 2.2.4's deleteTopicRecords needs the topic's metadata in the admin client's cache.
    await admin.fetchTopicMetadata({ topics: [topic] })
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '60' }] })

    // The workers' periodic broker refresh brings the new log start offset.
    await waitFor(() => partitions.lagBasis(slot) === 'truncated', 30_000, { description: 'the truncated lag basis' })
    expect(partitions.committedOffset(slot)).toBe(10)
    expect(partitions.logStartOffset(slot)).toBe(60)
    expect(partitions.highWatermark(slot)).toBe(100)
    expect(partitions.lag(slot)).toBe(40)

    bus.commit([{ topic, partition: 0, offset: 100 }])
    await waitFor(() => {
      bus.tick()
      return partitions.lag(slot) === 0
    }, 30_000, { description: 'a lag of 0 after committing offset 100' })
    expect(partitions.lagBasis(slot)).toBe('committed')
  })

  it('counts retained records after an out-of-range reset', async () => {
    const kafka = useTestKafka()
    const topic = uniqueName('reset')
    const group = uniqueName('server')
    await kafka.createTopic(topic, 1)
    const producer = await kafka.producer()
    await producer.send({ topic, messages: moveMessages(100) })
    const admin = await kafka.admin()
    // The group committed offset 10 long ago; the broker has since deleted everything before 60.
    // On joining, kafkajs finds offset 10 out of range and replaces the commit with its
    // "earliest" marker, so the group has no committed offset until the first real commit.
    await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 0, offset: '10' }] })
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '60' }] })

    const topology = createTopology()
      .topic(topic, { partitions: 1, replicationFactor: 1 })
      .group(group, { topics: [topic], initialOffset: 'earliest' })
      .bind(topic, Move)
      .build()
    const bus = await startKafkaBus({ topology, commit: { intervalMs: 100 } })
    const partitions = bus.metrics.partitions
    const slot = partitions.slotOf(group, topic, 0)
    await waitFor(() => partitions.lag(slot) === 40 && partitions.logStartOffset(slot) === 60, 30_000, { description: 'a lag of 40 retained records' })
    expect(['truncated', 'log-start']).toContain(partitions.lagBasis(slot))

    const moves = bus.reader(Move)
    let read = 0
    await tickUntil(bus, () => { for (const _move of moves) read++ }, () => read >= 40, 30_000, `40 retained moves (got ${read})`)
    await waitFor(() => {
      bus.tick()
      return partitions.lag(slot) === 0
    }, 30_000, { description: 'a lag of 0 after the retained records were committed' })
    expect(read).toBe(40)
    expect(partitions.lagBasis(slot)).toBe('committed')
    expect(partitions.committedOffset(slot)).toBe(100)
  })

  it('counts missed events per reader', async () => {
    const kafka = useTestKafka()
    const topic = uniqueName('missed')
    const topology = createTopology()
      .topic(topic, { partitions: 1, replicationFactor: 1 })
      .group(uniqueName('server'), { topics: [topic], initialOffset: 'earliest' })
      .bind(topic, Move)
      .build()
    const bus = await startKafkaBus({ topology })
    const server = await startMetricsServer(bus)
    const eager = bus.reader(Move, { name: 'eager' })
    bus.reader(Move, { name: 'lazy' })
    const producer = await kafka.producer()
    await producer.send({ topic, messages: moveMessages(30) })

    let read = 0
    await tickUntil(bus, () => { for (const _move of eager) read++ }, () => read >= 30, 30_000, `30 moves (got ${read})`)
    bus.tick()

    const samples = await scrape(`${server.url}/metrics`)
    expect(total(samples, 'tickbus_reader_missed_events_total', { event_type: 'Move', reader: 'lazy' })).toBe(30)
    expect(total(samples, 'tickbus_reader_missed_events_total', { event_type: 'Move', reader: 'eager' })).toBe(0)
  })

  it('exposes the producer counters', async () => {
    const topic = uniqueName('written')
    const topology = createTopology()
      .topic(topic, { partitions: 2, replicationFactor: 1 })
      .group(uniqueName('server'), { topics: [topic], initialOffset: 'earliest' })
      .bind(topic, Move)
      .build()
    const bus = await startKafkaBus({ topology })
    const server = await startMetricsServer(bus)
    const writer = bus.writer()

    for (let sequence = 0; sequence < 50; sequence++) expect(writer.write(Move, { playerId: 1, sequence, x: 0 }, { key: 'player-1' })).toBe(true)
    expect(await bus.flush(30_000)).toBe(true)

    const samples = await scrape(`${server.url}/metrics`)
    expect(total(samples, 'tickbus_producer_written_events_total')).toBe(50)
    expect(total(samples, 'tickbus_producer_delivered_events_total')).toBe(50)
    expect(total(samples, 'tickbus_producer_failed_events_total')).toBe(0)
    expect(total(samples, 'tickbus_producer_rejected_writes_total')).toBe(0)
    expect(total(samples, 'tickbus_producer_pending_events')).toBe(0)
    expect(total(samples, 'tickbus_producer_in_flight_events')).toBe(0)
    expect(total(samples, 'tickbus_producer_sends_total')).toBeGreaterThan(0)
  })

  it('returns health 503 once stopped', async () => {
    const topic = uniqueName('health')
    const topology = createTopology()
      .topic(topic, { partitions: 1, replicationFactor: 1 })
      .group(uniqueName('server'), { topics: [topic], initialOffset: 'earliest' })
      .bind(topic, Move)
      .build()
    const bus = await startKafkaBus({ topology })
    const server = await startMetricsServer(bus)

    await waitFor(async () => (await fetch(`${server.url}/health`)).status === 200, 30_000, { description: 'health 200 after the assignment' })
    expect((await fetch(`${server.url}/nothing`)).status).toBe(404)
    expect((await fetch(`${server.url}/metrics`, { method: 'POST' })).status).toBe(405)

    await bus.stop(5_000)
    const health = await fetch(`${server.url}/health`)
    expect(health.status).toBe(503)
    expect(await health.json()).toMatchObject({ status: 'unavailable', running: false })
    expect(total(await scrape(`${server.url}/metrics`), 'tickbus_running')).toBe(0)
  })
})
