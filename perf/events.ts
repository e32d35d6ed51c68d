import protobuf from 'protobufjs'
import { defineEvent, t } from 'tickbus'

/**
 * Event types of the performance scenarios. Every event carries `sentAt`, the producer's wall
 * clock in ms since the epoch with sub-ms precision (performance.timeOrigin + performance.now()),
 * from which the latency scenarios compute end-to-end latency on the same machine.
 */

/** A small movement event, about 105 bytes as JSON and about 45 bytes as protobuf. */
export const PerfMove = defineEvent('PerfMove', {
  playerId: t.u32(),
  x: t.f32(),
  y: t.f32(),
  z: t.f32(),
  seq: t.u32(),
  sentAt: t.f64(),
  zone: t.string(),
})

/** A combat event, sent as protobuf on the mixed topic. */
export const PerfHit = defineEvent('PerfHit', {
  attackerId: t.u32(),
  targetId: t.u32(),
  damage: t.u16(),
  seq: t.u32(),
  sentAt: t.f64(),
})

/** A large event: a player's serialized state of about 10 KB as one string field. */
export const PerfSnapshot = defineEvent('PerfSnapshot', {
  playerId: t.u32(),
  seq: t.u32(),
  sentAt: t.f64(),
  state: t.string(),
})

// Field names are camelCase in the .proto text too, so protobufjs reports the same names.
const protoRoot = protobuf.parse(`syntax = "proto3";
package perf;
message PerfMove {
  uint32 playerId = 1;
  float x = 2;
  float y = 3;
  float z = 4;
  uint32 seq = 5;
  double sentAt = 6;
  string zone = 7;
}
message PerfHit {
  uint32 attackerId = 1;
  uint32 targetId = 2;
  uint32 damage = 3;
  uint32 seq = 4;
  double sentAt = 5;
}`).root

export const PerfMoveProto = protoRoot.lookupType('perf.PerfMove')
export const PerfHitProto = protoRoot.lookupType('perf.PerfHit')

/** Header whose value names the event type that a record of the mixed topic carries. */
export const EVENT_TYPE_HEADER = 'event-type'
export const MOVE_HEADER_VALUE = 'move'
export const HIT_HEADER_VALUE = 'hit'

/** Plain objects as JSON.parse and protobufjs return them, for the baseline consumers. */
export interface MoveObject {
  playerId: number
  x: number
  y: number
  z: number
  seq: number
  sentAt: number
  zone: string
}

export interface HitObject {
  attackerId: number
  targetId: number
  damage: number
  seq: number
  sentAt: number
}

export interface SnapshotObject {
  playerId: number
  seq: number
  sentAt: number
  state: string
}
