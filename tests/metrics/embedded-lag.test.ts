import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createBus, createTopology, defineEvent, embeddedBackend, t } from 'tickbus'

const Ping = defineEvent('Ping', { id: t.u32() })

describe('embedded backend lag', () => {
  it('reports lag that falls to zero as ticks drain', async () => {
    const topology = createTopology()
      .topic('pings', { partitions: 2 })
      .group('server', { topics: ['pings'], initialOffset: 'earliest' })
      .bind('pings', Ping)
      .build()
    const backend = embeddedBackend()
    const bus = await createBus({ topology, backend, commit: { intervalMs: 50 } })
    onTestFinished(async () => { await bus.stop() })
    const pings = bus.reader(Ping)
    const lag = bus.metrics.partitions

    for (let id = 0; id < 200; id++) backend.produce('pings', { key: `k${id}`, value: JSON.stringify({ id }) })

    // Without ticks nothing is released or committed, so the whole backlog counts as lag once
    // the shard has fetched it.
    const deadline = Date.now() + 20_000
    while (lag.totalLag('server') < 200 && Date.now() < deadline) await sleep(20)
    expect(lag.totalLag('server')).toBe(200)

    let read = 0
    while ((read < 200 || lag.totalLag('server') !== 0) && Date.now() < deadline) {
      bus.tick()
      for (const ping of pings) read += ping.id >= 0 ? 1 : 0
      await sleep(10)
    }
    expect(read).toBe(200)
    expect(lag.totalLag('server')).toBe(0)
  })
})
