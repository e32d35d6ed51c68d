import protobuf from 'protobufjs'
import { Bench } from 'tinybench'

import { protobufCodec } from '../src/codecs/protobuf.js'
import { CONTROL_BYTES } from '../src/ring/layout.js'
import { createRingMemory } from '../src/ring/memory.js'
import { defineEvent, type EventOf } from '../src/schema/define-event.js'
import { t } from '../src/schema/fields.js'
import { nodeBufferOf, writeUtf8 } from '../src/schema/utf8.js'
import { printPerEventTable } from './per-event-table.js'

/*
 * Worker-side cost of turning a Kafka message value into a ring record body, per message, for
 * BATCH messages of one event type (eight fields, a 64-bit id above 2^53, a 10-character name):
 *
 * - JSON codec decode + encodeInto: UTF-8 decode, JSON.parse, per-field checks, then the body
 *   written into a SharedArrayBuffer.
 * - protobuf codec decode + encodeInto: protobufjs decode, conversion (Long to bigint), then the
 *   same write.
 * - UTF-8 decode + JSON.parse only / protobufjs decode only: the parsers alone, with no checks
 *   and no write, the floor that each codec builds on.
 *
 * Then the producing side (encode), and the string writes and reads that the record writer and
 * the views choose between.
 */

const BATCH = 64

const Move = defineEvent('Move', {
  playerId: t.u32(),
  x: t.f32(),
  y: t.f32(),
  heading: t.f32(),
  seq: t.i64(),
  name: t.string(),
  alive: t.bool(),
  hp: t.u16().nullable(),
})
type Move = EventOf<typeof Move>

const root = new protobuf.Root()
root.addJSON(protobuf.common.get('google/protobuf/wrappers.proto')!.nested!)
protobuf.parse(`syntax = "proto3"; package game; import "google/protobuf/wrappers.proto";
message Move {
  uint32 player_id = 1; float x = 2; float y = 3; float heading = 4; int64 seq = 5;
  string name = 6; bool alive = 7; google.protobuf.UInt32Value hp = 8;
}`, root)
const MoveType = root.lookupType('game.Move')
const protobufMove = protobufCodec(Move, MoveType)

const events: Move[] = Array.from({ length: BATCH }, (_, i) => ({
  playerId: 1000 + i,
  x: i * 0.25,
  y: -i * 0.5,
  heading: 1.5,
  seq: 2n ** 53n + BigInt(i),
  name: `player${String(i).padStart(4, '0')}`,
  alive: i % 2 === 0,
  hp: i % 4 === 0 ? null : 100 - i,
}))
const jsonMessages = events.map((event) => Move.json.encode(event))
const protobufMessages = events.map((event) => protobufMove.encode(event))

const memory = createRingMemory(new SharedArrayBuffer(CONTROL_BYTES + 64 * 1024))
const BODY_SLOT_BYTES = 256

/** Sum of results, so that no work can be optimized away; updated once per batch. */
let checksum = 0

const decode = new Bench({ name: `${BATCH} messages, decode into a record body`, time: 2000, warmupTime: 500 })

decode.add('JSON codec decode + encodeInto', () => {
  let written = 0
  for (let i = 0; i < BATCH; i++) {
    written += Move.encodeInto(Move.json.decode(jsonMessages[i]!), memory, CONTROL_BYTES + i * BODY_SLOT_BYTES, BODY_SLOT_BYTES)
  }
  checksum += written
})

decode.add('protobuf codec decode + encodeInto', () => {
  let written = 0
  for (let i = 0; i < BATCH; i++) {
    written += Move.encodeInto(protobufMove.decode(protobufMessages[i]!), memory, CONTROL_BYTES + i * BODY_SLOT_BYTES, BODY_SLOT_BYTES)
  }
  checksum += written
})

const textDecoder = new TextDecoder()
decode.add('UTF-8 decode + JSON.parse only', () => {
  let sum = 0
  for (let i = 0; i < BATCH; i++) {
    sum += (JSON.parse(textDecoder.decode(jsonMessages[i]!)) as { playerId: number }).playerId
  }
  checksum += sum
})

decode.add('protobufjs decode only', () => {
  let sum = 0
  for (let i = 0; i < BATCH; i++) {
    sum += (MoveType.decode(protobufMessages[i]!) as unknown as { playerId: number }).playerId
  }
  checksum += sum
})

await decode.run()
printPerEventTable(decode, BATCH)

const encode = new Bench({ name: `${BATCH} events, encode into a message value`, time: 2000, warmupTime: 500 })

encode.add('JSON codec encode', () => {
  let bytes = 0
  for (let i = 0; i < BATCH; i++) bytes += Move.json.encode(events[i]!).length
  checksum += bytes
})

encode.add('protobuf codec encode', () => {
  let bytes = 0
  for (let i = 0; i < BATCH; i++) bytes += protobufMove.encode(events[i]!).length
  checksum += bytes
})

await encode.run()
printPerEventTable(encode, BATCH)

// String writes into shared memory: the JavaScript loop of writeUtf8 (up to 32 UTF-16 units,
// ASCII only), Buffer.write on one Buffer over the whole SharedArrayBuffer, and
// TextEncoder.encodeInto, which needs a subarray per call.
const buffer = nodeBufferOf(memory)
const bytes = memory.u8
const textEncoder = new TextEncoder()
const STRING_AT = CONTROL_BYTES + 1024
const strings = [
  ['5 ASCII characters', 'alice'],
  ['16 ASCII characters', 'player-0001-blue'],
  ['24 ASCII characters', 'player-0001-blue-team-07'],
  ['32 ASCII characters', 'player-0001-blue-team-07-rank-42'],
  ['14 characters with non-ASCII', 'héllo wörld 😀'],
] as const
for (const [label, text] of strings) {
  const write = new Bench({ name: `string write, ${label}, ${BATCH} writes`, time: 1000, warmupTime: 300 })
  write.add('writeUtf8 (loop, then Buffer.write)', () => {
    let written = 0
    for (let i = 0; i < BATCH; i++) written += writeUtf8(bytes, buffer, text, STRING_AT + i * 128, 128)
    checksum += written
  })
  write.add('Buffer.write', () => {
    let written = 0
    for (let i = 0; i < BATCH; i++) written += buffer.write(text, STRING_AT + i * 128, 128, 'utf8')
    checksum += written
  })
  write.add('TextEncoder.encodeInto', () => {
    let written = 0
    for (let i = 0; i < BATCH; i++) written += textEncoder.encodeInto(text, bytes.subarray(STRING_AT + i * 128, STRING_AT + i * 128 + 128)).written
    checksum += written
  })
  await write.run()
  printPerEventTable(write, BATCH)
}

// String reads from shared memory, as the views decode string fields.
const readText = 'player-0001-blue'
const readLength = buffer.write(readText, STRING_AT, 128, 'utf8')
const read = new Bench({ name: `string read, 16 ASCII characters, ${BATCH} reads`, time: 1000, warmupTime: 300 })
read.add('Buffer.toString', () => {
  let length = 0
  for (let i = 0; i < BATCH; i++) length += buffer.toString('utf8', STRING_AT, STRING_AT + readLength).length
  checksum += length
})
read.add('TextDecoder.decode', () => {
  let length = 0
  for (let i = 0; i < BATCH; i++) length += textDecoder.decode(bytes.subarray(STRING_AT, STRING_AT + readLength)).length
  checksum += length
})
await read.run()
printPerEventTable(read, BATCH)

if (checksum === 0) console.log('checksum', checksum)
