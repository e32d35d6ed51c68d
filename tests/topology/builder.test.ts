import protobuf from 'protobufjs'
import { describe, expect, it } from 'vitest'

import { ErrorCode, TickbusError } from '../../src/errors.js'
import { defineEvent } from '../../src/schema/define-event.js'
import { t } from '../../src/schema/fields.js'
import { createTopology, type TopologyBuilder } from '../../src/topology/builder.js'
import { customDecoder, jsonDecoder, protobufDecoder } from '../../src/topology/decoders.js'

const Move = defineEvent('Move', { playerId: t.u32(), x: t.f32() })
const Chat = defineEvent('Chat', { text: t.string() })

const gameProto = protobuf.parse(`
  syntax = "proto3";
  package game;
  message Move { uint32 player_id = 1; float x = 2; }
  message Chat { string text = 1; }
`).root

/** Returns a builder with one valid topic, binding and group, to which a test adds one mistake. */
function validBase (): TopologyBuilder {
  return createTopology()
    .topic('moves', { partitions: 6 })
    .bind('moves', Move)
    .group('game-server', { topics: ['moves'] })
}

function buildError (builder: TopologyBuilder): TickbusError {
  try {
    builder.build()
  } catch (error) {
    if (error instanceof TickbusError) return error
    throw error
  }
  throw new Error('build() returned, but it was expected to throw')
}

describe('createTopology build', () => {
  it('returns ids, defaults and bindings', () => {
    const topology = createTopology()
      .topic('moves', { partitions: 6, replicationFactor: 1, configs: { 'retention.ms': 3_600_000, 'cleanup.policy': 'delete' } })
      .topic('chat', { partitions: 2 })
      .event(Chat)
      .bind('moves', Move, { match: { header: 'event-type', value: 'move' } })
      .bind('chat', Chat, { decoder: protobufDecoder(gameProto.lookupType('game.Chat')) })
      .routing('moves', { dispatch: 'all' })
      .group('game-server', { topics: ['moves', 'chat'], initialOffset: 'earliest', shards: 3 })
      .group('audit', { topics: ['chat'] })
      .build()

    expect(topology.topics.map((topic) => [topic.id, topic.name])).toEqual([[1, 'moves'], [2, 'chat']])
    expect(topology.topics[0]?.partitions).toBe(6)
    expect(topology.topics[0]?.replicationFactor).toBe(1)
    expect(topology.topics[0]?.configs).toEqual({ 'cleanup.policy': 'delete', 'retention.ms': '3600000' })
    expect(topology.topics[0]?.dispatch).toBe('all')
    expect(topology.topics[1]?.dispatch).toBe('first')
    expect('replicationFactor' in (topology.topics[1] ?? {})).toBe(false)
    expect('deadLetterTopic' in (topology.topics[1] ?? {})).toBe(false)

    // Chat is registered by event() before Move is registered by bind().
    expect(topology.eventTypes.map((type) => [type.id, type.name])).toEqual([[1, 'Chat'], [2, 'Move']])
    expect(topology.eventTypes[1]?.fields).toEqual({ playerId: { kind: 'u32', isNullable: false }, x: { kind: 'f32', isNullable: false } })

    expect(topology.topics[0]?.bindings).toEqual([
      { eventType: 2, decoder: { kind: 'json' }, match: { kind: 'header', header: 'event-type', value: 'move' } },
    ])
    expect(topology.topics[1]?.bindings).toEqual([
      { eventType: 1, decoder: { kind: 'protobuf', root: 0, typeName: '.game.Chat' }, match: { kind: 'always' } },
    ])
    expect(topology.protobufRoots).toHaveLength(1)

    expect(topology.groups).toEqual([
      { id: 1, groupId: 'game-server', topics: ['moves', 'chat'], initialOffset: 'earliest', shards: 3 },
      { id: 2, groupId: 'audit', topics: ['chat'], initialOffset: 'latest', shards: 1 },
    ])
  })

  it('accepts declarations in any order', () => {
    const topology = createTopology()
      .group('game-server', { topics: ['moves'] })
      .bind('moves', Move)
      .routing('moves', { deadLetterTopic: 'moves.dlq' })
      .topic('moves', { partitions: 1 })
      .topic('moves.dlq', { partitions: 1 })
      .build()

    expect(topology.topics.map((topic) => topic.name)).toEqual(['moves', 'moves.dlq'])
    expect(topology.topics[0]?.deadLetterTopic).toBe('moves.dlq')
  })

  it('merges identical duplicate declarations', () => {
    const topology = validBase()
      .topic('moves', { partitions: 6 })
      .topic('chat', { partitions: 1, configs: { 'retention.ms': '1000', 'segment.ms': 500 } })
      .topic('chat', { partitions: 1, configs: { 'segment.ms': '500', 'retention.ms': 1000 } })
      .group('game-server', { topics: ['moves'], initialOffset: 'latest', shards: 1 })
      .bind('moves', Move)
      .event(Move)
      .routing('moves', { dispatch: 'first' })
      .routing('moves', { dispatch: 'first' })
      .build()

    expect(topology.topics.map((topic) => topic.name)).toEqual(['moves', 'chat'])
    expect(topology.groups).toHaveLength(1)
    expect(topology.eventTypes).toHaveLength(1)
    expect(topology.topics[0]?.bindings).toHaveLength(1)
  })

  it('keeps binding order and distinct bindings of one type', () => {
    const topology = createTopology()
      .topic('moves', { partitions: 1 })
      .bind('moves', Move, { match: { header: 'v', value: '2' }, decoder: protobufDecoder(gameProto.lookupType('game.Move')) })
      .bind('moves', Move, { match: { header: 'v', value: '1' } })
      .bind('moves', Chat)
      .build()

    const bindings = topology.topics[0]?.bindings ?? []
    expect(bindings.map((binding) => binding.eventType)).toEqual([1, 1, 2])
    expect(bindings[0]?.decoder.kind).toBe('protobuf')
    expect(bindings[1]?.match).toEqual({ kind: 'header', header: 'v', value: '1' })
  })

  it('stores one JSON copy per protobuf root', () => {
    const otherRoot = protobuf.parse('syntax = "proto3"; message Ping { uint32 id = 1; }').root
    const Ping = defineEvent('Ping', { id: t.u32() })
    const topology = createTopology()
      .topic('moves', { partitions: 1 })
      .bind('moves', Move, { decoder: protobufDecoder(gameProto.lookupType('game.Move')) })
      .bind('moves', Chat, { decoder: protobufDecoder(gameProto.lookupType('game.Chat')) })
      .bind('moves', Ping, { decoder: protobufDecoder(otherRoot.lookupType('Ping')) })
      .build()

    expect(topology.protobufRoots).toHaveLength(2)
    expect(topology.topics[0]?.bindings.map((binding) => binding.decoder)).toEqual([
      { kind: 'protobuf', root: 0, typeName: '.game.Move' },
      { kind: 'protobuf', root: 0, typeName: '.game.Chat' },
      { kind: 'protobuf', root: 1, typeName: '.Ping' },
    ])
  })

  it('wraps a protobuf type without a root', () => {
    const standalone = new protobuf.Type('Standalone').add(new protobuf.Field('id', 1, 'uint32'))
    const Standalone = defineEvent('Standalone', { id: t.u32() })
    const topology = createTopology()
      .topic('moves', { partitions: 1 })
      .bind('moves', Standalone, { decoder: protobufDecoder(standalone) })
      .build()

    expect(topology.topics[0]?.bindings[0]?.decoder).toEqual({ kind: 'protobuf', root: 0, typeName: '.Standalone' })
    expect(protobuf.Root.fromJSON(topology.protobufRoots[0] ?? {}).lookupType('.Standalone').fields.id?.type).toBe('uint32')
  })

  it('converts module paths to file URLs', () => {
    const topology = createTopology()
      .topic('moves', { partitions: 1 })
      .bind('moves', Move, { decoder: customDecoder({ module: '/srv/game/decoders.js', export: 'decodeMove' }) })
      .bind('moves', Chat, {
        decoder: customDecoder({ module: new URL('file:///srv/game/chat.js') }),
        match: { predicate: { module: 'file:///srv/game/match.js', export: 'isChat' } },
      })
      .build()

    const [first, second] = topology.topics[0]?.bindings ?? []
    expect(first?.decoder).toEqual({ kind: 'custom', decoder: { module: 'file:///srv/game/decoders.js', export: 'decodeMove' } })
    expect(second?.decoder).toEqual({ kind: 'custom', decoder: { module: 'file:///srv/game/chat.js', export: 'default' } })
    expect(second?.match).toEqual({ kind: 'predicate', predicate: { module: 'file:///srv/game/match.js', export: 'isChat' } })
  })

  it('returns data that survives structuredClone', () => {
    const topology = validBase()
      .bind('moves', Chat, { decoder: protobufDecoder(gameProto.lookupType('game.Chat')), match: { predicate: { module: '/srv/match.js' } } })
      .build()

    expect(structuredClone(topology)).toEqual(topology)
    expect(JSON.parse(JSON.stringify(topology))).toEqual(topology)
  })

  it('describes event fields as plain data', () => {
    const Profile = defineEvent('Profile', { name: t.string(), avatar: t.bytes().nullable(), level: t.u8() })
    const topology = createTopology().event(Profile).build()

    expect(topology.eventTypes[0]?.fields).toEqual({
      name: { kind: 'string', isNullable: false },
      avatar: { kind: 'bytes', isNullable: true },
      level: { kind: 'u8', isNullable: false },
    })
    expect(Object.keys(topology.eventTypes[0]?.fields ?? {})).toEqual(['name', 'avatar', 'level'])
  })

  it('accepts an empty topology', () => {
    expect(createTopology().build()).toEqual({ topics: [], groups: [], eventTypes: [], protobufRoots: [] })
  })
})

describe('createTopology validation', () => {
  /** Each case adds one mistake to {@link validBase}; the message must contain every listed part. */
  const cases: Array<{ name: string, build: (builder: TopologyBuilder) => TopologyBuilder, parts: string[], topic?: string, groupId?: string }> = [
    { name: 'group reads undeclared topic', build: (b) => b.group('audit', { topics: ['movs'] }), parts: ['group "audit"', 'topic "movs" is not declared', '.topic("movs", { partitions })'], groupId: 'audit', topic: 'movs' },
    { name: 'binding to undeclared topic', build: (b) => b.bind('chat', Chat), parts: ['binding of event type "Chat" to topic "chat"', 'topic "chat" is not declared'], topic: 'chat' },
    { name: 'routing of undeclared topic', build: (b) => b.routing('chat', { dispatch: 'all' }), parts: ['routing', 'topic "chat" is not declared'], topic: 'chat' },
    { name: 'conflicting partitions', build: (b) => b.topic('moves', { partitions: 3 }), parts: ['topic "moves" is declared twice with different settings', 'partitions 6 and 3'], topic: 'moves' },
    { name: 'conflicting replication factor', build: (b) => b.topic('moves', { partitions: 6, replicationFactor: 3 }), parts: ['topic "moves"', 'replicationFactor broker default and 3'], topic: 'moves' },
    { name: 'conflicting configs', build: (b) => b.topic('moves', { partitions: 6, configs: { 'retention.ms': 1 } }), parts: ['topic "moves"', 'configs {} and {"retention.ms":"1"}'], topic: 'moves' },
    { name: 'zero partitions', build: (b) => b.topic('chat', { partitions: 0 }), parts: ['topic "chat": partitions must be an integer from 1 to 2147483647, received 0'], topic: 'chat' },
    { name: 'fractional partitions', build: (b) => b.topic('chat', { partitions: 1.5 }), parts: ['topic "chat": partitions', 'received 1.5'], topic: 'chat' },
    { name: 'missing partitions', build: (b) => b.topic('chat', {} as never), parts: ['topic "chat": partitions', 'received undefined'], topic: 'chat' },
    { name: 'string partitions', build: (b) => b.topic('chat', { partitions: '3' as never }), parts: ['topic "chat": partitions', 'received "3"'], topic: 'chat' },
    { name: 'zero replication factor', build: (b) => b.topic('chat', { partitions: 1, replicationFactor: 0 }), parts: ['topic "chat": replicationFactor must be an integer from 1 to 32767, received 0'], topic: 'chat' },
    { name: 'fractional replication factor', build: (b) => b.topic('chat', { partitions: 1, replicationFactor: 2.5 }), parts: ['topic "chat": replicationFactor', 'received 2.5'], topic: 'chat' },
    { name: 'missing topic options', build: (b) => b.topic('chat', undefined as never), parts: ['topic "chat": options must be an object', 'received undefined'], topic: 'chat' },
    { name: 'config value object', build: (b) => b.topic('chat', { partitions: 1, configs: { 'retention.ms': {} as never } }), parts: ['topic "chat": config "retention.ms" must be a string, a finite number or a boolean'], topic: 'chat' },
    { name: 'config value NaN', build: (b) => b.topic('chat', { partitions: 1, configs: { 'retention.ms': Number.NaN } }), parts: ['config "retention.ms"', 'received NaN'], topic: 'chat' },
    { name: 'empty config name', build: (b) => b.topic('chat', { partitions: 1, configs: { '': 'x' } }), parts: ['topic "chat": config names must not be empty'], topic: 'chat' },
    { name: 'topic name with space', build: (b) => b.topic('chat room', { partitions: 1 }), parts: ['topic name may contain only ASCII letters, digits, ".", "_" and "-", received "chat room"'] },
    { name: 'topic name with slash', build: (b) => b.topic('chat/room', { partitions: 1 }), parts: ['topic name may contain only', '"chat/room"'] },
    { name: 'empty topic name', build: (b) => b.topic('', { partitions: 1 }), parts: ['topic name must not be empty'] },
    { name: 'topic name "."', build: (b) => b.topic('.', { partitions: 1 }), parts: ['topic name must not be "." or ".."'] },
    { name: 'topic name ".."', build: (b) => b.topic('..', { partitions: 1 }), parts: ['topic name must not be "." or ".."'] },
    { name: 'topic name too long', build: (b) => b.topic('t'.repeat(250), { partitions: 1 }), parts: ['topic name must be at most 249 characters, received 250'] },
    { name: 'topic name not a string', build: (b) => b.topic(7 as never, { partitions: 1 }), parts: ['topic name must be a string, received 7'] },
    { name: 'metric name collision', build: (b) => b.topic('game.moves', { partitions: 1 }).topic('game_moves', { partitions: 1 }), parts: ['topics "game.moves" and "game_moves" collide', 'Rename one'], topic: 'game_moves' },
    { name: 'group id with space', build: (b) => b.group('game server', { topics: ['moves'] }), parts: ['group id may contain only', 'received "game server"'] },
    { name: 'group id too long', build: (b) => b.group('g'.repeat(250), { topics: ['moves'] }), parts: ['group id must be at most 249 characters'] },
    { name: 'conflicting group', build: (b) => b.group('game-server', { topics: ['moves'], initialOffset: 'earliest' }), parts: ['group "game-server" is declared twice with different settings', '"initialOffset":"latest"', '"initialOffset":"earliest"'], groupId: 'game-server' },
    { name: 'group without topics', build: (b) => b.group('audit', { topics: [] }), parts: ['group "audit": topics must be a non-empty array', 'received an array of length 0'], groupId: 'audit' },
    { name: 'group topic listed twice', build: (b) => b.group('audit', { topics: ['moves', 'moves'] }), parts: ['group "audit": topic "moves" is listed twice'], groupId: 'audit' },
    { name: 'group topic not a string', build: (b) => b.group('audit', { topics: [5 as never] }), parts: ['group "audit": topic names must be strings, received 5'], groupId: 'audit' },
    { name: 'group topic without bindings', build: (b) => b.topic('chat', { partitions: 1 }).group('audit', { topics: ['chat'] }), parts: ['group "audit" reads topic "chat", which has no bindings', '.bind("chat", EventType)'], groupId: 'audit', topic: 'chat' },
    { name: 'invalid initial offset', build: (b) => b.group('audit', { topics: ['moves'], initialOffset: 'beginning' as never }), parts: ['group "audit": initialOffset must be "earliest" or "latest", received "beginning"'], groupId: 'audit' },
    { name: 'zero shards', build: (b) => b.group('audit', { topics: ['moves'], shards: 0 }), parts: ['group "audit": shards must be an integer >= 1, received 0'], groupId: 'audit' },
    { name: 'fractional shards', build: (b) => b.group('audit', { topics: ['moves'], shards: 1.5 }), parts: ['group "audit": shards', 'received 1.5'], groupId: 'audit' },
    { name: 'undeclared dead-letter topic', build: (b) => b.routing('moves', { deadLetterTopic: 'moves.dlq' }), parts: ['routing of topic "moves": dead-letter topic "moves.dlq" is not declared', '.topic("moves.dlq", { partitions })'], topic: 'moves' },
    { name: 'dead-letter topic is itself', build: (b) => b.routing('moves', { deadLetterTopic: 'moves' }), parts: ['routing of topic "moves": deadLetterTopic must differ from the topic itself'], topic: 'moves' },
    { name: 'invalid dead-letter name', build: (b) => b.routing('moves', { deadLetterTopic: 'moves dlq' }), parts: ['routing of topic "moves": deadLetterTopic may contain only'], topic: 'moves' },
    {
      name: 'dead-letter cycle',
      build: (b) => b.topic('moves.dlq', { partitions: 1 }).routing('moves', { deadLetterTopic: 'moves.dlq' }).routing('moves.dlq', { deadLetterTopic: 'moves' }),
      parts: ['dead-letter topics form a cycle ("moves" → "moves.dlq" → "moves")'],
      topic: 'moves',
    },
    { name: 'conflicting dispatch', build: (b) => b.routing('moves', { dispatch: 'first' }).routing('moves', { dispatch: 'all' }), parts: ['routing of topic "moves": dispatch is set twice, to "first" and "all"'], topic: 'moves' },
    {
      name: 'conflicting dead-letter topic',
      build: (b) => b.topic('a.dlq', { partitions: 1 }).topic('b.dlq', { partitions: 1 }).routing('moves', { deadLetterTopic: 'a.dlq' }).routing('moves', { deadLetterTopic: 'b.dlq' }),
      parts: ['routing of topic "moves": deadLetterTopic is set twice, to "a.dlq" and "b.dlq"'],
      topic: 'moves',
    },
    { name: 'invalid dispatch', build: (b) => b.routing('moves', { dispatch: 'any' as never }), parts: ['routing of topic "moves": dispatch must be "first" or "all", received "any"'], topic: 'moves' },
    { name: 'event name conflict', build: (b) => b.event(defineEvent('Move', { other: t.u8() })), parts: ['event type "Move" is registered twice with different fields', '"other"', 'Give each event type its own name'] },
    { name: 'event without name', build: (b) => b.event({ schema: {} } as never), parts: ['event type must come from defineEvent(), received an object with keys [schema]'] },
    { name: 'event schema not object', build: (b) => b.event({ name: 'Bad', schema: 3 } as never), parts: ['event type "Bad": schema must be an object of field specs, received 3'] },
    { name: 'event field not a spec', build: (b) => b.event({ name: 'Bad', schema: { x: { kind: 'u8' } } } as never), parts: ['event type "Bad": field "x" is not a field spec from t.*()'] },
    { name: 'protobuf type not matching', build: (b) => b.bind('moves', Chat, { decoder: protobufDecoder(gameProto.lookupType('game.Move')) }), parts: ['binding of event type "Chat" to topic "moves": protobuf decoder:', 'text'], topic: 'moves' },
    { name: 'unknown decoder', build: (b) => b.bind('moves', Chat, { decoder: { kind: 'avro' } as never }), parts: ['binding of event type "Chat" to topic "moves": decoder must come from jsonDecoder(), protobufDecoder() or customDecoder()'], topic: 'moves' },
    { name: 'protobuf decoder without type', build: (b) => b.bind('moves', Chat, { decoder: protobufDecoder({} as never) }), parts: ['binding of event type "Chat" to topic "moves": protobuf decoder: type must be a protobufjs Type'], topic: 'moves' },
    { name: 'relative module path', build: (b) => b.bind('moves', Chat, { decoder: customDecoder({ module: './decoders.js' }) }), parts: ['custom decoder: module must be a file: URL or an absolute path, received "./decoders.js"', "new URL('./file.js', import.meta.url)"], topic: 'moves' },
    { name: 'bare package module', build: (b) => b.bind('moves', Chat, { decoder: customDecoder({ module: 'game-decoders' }) }), parts: ['module must be a file: URL or an absolute path, received "game-decoders"'], topic: 'moves' },
    { name: 'http module URL', build: (b) => b.bind('moves', Chat, { decoder: customDecoder({ module: new URL('https://example.invalid/d.js') }) }), parts: ['module must be a file: URL or an absolute path, received "https://example.invalid/d.js"'], topic: 'moves' },
    { name: 'empty export name', build: (b) => b.bind('moves', Chat, { decoder: customDecoder({ module: '/srv/d.js', export: '' }) }), parts: ['custom decoder: export must be a non-empty export name, received ""'], topic: 'moves' },
    { name: 'match with header and predicate', build: (b) => b.bind('moves', Chat, { match: { header: 'h', value: 'v', predicate: { module: '/p.js' } } as never }), parts: ['match must have either "header" and "value" or "predicate"'], topic: 'moves' },
    { name: 'match without fields', build: (b) => b.bind('moves', Chat, { match: {} as never }), parts: ['match must have either "header" and "value" or "predicate"'], topic: 'moves' },
    { name: 'match with empty header', build: (b) => b.bind('moves', Chat, { match: { header: '', value: 'v' } }), parts: ['match header must be a non-empty string, received ""'], topic: 'moves' },
    { name: 'match with missing value', build: (b) => b.bind('moves', Chat, { match: { header: 'type' } as never }), parts: ['match value for header "type" must be a string, received undefined'], topic: 'moves' },
    { name: 'predicate relative path', build: (b) => b.bind('moves', Chat, { match: { predicate: { module: 'match.js' } } }), parts: ['match predicate: module must be a file: URL or an absolute path'], topic: 'moves' },
    { name: 'binding options not object', build: (b) => b.bind('moves', Chat, 'json' as never), parts: ['binding of event type "Chat" to topic "moves": options must be an object, received "json"'], topic: 'moves' },
  ]

  for (const testCase of cases) {
    it(`rejects ${testCase.name}`, () => {
      const error = buildError(testCase.build(validBase()))

      expect(error.code).toBe(ErrorCode.INVALID_TOPOLOGY)
      for (const part of testCase.parts) expect(error.message).toContain(part)
      if (testCase.topic !== undefined) expect(error.topic).toBe(testCase.topic)
      if (testCase.groupId !== undefined) expect(error.groupId).toBe(testCase.groupId)
    })
  }

  it('lists every problem in one error', () => {
    const error = buildError(validBase()
      .topic('chat', { partitions: 0 })
      .group('audit', { topics: ['nope'] })
      .bind('missing', Chat))

    expect(error.message).toMatch(/^Invalid topology, 3 problems:\n/)
    expect(error.message).toContain('  - topic "chat": partitions')
    expect(error.message).toContain('  - group "audit": topic "nope" is not declared')
    expect(error.message).toContain('  - binding of event type "Chat" to topic "missing": topic "missing" is not declared')
  })

  it('reports an invalid topic once, not at each reference', () => {
    const error = buildError(validBase()
      .topic('chat', { partitions: -1 })
      .bind('chat', Chat)
      .group('audit', { topics: ['chat'] }))

    expect(error.message).toBe('Invalid topology: topic "chat": partitions must be an integer from 1 to 2147483647, received -1.')
  })

  it('rejects more than 65535 topics', () => {
    const builder = createTopology()
    for (let i = 0; i <= 0xffff; i++) builder.topic(`t${i}`, { partitions: 1 })

    const error = buildError(builder)
    expect(error.message).toContain('a topology can contain at most 65535 topics')
    expect(error.message).toContain('received 65536')
  })

  it('accepts exactly 65535 event types', () => {
    const builder = createTopology()
    // Plain objects stand in for defineEvent() results to keep the test fast; the builder reads only name and schema.
    for (let i = 0; i < 0xffff; i++) builder.event({ name: `E${i}`, schema: {} } as never)

    expect(builder.build().eventTypes.at(-1)?.id).toBe(0xffff)
  })

  it('rejects more than 65535 event types', () => {
    const builder = createTopology()
    for (let i = 0; i <= 0xffff; i++) builder.event({ name: `E${i}`, schema: {} } as never)

    const error = buildError(builder)
    expect(error.message).toContain('event type "E65535": a topology can contain at most 65535 event types')
  })

  it('rejects more than 65535 groups', () => {
    const builder = validBase()
    for (let i = 0; i <= 0xffff; i++) builder.group(`g${i}`, { topics: ['moves'] })

    const error = buildError(builder)
    expect(error.message).toContain('a topology can contain at most 65535 consumer groups')
  })

  it('rejects a protobuf type missing after JSON conversion', () => {
    // A type whose parent is a plain Namespace: the JSON of that namespace lacks its own name.
    const namespace = new protobuf.Namespace('loose')
    const type = new protobuf.Type('Thing').add(new protobuf.Field('id', 1, 'uint32'))
    namespace.add(type)

    const error = buildError(validBase().bind('moves', Chat, { decoder: protobufDecoder(type) }))
    expect(error.message).toContain('type "loose.Thing" is not a message type in its root after conversion to JSON')
  })

  it('uses the json decoder by default', () => {
    const topology = createTopology().topic('moves', { partitions: 1 }).bind('moves', Move, { decoder: jsonDecoder() }).bind('moves', Chat).build()

    expect(topology.topics[0]?.bindings.map((binding) => binding.decoder)).toEqual([{ kind: 'json' }, { kind: 'json' }])
  })
})
