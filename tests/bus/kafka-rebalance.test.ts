import { describe, expect, it } from 'vitest'
import { createTopology, defineEvent, t } from 'tickbus'
import { uniqueName, useTestKafka, waitFor } from '../helpers/kafka.js'
import { startKafkaBus, tickUntil } from '../helpers/bus.js'

const Ping = defineEvent('Ping', { id: t.u32() })

describe('rebalance', () => {
  it('skips unread records of partitions moved away', async () => {
    const kafka = useTestKafka()
    const topic = uniqueName('rebalance')
    const groupId = uniqueName('rebalance-group')
    const topology = createTopology()
      .topic(topic, { partitions: 4, replicationFactor: 1 })
      .group(groupId, { topics: [topic], initialOffset: 'earliest' })
      .bind(topic, Ping)
      .build()
    const bus = await startKafkaBus({ topology, kafka: { consumer: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 } } })
    const pings = bus.reader(Ping)

    const producer = await kafka.producer()
    const messages = []
    for (let id = 0; id < 400; id++) messages.push({ key: `k${id}`, value: JSON.stringify({ id }) })
    await producer.send({ topic, messages })

    // Without ticks nothing is released or committed, so every record waits in the bus's ring.
    let lastUsed = -1
    await waitFor(() => {
      const used = bus.ringDepths()[0]!.usedBytes
      const settled = used > 0 && used === lastUsed
      lastUsed = used
      return settled
    }, 30_000, { description: 'the ring to hold the backlog', intervalMs: 500 })

    // A second member joins the group and takes some partitions from the bus's shard.
    const other = await kafka.consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500 })
    const otherPartitions = new Set<number>()
    const otherIds = new Set<number>()
    await other.subscribe({ topics: [topic], fromBeginning: true })
    await other.run({
      eachMessage: async ({ partition, message }) => {
        otherPartitions.add(partition)
        otherIds.add((JSON.parse(String(message.value)) as { id: number }).id)
      },
    })
    const admin = await kafka.admin()
    await waitFor(async () => {
      const description = await admin.describeGroups([groupId])
      const group = description.groups[0]
      return group?.state === 'Stable' && group.members.length === 2 && otherPartitions.size > 0
    }, 45_000, { description: 'the second member to own partitions', intervalMs: 300 })

    const busIds = new Set<number>()
    const busPartitions = new Set<number>()
    await tickUntil(bus, () => {
      for (const ping of pings) {
        busIds.add(ping.id)
        busPartitions.add(ping.partition)
      }
    }, () => new Set([...busIds, ...otherIds]).size === 400, 30_000, 'all 400 pings across both members')

    expect(bus.revokedRecordsSkipped).toBeGreaterThan(0)
    expect([...busPartitions].filter((partition) => otherPartitions.has(partition))).toEqual([])
  })
})
