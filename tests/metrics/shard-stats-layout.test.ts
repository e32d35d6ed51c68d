import { describe, expect, it } from 'vitest'

import {
  HEADER_BYTES,
  SLOT_BYTES,
  ShardField,
  SlotField,
  UNKNOWN_OFFSET,
  assertShardStatsBuffer,
  bindingCounterIndex,
  createShardStatsBuffer,
  decoderLabel,
  shardStatsLayout,
  slotFieldIndex,
  topicCounterIndex,
} from '../../src/metrics/shard-stats-layout.js'
import { ShardStatsWriter } from '../../src/metrics/shard-stats-writer.js'
import { defineEvent } from '../../src/schema/define-event.js'
import { t } from '../../src/schema/fields.js'
import { createTopology } from '../../src/topology/builder.js'
import { customDecoder, jsonDecoder } from '../../src/topology/decoders.js'

const Move = defineEvent('Move', { playerId: t.u32(), x: t.f64() })
const Chat = defineEvent('Chat', { playerId: t.u32(), text: t.string() })

/** Topics: moves (3 partitions) and chat (2) read by `game`; audit (4) read only by `audit`. */
function exampleTopology () {
  return createTopology()
    .topic('moves', { partitions: 3, replicationFactor: 1 })
    .topic('audit', { partitions: 4, replicationFactor: 1 })
    .topic('chat', { partitions: 2, replicationFactor: 1 })
    .group('game', { topics: ['chat', 'moves'] })
    .group('audit', { topics: ['audit'] })
    .bind('moves', Move)
    .bind('chat', Chat, { decoder: jsonDecoder() })
    .bind('chat', Move, { decoder: customDecoder({ module: new URL('./fixtures/move-decoder.js', import.meta.url), export: 'decodeMove' }) })
    .bind('audit', Chat)
    .build()
}

describe('shard stats layout', () => {
  it('orders slots by the group topic order', () => {
    const topology = exampleTopology()
    const layout = shardStatsLayout(topology, 'game')
    const ids = new Map(topology.topics.map((topic) => [topic.name, topic.id]))

    expect(layout.topics).toEqual(['chat', 'moves'])
    expect(layout.slots.map((slot) => `${slot.topic}:${slot.partition}`)).toEqual(['chat:0', 'chat:1', 'moves:0', 'moves:1', 'moves:2'])
    expect(layout.slotCount).toBe(5)
    expect(layout.slotBase[ids.get('chat')!]).toBe(0)
    expect(layout.slotBase[ids.get('moves')!]).toBe(2)
    expect(layout.slotBase[ids.get('audit')!]).toBe(-1)
    expect(layout.partitionLimit[ids.get('moves')!]).toBe(3)
    expect(layout.partitionLimit[ids.get('audit')!]).toBe(0)
    expect(layout.slotBase[0]).toBe(-1)
  })

  it('lists bindings with decoder labels', () => {
    const layout = shardStatsLayout(exampleTopology(), 'game')

    expect(layout.bindings).toEqual([
      { topic: 'chat', eventType: 'Chat', decoder: 'json' },
      { topic: 'chat', eventType: 'Move', decoder: 'custom decodeMove' },
      { topic: 'moves', eventType: 'Move', decoder: 'json' },
    ])
  })

  it('sizes the buffer from slots, topics and bindings', () => {
    const layout = shardStatsLayout(exampleTopology(), 'game')

    expect(layout.byteLength).toBe(HEADER_BYTES + 5 * SLOT_BYTES + (2 + 3) * 8)
    expect(SLOT_BYTES % 64).toBe(0)
    expect(HEADER_BYTES % 64).toBe(0)
  })

  it('gives every field its own index', () => {
    const layout = shardStatsLayout(exampleTopology(), 'game')
    const indexes: number[] = [...Object.values(ShardField)]
    for (let slot = 0; slot < layout.slotCount; slot++) {
      for (const field of Object.values(SlotField)) indexes.push(slotFieldIndex(slot, field))
    }
    for (let topic = 0; topic < layout.topics.length; topic++) indexes.push(topicCounterIndex(layout, topic))
    for (let binding = 0; binding < layout.bindings.length; binding++) indexes.push(bindingCounterIndex(layout, binding))

    expect(new Set(indexes).size).toBe(indexes.length)
    expect(Math.min(...indexes)).toBe(0)
    expect(Math.max(...indexes)).toBe(layout.byteLength / 8 - 1)
    expect(Math.max(...Object.values(ShardField))).toBeLessThan(HEADER_BYTES / 8)
  })

  it('starts with unknown offsets and zero counters', () => {
    const layout = shardStatsLayout(exampleTopology(), 'game')
    const fields = new Float64Array(createShardStatsBuffer(layout))

    for (let slot = 0; slot < layout.slotCount; slot++) {
      expect(fields[slotFieldIndex(slot, SlotField.HIGH_WATERMARK)]).toBe(UNKNOWN_OFFSET)
      expect(fields[slotFieldIndex(slot, SlotField.POSITION)]).toBe(UNKNOWN_OFFSET)
      expect(fields[slotFieldIndex(slot, SlotField.COMMITTED)]).toBe(UNKNOWN_OFFSET)
      expect(fields[slotFieldIndex(slot, SlotField.LOG_START)]).toBe(UNKNOWN_OFFSET)
      expect(fields[slotFieldIndex(slot, SlotField.RECORDS_FETCHED)]).toBe(0)
      expect(fields[slotFieldIndex(slot, SlotField.UPDATED_AT_MS)]).toBe(0)
    }
    expect(fields[ShardField.COMMITS_SUCCEEDED]).toBe(0)
    expect(fields[topicCounterIndex(layout, 1)]).toBe(0)
  })

  it('rejects a buffer of another group', () => {
    const topology = exampleTopology()
    const buffer = createShardStatsBuffer(shardStatsLayout(topology, 'audit'))

    expect(() => { assertShardStatsBuffer(buffer, shardStatsLayout(topology, 'game')) }).toThrow(/needs \d+ bytes/)
    expect(() => new ShardStatsWriter(buffer, shardStatsLayout(topology, 'game'))).toThrow(RangeError)
  })

  it('rejects an unknown group', () => {
    expect(() => shardStatsLayout(exampleTopology(), 'nobody')).toThrow(/"nobody" is not in the topology/)
  })

  it('labels decoders like decode-error messages', () => {
    expect(decoderLabel({ kind: 'json' })).toBe('json')
    expect(decoderLabel({ kind: 'protobuf', root: 0, typeName: '.game.Move' })).toBe('protobuf game.Move')
    expect(decoderLabel({ kind: 'custom', decoder: { module: 'file:///x.js', export: 'decodeMove' } })).toBe('custom decodeMove')
  })
})

describe('shard stats writer', () => {
  function setUp () {
    const topology = exampleTopology()
    const layout = shardStatsLayout(topology, 'game')
    const buffer = createShardStatsBuffer(layout)
    const ids = new Map(topology.topics.map((topic) => [topic.name, topic.id]))
    return { layout, writer: new ShardStatsWriter(buffer, layout), fields: new Float64Array(buffer), moves: ids.get('moves')!, chat: ids.get('chat')!, audit: ids.get('audit')! }
  }

  it('counts fetched records and moves the position', () => {
    const { writer, fields, moves } = setUp()
    writer.recordFetched(moves, 1, 41, 100)
    writer.recordFetched(moves, 1, 42, 20)

    const slot = writer.slotOf(moves, 1)
    expect(slot).toBe(3)
    expect(fields[slotFieldIndex(slot, SlotField.POSITION)]).toBe(43)
    expect(fields[slotFieldIndex(slot, SlotField.RECORDS_FETCHED)]).toBe(2)
    expect(fields[slotFieldIndex(slot, SlotField.BYTES_FETCHED)]).toBe(120)
  })

  it('counts records without a slot as untracked', () => {
    const { writer, fields, moves, audit } = setUp()
    writer.recordFetched(moves, 3, 0, 10)
    writer.recordFetched(audit, 0, 0, 10)
    writer.recordFetched(moves, -1, 0, 10)

    expect(fields[ShardField.UNTRACKED_RECORDS]).toBe(3)
    expect(writer.slotOf(moves, 3)).toBe(-1)
    expect(writer.slotOf(999, 0)).toBe(-1)
  })

  it('stores commits and counts failures', () => {
    const { writer, fields, moves } = setUp()
    writer.recordCommit([{ topic: 'moves', partition: 2, offset: 17 }, { topic: 'elsewhere', partition: 0, offset: 5 }], 4, true)
    writer.recordCommit([{ topic: 'moves', partition: 2, offset: 30 }], 6, false)

    expect(fields[slotFieldIndex(writer.slotOf(moves, 2), SlotField.COMMITTED)]).toBe(17)
    expect(fields[ShardField.COMMITS_SUCCEEDED]).toBe(1)
    expect(fields[ShardField.COMMITS_FAILED]).toBe(1)
    expect(fields[ShardField.COMMIT_SECONDS]).toBeCloseTo(0.01, 12)
    expect(writer.commitEpoch).toBe(2)
  })

  it('drops a broker commit older than a local one', () => {
    const { writer, fields, moves } = setUp()
    const slot = writer.slotOf(moves, 0)
    const epoch = writer.commitEpoch
    writer.recordCommit([{ topic: 'moves', partition: 0, offset: 50 }], 1, true)
    writer.setBrokerOffsets(moves, 0, 10, 60, 40, epoch)

    expect(fields[slotFieldIndex(slot, SlotField.COMMITTED)]).toBe(50)
    expect(fields[slotFieldIndex(slot, SlotField.LOG_START)]).toBe(10)

    writer.setBrokerOffsets(moves, 0, 12, 61, 55, writer.commitEpoch)
    expect(fields[slotFieldIndex(slot, SlotField.COMMITTED)]).toBe(55)
  })

  it('moves the high watermark forward only from the broker', () => {
    const { writer, fields, moves } = setUp()
    const slot = writer.slotOf(moves, 0)
    writer.setHighWatermark(moves, 0, 100)
    writer.setBrokerOffsets(moves, 0, 0, 90, -1, writer.commitEpoch)

    expect(fields[slotFieldIndex(slot, SlotField.HIGH_WATERMARK)]).toBe(100)
    expect(fields[slotFieldIndex(slot, SlotField.UPDATED_AT_MS)]).toBeGreaterThan(0)

    writer.setBrokerOffsets(moves, 0, 0, 120, -1, writer.commitEpoch)
    expect(fields[slotFieldIndex(slot, SlotField.HIGH_WATERMARK)]).toBe(120)
  })

  it('counts decode failures per binding', () => {
    const { layout, writer, fields, chat, moves } = setUp()
    writer.recordDecodeFailure(chat, 1)
    writer.recordDecodeFailure(chat, 1)
    writer.recordDecodeFailure(moves, 0)
    writer.recordDecodeErrorRecord(chat)

    expect(fields[bindingCounterIndex(layout, 1)]).toBe(2)
    expect(fields[bindingCounterIndex(layout, 2)]).toBe(1)
    expect(fields[bindingCounterIndex(layout, 0)]).toBe(0)
    expect(fields[topicCounterIndex(layout, 0)]).toBe(1)
  })

  it('tracks ownership from an assignment', () => {
    const { writer, moves } = setUp()
    writer.setAssignment([{ topic: 'moves', partitions: [0, 2, 9] }, { topic: 'unknown', partitions: [0] }])

    expect(writer.owns(writer.slotOf(moves, 0))).toBe(true)
    expect(writer.owns(writer.slotOf(moves, 1))).toBe(false)
    expect(writer.owns(writer.slotOf(moves, 2))).toBe(true)

    writer.setAssignment([])
    expect(writer.owns(writer.slotOf(moves, 0))).toBe(false)
  })
})
