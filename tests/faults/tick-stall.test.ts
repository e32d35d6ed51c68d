import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { brokerList, uniqueName, useTestKafka, waitFor } from '../helpers/kafka.js'
import { ConsumerProcess, LoadProducer, missingIds } from './fault-harness.js'

const SESSION_TIMEOUT_MS = 6000
const STALL_MS = 10_000
const RING_BYTES = 64 * 1024
const PAD_BYTES = 4096
/** Upper bound of a Load record: 4096 padding bytes, plus a 48-byte header, the id and the string reference. */
const MAX_RECORD_BYTES = 4096 + 256
/** Payload bytes to produce during the stall. The producer stops early once it has sent them. */
const STALL_LOAD_BYTES = 48 * 1024 * 1024
/**
 * Allowed RSS growth of the consumer process while its ticks stall. The broker receives more
 * than this meanwhile (asserted below), so a worker that kept fetching into memory would exceed it.
 */
const RSS_GROWTH_LIMIT_BYTES = 24 * 1024 * 1024

describe('tick stall', () => {
  it('stays in group with bounded memory', async () => {
    const topic = uniqueName('stall')
    const groupId = uniqueName('stall-group')
    const kafka = useTestKafka()
    await kafka.createTopic(topic, 2)
    const admin = await kafka.admin()

    const consumer = new ConsumerProcess({
      brokers: brokerList(),
      topic,
      groupId,
      partitions: 2,
      ringCapacityBytes: RING_BYTES,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      heartbeatIntervalMs: 1000,
      // Bounds the bytes one kafkajs fetch keeps in the worker while it waits for ring space.
      maxBytesPerPartition: 64 * 1024,
      tickIntervalMs: 2,
      depthsEveryTicks: 50,
    })
    await consumer.waitForLine('assigned', 30_000)
    const load = new LoadProducer(await kafka.producer(), { topic, partitions: 2, eventsPerBatch: 10, intervalMs: 20, padBytes: PAD_BYTES })
    await waitFor(() => consumer.events.length >= 500, 20_000, { description: '500 events before the stall' })
    const before = (await admin.describeGroups([groupId])).groups[0]!
    const depthBefore = consumer.linesOf('depths').at(-1)!

    // Block the consumer's main thread, and sample its RSS from here meanwhile.
    const rssBefore = consumer.readRssBytes()!
    const acknowledgedBefore = load.acknowledged
    consumer.send({ command: 'stall', ms: STALL_MS })
    load.eventsPerBatch = 100
    const rssSamples: number[] = []
    const stallStarted = Date.now()
    let loadStopped: Promise<number> | undefined
    while (Date.now() - stallStarted < STALL_MS) {
      rssSamples.push(consumer.readRssBytes() ?? 0)
      if (loadStopped === undefined && (load.acknowledged - acknowledgedBefore) * PAD_BYTES >= STALL_LOAD_BYTES) loadStopped = load.stop()
      await sleep(200)
    }
    const acknowledged = await (loadStopped ?? load.stop())
    const stalled = await consumer.waitForLine('stalled', 10_000)
    const depthAfterStall = consumer.lines[consumer.lines.indexOf(stalled) + 1]!
    const bytesProducedDuringStall = (acknowledged - acknowledgedBefore) * PAD_BYTES

    await waitFor(() => new Set(consumer.events.map((event) => event.id)).size >= acknowledged, 30_000, { description: `all ${acknowledged} events after the stall` })
    const drainedAt = Date.now()
    const depthDrained = await consumer.waitForLine('depths', 5_000, (line) => (line.receivedAt as number) >= drainedAt && line.usedBytes === 0)
    const after = (await admin.describeGroups([groupId])).groups[0]!
    const stopped = await consumer.stop()

    const rssGrowth = Math.max(...rssSamples) - rssBefore
    console.log({ stalledMs: stalled.ms, rssBefore, rssGrowth, bytesProducedDuringStall, acknowledged, events: consumer.events.length, depthBefore, depthAfterStall, depthDrained, stopped })
    expect(stalled.ms).toBeGreaterThanOrEqual(STALL_MS)

    // No rebalance: one assignment for the whole test, and the same member before and after.
    expect(consumer.linesOf('assigned')).toHaveLength(1)
    expect(before.state).toBe('Stable')
    expect(after.state).toBe('Stable')
    expect(after.members.map((member) => member.memberId)).toEqual(before.members.map((member) => member.memberId))

    // Back-pressure: the ring was full when the stall ended and drained afterwards, and RSS stayed bounded.
    expect(depthAfterStall.usedBytes).toBeGreaterThan(RING_BYTES - MAX_RECORD_BYTES)
    expect(depthAfterStall.fullCount).toBeGreaterThan(depthBefore.fullCount as number)
    expect(depthDrained.usedBytes).toBe(0)
    expect(bytesProducedDuringStall).toBeGreaterThan(RSS_GROWTH_LIMIT_BYTES + 8 * 1024 * 1024)
    expect(rssGrowth).toBeLessThan(RSS_GROWTH_LIMIT_BYTES)

    expect(missingIds(new Set(consumer.events.map((event) => event.id)), acknowledged)).toEqual([])
  }, 60_000)
})
