import { describe, expect, it } from 'vitest'
import { EventReader } from '../../src/bus/event-reader.js'
import { EventWindow } from '../../src/bus/event-window.js'
import { Header, NO_BYTES, RECORD_HEADER_BYTES, RecordKind } from '../../src/ring/layout.js'
import { createRingBuffer } from '../../src/ring/ring-buffer.js'
import { createRingMemory } from '../../src/ring/memory.js'
import { RingWriter } from '../../src/ring/ring-writer.js'
import { defineEvent } from '../../src/schema/define-event.js'
import { t } from '../../src/schema/fields.js'
import { createViewContext } from '../../src/schema/view.js'

const Ping = defineEvent('Ping', { id: t.u32() })

function setup (lifetimeTicks: number) {
  const memory = createRingMemory(createRingBuffer(64 * 1024))
  const writer = new RingWriter(memory)
  const context = createViewContext({ topics: ['', 'pings'], groups: ['', 'first', 'second'], devMode: false })
  const window = new EventWindow(lifetimeTicks)
  let generation = 1
  const reader = (groupId: number): EventReader<ReturnType<typeof Ping.createView>> =>
    new EventReader(window, [memory], context, () => Ping.createView(context), groupId, () => generation)

  /** Writes one Ping record of `group` and files it in the window, as a tick's claim does. */
  const add = (id: number, group: number): void => {
    const bytes = RECORD_HEADER_BYTES + Ping.measure({ id })
    const offset = writer.reserve(bytes, RecordKind.EVENT)
    memory.u16[(offset + Header.EVENT_TYPE) >> 1] = 1
    memory.u16[(offset + Header.GROUP) >> 1] = group
    memory.u32[(offset + Header.KEY_LENGTH) >> 2] = NO_BYTES
    Ping.encodeInto({ id }, memory, offset + RECORD_HEADER_BYTES, bytes)
    window.add(0, offset)
  }

  /** Starts a tick the way the bus does: readers account for the records about to be dropped. */
  const beginTick = (readers: Array<EventReader<ReturnType<typeof Ping.createView>>>): void => {
    const first = window.firstSequenceAfterNextTick()
    for (const each of readers) each.accountDropped(first)
    window.beginTick()
    generation++
  }
  return { reader, add, beginTick }
}

describe('EventReader', () => {
  it('counts missed events of its own group only', () => {
    const { reader, add, beginTick } = setup(1)
    const all = reader(0)
    const first = reader(1)
    beginTick([all, first])
    add(1, 1)
    add(2, 2)
    add(3, 1)
    add(4, 2)

    beginTick([all, first])
    expect(all.missed).toBe(4)
    expect(first.missed).toBe(2)

    add(5, 1)
    add(6, 2)
    // The reader hands out one view moved from event to event, so ids are read while iterating.
    expect(Array.from(first, (ping) => ping.id)).toEqual([5])
    expect(Array.from(all, (ping) => ping.id)).toEqual([5, 6])
    beginTick([all, first])
    expect(all.missed).toBe(4)
    expect(first.missed).toBe(2)
  })

  it('keeps events readable for two ticks', () => {
    const { reader, add, beginTick } = setup(2)
    const pings = reader(0)
    beginTick([pings])
    add(1, 1)
    beginTick([pings])
    add(2, 1)
    expect(pings.missed).toBe(0)
    expect(Array.from(pings, (ping) => ping.id)).toEqual([1, 2])
    beginTick([pings])
    beginTick([pings])
    expect(pings.missed).toBe(0)
  })
})
