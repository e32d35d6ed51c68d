import type { Message } from 'kafkajs'
import { createTopology, jsonDecoder, protobufDecoder, type Topology } from 'tickbus'
import {
  EVENT_TYPE_HEADER, HIT_HEADER_VALUE, MOVE_HEADER_VALUE, PerfHit, PerfHitProto, PerfMove, PerfMoveProto, PerfSnapshot,
} from './events.js'

/** Payload families of the scenarios; each has its own topic layout and decoders. */
export const DataSetKind = {
  /** PerfMove as JSON, about 105 bytes. */
  JSON_SMALL: 'json-small',
  /** PerfMove as protobuf, about 45 bytes. */
  PROTOBUF: 'protobuf',
  /** PerfSnapshot as JSON, about 10 KB. */
  JSON_LARGE: 'json-large',
  /** One topic, a header selects the decoder: PerfMove as JSON and PerfHit as protobuf, alternating. */
  MIXED: 'mixed',
} as const
export type DataSetKind = (typeof DataSetKind)[keyof typeof DataSetKind]

export const DATA_SET_KINDS: readonly DataSetKind[] = Object.values(DataSetKind)

/** Characters of a PerfSnapshot's `state` string. */
export const SNAPSHOT_STATE_CHARS = 10_000
const SNAPSHOT_VARIANTS = 16

/** Deterministic PRNG (mulberry32), so that every run produces the same payload bytes. */
function createRandom (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let value = state
    value = Math.imul(value ^ (value >>> 15), value | 1)
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61)
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296
  }
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const snapshotStates: string[] = (() => {
  const random = createRandom(0x5eed)
  const states: string[] = []
  for (let variant = 0; variant < SNAPSHOT_VARIANTS; variant++) {
    let text = ''
    for (let i = 0; i < SNAPSHOT_STATE_CHARS; i++) text += ALPHABET[Math.floor(random() * ALPHABET.length)]
    states.push(text)
  }
  return states
})()

const ZONES = Array.from({ length: 16 }, (_, i) => `arena-${String(i).padStart(2, '0')}`)
const PLAYERS = 4096

function coordinate (sequence: number, phase: number): number {
  return Math.round(Math.cos(sequence / 97 + phase) * 500_000) / 1000
}

/**
 * Builds message `sequence` of a data set, sent to partition `sequence % partitions` with a
 * player key. `sentAt` is the producer's wall clock in ms (see perf/events.ts).
 */
export function createMessage (kind: DataSetKind, sequence: number, partitions: number, sentAt: number): Message {
  const playerId = sequence % PLAYERS
  const message: Message = { key: `p${playerId}`, value: null, partition: sequence % partitions }
  switch (kind) {
    case DataSetKind.JSON_SMALL:
      message.value = Buffer.from(JSON.stringify(moveObject(sequence, playerId, sentAt)))
      break
    case DataSetKind.PROTOBUF:
      message.value = Buffer.from(PerfMoveProto.encode(PerfMoveProto.create(moveObject(sequence, playerId, sentAt))).finish())
      break
    case DataSetKind.JSON_LARGE:
      message.value = Buffer.from(JSON.stringify({ playerId, seq: sequence, sentAt, state: snapshotStates[sequence % SNAPSHOT_VARIANTS] }))
      break
    case DataSetKind.MIXED:
      if (sequence % 2 === 0) {
        message.value = Buffer.from(JSON.stringify(moveObject(sequence, playerId, sentAt)))
        message.headers = { [EVENT_TYPE_HEADER]: MOVE_HEADER_VALUE }
      } else {
        const hit = { attackerId: playerId, targetId: (playerId * 7) % PLAYERS, damage: 1 + (sequence % 250), seq: sequence, sentAt }
        message.value = Buffer.from(PerfHitProto.encode(PerfHitProto.create(hit)).finish())
        message.headers = { [EVENT_TYPE_HEADER]: HIT_HEADER_VALUE }
      }
      break
  }
  return message
}

function moveObject (sequence: number, playerId: number, sentAt: number) {
  return {
    playerId,
    x: coordinate(sequence, 0),
    y: coordinate(sequence, 1),
    z: coordinate(sequence, 2) / 100,
    seq: sequence,
    sentAt,
    zone: ZONES[sequence % ZONES.length]!,
  }
}

/** Mean value size in bytes of the first `sample` messages of a data set. */
export function meanPayloadBytes (kind: DataSetKind, sample = 1000): number {
  let bytes = 0
  const sentAt = performance.timeOrigin + performance.now()
  for (let i = 0; i < sample; i++) bytes += (createMessage(kind, i, 1, sentAt).value as Buffer).length
  return Math.round(bytes / sample)
}

/** Builds the topology of a tickbus consumer of `kind`: one topic, one group of `shards` shards. */
export function createPerfTopology (kind: DataSetKind, topic: string, partitions: number, groupId: string, shards: number): Topology {
  const builder = createTopology()
    .topic(topic, { partitions, replicationFactor: 1 })
    .group(groupId, { topics: [topic], initialOffset: 'earliest', shards })
  switch (kind) {
    case DataSetKind.JSON_SMALL:
      builder.bind(topic, PerfMove, { decoder: jsonDecoder() })
      break
    case DataSetKind.PROTOBUF:
      builder.bind(topic, PerfMove, { decoder: protobufDecoder(PerfMoveProto) })
      break
    case DataSetKind.JSON_LARGE:
      builder.bind(topic, PerfSnapshot, { decoder: jsonDecoder() })
      break
    case DataSetKind.MIXED:
      builder
        .bind(topic, PerfMove, { decoder: jsonDecoder(), match: { header: EVENT_TYPE_HEADER, value: MOVE_HEADER_VALUE } })
        .bind(topic, PerfHit, { decoder: protobufDecoder(PerfHitProto), match: { header: EVENT_TYPE_HEADER, value: HIT_HEADER_VALUE } })
      break
  }
  return builder.build()
}
