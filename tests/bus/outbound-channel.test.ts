import type { Piscina } from 'piscina'
import { describe, expect, it } from 'vitest'

import type { Backend } from '../../src/backends/backend.js'
import type { ProducerTask } from '../../src/bus/messages.js'
import { OutboundChannel } from '../../src/bus/outbound-channel.js'
import { ProducerSlot } from '../../src/bus/producer-control.js'
import { ErrorCode, type TickbusError } from '../../src/errors.js'
import { noopLogger } from '../../src/logger.js'
import { defineEvent } from '../../src/schema/define-event.js'
import { t } from '../../src/schema/fields.js'
import { createViewContext } from '../../src/schema/view.js'
import { createTopology } from '../../src/topology/builder.js'
import { waitFor } from '../helpers/kafka.js'

const Move = defineEvent('Move', { playerId: t.u32() })
const topology = createTopology().topic('moves', { partitions: 1 }).bind('moves', Move).build()

const backend: Backend = {
  name: 'fake',
  workerModule: 'file:///unused.js',
  workerConfig: null,
  start: async () => ({ created: [], warnings: [] }),
  stop: async () => {},
}

function createChannel (errors: TickbusError[], options?: { ringCapacityBytes?: number }): OutboundChannel {
  return new OutboundChannel({
    topology,
    backend,
    context: createViewContext({ topics: ['', 'moves'], devMode: false }),
    lifetimeTicks: 1,
    logger: noopLogger,
    options,
    restartDelayMs: 10,
    maxRestartDelayMs: 100,
    onError: (error) => { errors.push(error) },
  })
}

describe('OutboundChannel', () => {
  it('restarts a crashed producer and reports held events', async () => {
    const errors: TickbusError[] = []
    const channel = createChannel(errors)
    const tasks: ProducerTask[] = []
    const pool = {
      run: async (task: ProducerTask) => {
        tasks.push(task)
        if (tasks.length === 1) {
          // The first task had read two events when it crashed.
          Atomics.store(new Int32Array(task.control), ProducerSlot.IN_FLIGHT_EVENTS, 2)
          throw new Error('worker exploded')
        }
        return await new Promise(() => {})
      },
    } as unknown as Piscina
    channel.start(pool)

    await waitFor(() => tasks.length === 2, 5_000, { description: 'the restart' })
    expect(tasks[1]!.attempt).toBe(1)
    expect(tasks[1]!.ring).toBe(tasks[0]!.ring)
    expect(errors.map((error) => error.code)).toEqual([ErrorCode.WORKER_CRASHED, ErrorCode.DELIVERY_FAILED])
    expect(errors[1]!.message).toContain('holding 2 event(s)')
  })

  it('reports refused writes once per tick', () => {
    const errors: TickbusError[] = []
    const channel = createChannel(errors, { ringCapacityBytes: 1024 })
    let rejected = 0
    for (let i = 0; i < 200; i++) if (!channel.writer.write(Move, { playerId: i })) rejected++

    channel.beginTick(1)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ code: ErrorCode.RING_FULL, retriable: true })
    expect(errors[0]!.message).toContain(`${rejected} event(s) were not written`)
    channel.beginTick(2)
    expect(errors).toHaveLength(1)
  })

  it('rejects unknown and invalid options', () => {
    expect(() => createChannel([], { ringCapacityBytes: 1000 })).toThrow(/outbound\.ringCapacityBytes/)
    expect(() => createChannel([], { ringSize: 1 } as never)).toThrow(/outbound\.ringSize: is not a known option/)
  })
})
