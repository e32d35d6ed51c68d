import protobuf from 'protobufjs'
import { describe, expect, it } from 'vitest'

import { ErrorCode, TickbusError } from '../../src/errors.js'
import { defineEvent } from '../../src/schema/define-event.js'
import { t } from '../../src/schema/fields.js'
import { createTopology } from '../../src/topology/builder.js'
import { customDecoder, protobufDecoder } from '../../src/topology/decoders.js'
import { eventTypeFromDescriptor } from '../../src/topology/event-descriptor.js'
import { type BindingRecord, resolveTopology } from '../../src/topology/resolve-topology.js'
import type { Topology } from '../../src/topology/types.js'

const Move = defineEvent('Move', { playerId: t.u32(), x: t.f32() })
const Chat = defineEvent('Chat', { text: t.string() })
const Profile = defineEvent('Profile', { name: t.string(), avatar: t.bytes().nullable(), score: t.i64() })

const gameProto = protobuf.parse(`
  syntax = "proto3";
  package game;
  message Move { uint32 player_id = 1; float x = 2; }
`).root
const MoveProto = gameProto.lookupType('game.Move')

const decodersModule = new URL('./fixtures/decoders.mjs', import.meta.url)
const brokenModule = new URL('./fixtures/broken.mjs', import.meta.url)

function record (overrides: Partial<BindingRecord> = {}): BindingRecord {
  return { topicId: 1, partition: 3, offset: 42, timestamp: 1_700_000_000_000, key: null, value: null, headers: [], ...overrides }
}

function bytes (text: string): Uint8Array {
  return new TextEncoder().encode(text)
}

/** Builds a topology that uses every decoder and match kind. */
function fullTopology (): Topology {
  return createTopology()
    .topic('moves', { partitions: 6 })
    .topic('chat', { partitions: 2 })
    .topic('moves.dlq', { partitions: 1 })
    .event(Profile)
    .bind('moves', Move, { decoder: protobufDecoder(MoveProto), match: { header: 'content-type', value: 'protobuf' } })
    .bind('moves', Move, { decoder: customDecoder({ module: decodersModule, export: 'moveCsvCodec' }), match: { header: 'content-type', value: 'csv' } })
    .bind('moves', Move)
    .bind('chat', Chat, { decoder: customDecoder({ module: decodersModule, export: 'decodeUpperChat' }), match: { predicate: { module: decodersModule, export: 'isChatKey' } } })
    .bind('chat', Chat, { decoder: customDecoder({ module: decodersModule }) })
    .routing('moves', { dispatch: 'all', deadLetterTopic: 'moves.dlq' })
    .group('game-server', { topics: ['moves', 'chat'], shards: 2 })
    .build()
}

describe('resolveTopology', () => {
  it('re-creates event types after structuredClone', async () => {
    const live = await resolveTopology(structuredClone(fullTopology()))

    expect(live.eventTypes.map((type) => type.name)).toEqual(['Profile', 'Move', 'Chat'])
    expect(live.eventTypes[0]?.signature).toBe(Profile.signature)
    expect(live.eventTypes[1]?.signature).toBe(Move.signature)
    expect(live.eventTypes[2]?.signature).toBe(Chat.signature)
    expect(live.eventTypesByName.get('Chat')).toBe(live.eventTypes[2])
  })

  it('keeps topic ids, routing and groups', async () => {
    const live = await resolveTopology(structuredClone(fullTopology()))

    expect(live.topics.map((topic) => [topic.id, topic.name, topic.partitions])).toEqual([[1, 'moves', 6], [2, 'chat', 2], [3, 'moves.dlq', 1]])
    expect(live.topicsByName.get('chat')).toBe(live.topics[1])
    expect(live.topics[0]?.dispatch).toBe('all')
    expect(live.topics[0]?.deadLetterTopic).toBe('moves.dlq')
    expect(live.topics[1]?.dispatch).toBe('first')
    expect(live.topics[1]?.deadLetterTopic).toBeUndefined()
    expect(live.groups).toEqual([{ id: 1, groupId: 'game-server', topics: ['moves', 'chat'], initialOffset: 'latest', shards: 2 }])
  })

  it('decodes with protobuf, custom and JSON decoders', async () => {
    const live = await resolveTopology(structuredClone(fullTopology()))
    const [protobufBinding, csvBinding, jsonBinding] = live.topics[0]?.bindings ?? []

    expect(protobufBinding?.decoderName).toBe('protobuf game.Move')
    const protobufValue = MoveProto.encode(MoveProto.fromObject({ playerId: 7, x: 1.5 })).finish()
    expect(protobufBinding?.decode(protobufValue, record())).toEqual({ playerId: 7, x: 1.5 })

    expect(csvBinding?.decoderName).toBe('custom moveCsvCodec')
    expect(csvBinding?.decode(bytes('9,2.5'), record())).toEqual({ playerId: 9, x: 2.5 })

    expect(jsonBinding?.decoderName).toBe('json')
    expect(jsonBinding?.eventTypeId).toBe(2)
    expect(jsonBinding?.eventTypeName).toBe('Move')
    expect(jsonBinding?.decode(bytes('{"playerId":3,"x":-4}'), record())).toEqual({ playerId: 3, x: -4 })
  })

  it('passes the record to custom decoder functions', async () => {
    const live = await resolveTopology(structuredClone(fullTopology()))
    const [upperBinding, defaultBinding] = live.topics[1]?.bindings ?? []

    expect(upperBinding?.decode(bytes('hello'), record({ partition: 1 }))).toEqual({ text: 'HELLO', partition: 1 })
    expect(defaultBinding?.decoderName).toBe('custom default')
    expect(defaultBinding?.decode(bytes('hi'), record())).toEqual({ text: 'default:hi' })
  })

  it('rejects null values in codec decoders', async () => {
    const live = await resolveTopology(fullTopology())
    const jsonBinding = live.topics[0]?.bindings[2]

    let caught: unknown
    try {
      jsonBinding?.decode(null, record())
    } catch (error) {
      caught = error
    }
    expect((caught as TickbusError).code).toBe(ErrorCode.DECODE_FAILED)
    expect((caught as TickbusError).message).toContain('null (a tombstone)')
  })

  it('matches by header value', async () => {
    const live = await resolveTopology(structuredClone(fullTopology()))
    const protobufBinding = live.topics[0]?.bindings[0]
    const jsonBinding = live.topics[0]?.bindings[2]

    expect(protobufBinding?.matches(record({ headers: [['content-type', bytes('protobuf')]] }))).toBe(true)
    expect(protobufBinding?.matches(record({ headers: [['content-type', bytes('csv')], ['content-type', bytes('protobuf')]] }))).toBe(true)
    expect(protobufBinding?.matches(record({ headers: [['content-type', bytes('csv')]] }))).toBe(false)
    expect(protobufBinding?.matches(record({ headers: [['content-type', null]] }))).toBe(false)
    expect(protobufBinding?.matches(record({ headers: [['Content-Type', bytes('protobuf')]] }))).toBe(false)
    expect(protobufBinding?.matches(record())).toBe(false)
    expect(jsonBinding?.matches(record())).toBe(true)
  })

  it('matches with an imported predicate', async () => {
    const live = await resolveTopology(structuredClone(fullTopology()))
    const predicateBinding = live.topics[1]?.bindings[0]

    expect(predicateBinding?.matches(record({ key: bytes('chat:1') }))).toBe(true)
    expect(predicateBinding?.matches(record({ key: bytes('move:1') }))).toBe(false)
    expect(predicateBinding?.matches(record())).toBe(false)
  })

  it('rejects a predicate result that is not boolean', async () => {
    const topology = createTopology()
      .topic('chat', { partitions: 1 })
      .bind('chat', Chat, { match: { predicate: { module: decodersModule, export: 'asyncPredicate' } } })
      .build()
    const live = await resolveTopology(topology)

    let caught: unknown
    try {
      live.topics[0]?.bindings[0]?.matches(record())
    } catch (error) {
      caught = error
    }
    expect((caught as TickbusError).message).toContain('Match predicate asyncPredicate returned a Promise instead of a boolean. Predicates must be synchronous.')
  })

  it('rejects a missing export', async () => {
    const topology = createTopology()
      .topic('chat', { partitions: 1 })
      .bind('chat', Chat, { decoder: customDecoder({ module: decodersModule, export: 'decodeChat' }) })
      .build()

    const error = await resolveTopology(topology).then(() => undefined, (reason: unknown) => reason as TickbusError)

    expect(error?.code).toBe(ErrorCode.INVALID_TOPOLOGY)
    expect(error?.topic).toBe('chat')
    expect(error?.message).toContain('binding of event type "Chat" to topic "chat": custom decoder')
    expect(error?.message).toContain('has no export "decodeChat"')
    expect(error?.message).toContain('decodeUpperChat')
  })

  it('rejects an export that is not a decoder', async () => {
    const topology = createTopology()
      .topic('chat', { partitions: 1 })
      .bind('chat', Chat, { decoder: customDecoder({ module: decodersModule, export: 'notADecoder' }) })
      .build()

    const error = await resolveTopology(topology).then(() => undefined, (reason: unknown) => reason as TickbusError)

    expect(error?.code).toBe(ErrorCode.INVALID_TOPOLOGY)
    expect(error?.message).toContain('export "notADecoder"')
    expect(error?.message).toContain('must be a function (value, record) => event or an object with a decode(bytes) method, received 42')
  })

  it('rejects a predicate that is not a function', async () => {
    const topology = createTopology()
      .topic('chat', { partitions: 1 })
      .bind('chat', Chat, { match: { predicate: { module: decodersModule, export: 'moveCsvCodec' } } })
      .build()

    const error = await resolveTopology(topology).then(() => undefined, (reason: unknown) => reason as TickbusError)

    expect(error?.code).toBe(ErrorCode.INVALID_TOPOLOGY)
    expect(error?.message).toContain('match predicate export "moveCsvCodec"')
    expect(error?.message).toContain('must be a function (record) => boolean')
  })

  it('rejects a module that fails to import', async () => {
    const topology = createTopology()
      .topic('chat', { partitions: 1 })
      .bind('chat', Chat, { decoder: customDecoder({ module: brokenModule }) })
      .build()

    const error = await resolveTopology(topology).then(() => undefined, (reason: unknown) => reason as TickbusError)

    expect(error?.code).toBe(ErrorCode.INVALID_TOPOLOGY)
    expect(error?.message).toContain(`importing ${brokenModule.href} failed: broken fixture module`)
  })

  it('rejects a module file that does not exist', async () => {
    const missing = new URL('./fixtures/missing.mjs', import.meta.url)
    const topology = createTopology()
      .topic('chat', { partitions: 1 })
      .bind('chat', Chat, { decoder: customDecoder({ module: missing }) })
      .build()

    const error = await resolveTopology(topology).then(() => undefined, (reason: unknown) => reason as TickbusError)

    expect(error?.code).toBe(ErrorCode.INVALID_TOPOLOGY)
    expect(error?.message).toContain(`importing ${missing.href} failed`)
  })

  it('rejects inconsistent ids', async () => {
    const topology = fullTopology()
    const shuffled: Topology = { ...topology, topics: [...topology.topics].reverse() }

    const error = await resolveTopology(shuffled).then(() => undefined, (reason: unknown) => reason as TickbusError)

    expect(error?.code).toBe(ErrorCode.INVALID_TOPOLOGY)
    expect(error?.message).toContain('The topology is inconsistent: topic "moves.dlq" has id 3 at index 0')
  })
})

describe('eventTypeFromDescriptor', () => {
  it('keeps nullability and field order', () => {
    const descriptor = createTopology().event(Profile).build().eventTypes[0]
    if (descriptor === undefined) throw new Error('the topology has no event type')

    const copy = eventTypeFromDescriptor(structuredClone(descriptor))

    expect(copy.signature).toBe(Profile.signature)
    expect(copy.fields.map((field) => field.name)).toEqual(['name', 'avatar', 'score'])
    expect(copy.json.decode(bytes('{"name":"a","avatar":null,"score":"12"}'))).toEqual({ name: 'a', avatar: null, score: 12n })
  })

  it('rejects an unknown field kind', () => {
    let caught: unknown
    try {
      eventTypeFromDescriptor({ name: 'Bad', fields: { x: { kind: 'u128' as never, isNullable: false } } })
    } catch (error) {
      caught = error
    }
    expect((caught as TickbusError).code).toBe(ErrorCode.INVALID_TOPOLOGY)
    expect((caught as TickbusError).message).toBe('event type "Bad": field "x" has the unknown kind "u128".')
  })
})
