import { describe, expect, it } from 'vitest'
import { brokerList, uniqueName, useTestKafka, waitFor } from '../helpers/kafka.js'
import { ConsumerProcess, LoadProducer, missingIds, readCommittedOffsets, seededRandom, type SeenEvent } from './fault-harness.js'

const SEED = Number(process.env.TICKBUS_FAULT_SEED ?? 20240611)
const PARTITIONS = 3
const STOPS = 3

describe('graceful stop', () => {
  it('resumes after last released event', async () => {
    const random = seededRandom(SEED)
    const topic = uniqueName('graceful')
    const groupId = uniqueName('graceful-group')
    const kafka = useTestKafka()
    await kafka.createTopic(topic, PARTITIONS)
    const admin = await kafka.admin()
    const load = new LoadProducer(await kafka.producer(), { topic, partitions: PARTITIONS, eventsPerBatch: 10, intervalMs: 10 })
    const config = { brokers: brokerList(), topic, groupId, partitions: PARTITIONS }

    /** Highest offset handed out per partition by any process so far. */
    const lastHandedOut = new Map<number, number>()
    const runs: SeenEvent[][] = []
    for (let run = 0; run <= STOPS; run++) {
      const consumer = new ConsumerProcess(config)
      await consumer.waitForLine('events', 30_000)

      // The process continues exactly where the previous one stopped: at the committed offset,
      // which follows the last event handed out.
      for (const [partition, offset] of lastHandedOut) {
        await waitFor(() => consumer.events.some((event) => event.partition === partition), 10_000, { description: `an event of partition ${partition}` })
        expect(consumer.events.find((event) => event.partition === partition)!.offset).toBe(offset + 1)
      }

      if (run === STOPS) {
        const acknowledged = await load.stop()
        await waitFor(() => new Set([...runs.flat(), ...consumer.events].map((event) => event.id)).size >= acknowledged, 30_000, { description: `all ${acknowledged} ids` })
        await consumer.stop()
        runs.push(consumer.events)
        break
      }

      // Stop in the middle of the stream, after a random number of events.
      const target = consumer.events.length + 200 + Math.floor(random() * 800)
      await waitFor(() => consumer.events.length >= target, 30_000, { description: `${target} events` })
      const stopped = await consumer.stop()
      runs.push(consumer.events)
      for (const event of consumer.events) lastHandedOut.set(event.partition, Math.max(lastHandedOut.get(event.partition) ?? -1, event.offset))

      // stop() releases every event handed out and commits it.
      expect(stopped.errors).toEqual([])
      expect(stopped.timedOutShards).toEqual([])
      const committed = await readCommittedOffsets(admin, groupId, topic)
      const reported = new Map((stopped.committed as Array<{ partition: number, offset: number }>).map((entry) => [entry.partition, entry.offset]))
      for (const [partition, offset] of lastHandedOut) {
        expect(committed.get(partition)).toBe(offset + 1)
        if (reported.has(partition)) expect(reported.get(partition)).toBe(offset + 1)
      }
      console.log({ run, events: consumer.events.length, uncommittedRecords: stopped.uncommittedRecords, committed })
    }

    // No event is handed out twice, and none is missing.
    const keys = runs.flat().map((event) => `${event.partition}:${event.offset}`)
    expect(keys.length - new Set(keys).size).toBe(0)
    expect(missingIds(new Set(runs.flat().map((event) => event.id)), load.acknowledged)).toEqual([])
  }, 60_000)
})
