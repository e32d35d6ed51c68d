import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { brokerList, uniqueName, useTestKafka, waitFor } from '../helpers/kafka.js'
import { ConsumerProcess, LoadProducer, missingIds, readCommittedOffsets, seededRandom, type SeenEvent } from './fault-harness.js'

const SEED = Number(process.env.TICKBUS_FAULT_SEED ?? 20240611)
const KILLS = 4
const PARTITIONS = 3

/** What the group had committed and handed out when a process was killed. */
interface Kill {
  /** Committed offset (next to read) per partition, read right after the kill, or -1 where none was. */
  readonly committed: Map<number, number>
  /** Highest offset per partition that any process handed out up to the kill. */
  readonly maxHandedOut: Map<number, number>
}

/** Offsets handed out but not committed at a kill, summed over the partitions. */
function uncommittedWindow (kill: Kill): number {
  let records = 0
  for (const [partition, max] of kill.maxHandedOut) records += Math.max(0, max - Math.max(0, kill.committed.get(partition) ?? -1) + 1)
  return records
}

describe('consumer killed with SIGKILL', () => {
  it('redelivers only the uncommitted window', async () => {
    const random = seededRandom(SEED)
    const topic = uniqueName('kill')
    const groupId = uniqueName('kill-group')
    const kafka = useTestKafka()
    await kafka.createTopic(topic, PARTITIONS)
    const admin = await kafka.admin()
    const load = new LoadProducer(await kafka.producer(), { topic, partitions: PARTITIONS, eventsPerBatch: 5, intervalMs: 20 })
    const config = {
      brokers: brokerList(),
      topic,
      groupId,
      partitions: PARTITIONS,
      // A killed member leaves the group only when its session times out, and the next process
      // gets the partitions after that. 6000 ms is the lowest a broker accepts by default.
      sessionTimeoutMs: 6000,
      heartbeatIntervalMs: 1000,
    }

    const runs: SeenEvent[][] = []
    const kills: Kill[] = []
    const maxHandedOut = new Map<number, number>()
    for (let run = 0; run <= KILLS; run++) {
      const consumer = new ConsumerProcess(config)
      await consumer.waitForLine('events', 30_000)

      if (run === KILLS) {
        const acknowledged = await load.stop()
        await waitFor(() => new Set([...runs.flat(), ...consumer.events].map((event) => event.id)).size >= acknowledged, 20_000, { description: `all ${acknowledged} ids` })
        const stopped = await consumer.stop()
        expect(stopped.errors).toEqual([])
        runs.push(consumer.events)
        break
      }

      // Kill at a random moment while events flow: between 0.3 and 2.8 s after the first tick
      // that handed out events.
      await sleep(300 + Math.floor(random() * 2500))
      await consumer.kill()
      const committed = await readCommittedOffsets(admin, groupId, topic)
      for (const event of consumer.events) maxHandedOut.set(event.partition, Math.max(maxHandedOut.get(event.partition) ?? -1, event.offset))
      kills.push({ committed, maxHandedOut: new Map(maxHandedOut) })
      runs.push(consumer.events)
    }

    // At least once: every acknowledged id was handed out by some process.
    const acknowledged = load.acknowledged
    expect(missingIds(new Set(runs.flat().map((event) => event.id)), acknowledged)).toEqual([])

    // A duplicate is a (partition, offset) that an earlier process handed out. The process after
    // kill k starts at the offsets committed before that kill, so each duplicate lies between the
    // committed offset and the highest offset handed out, and there are at most that many.
    const handedOut = new Set<string>()
    const duplicatesPerKill: number[] = []
    for (let run = 0; run < runs.length; run++) {
      const earlier = new Set(handedOut)
      let duplicates = 0
      for (const event of runs[run]!) {
        const key = `${event.partition}:${event.offset}`
        if (earlier.has(key)) {
          duplicates++
          const kill = kills[run - 1]!
          expect(event.offset).toBeGreaterThanOrEqual(kill.committed.get(event.partition) ?? -1)
          expect(event.offset).toBeLessThanOrEqual(kill.maxHandedOut.get(event.partition)!)
        }
        handedOut.add(key)
      }
      if (run > 0) {
        duplicatesPerKill.push(duplicates)
        expect(duplicates).toBeLessThanOrEqual(uncommittedWindow(kills[run - 1]!))
      }
    }
    console.log({ seed: SEED, acknowledged, handedOut: runs.flat().length, duplicatesPerKill, uncommittedWindows: kills.map(uncommittedWindow) })
  }, 60_000)
})
