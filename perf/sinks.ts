import type { KafkaMessage } from 'kafkajs'
import type { Bus } from 'tickbus'
import { DataSetKind } from './data-sets.js'
import {
  EVENT_TYPE_HEADER, HIT_HEADER_VALUE, PerfHit, PerfHitProto, PerfMove, PerfMoveProto, PerfSnapshot,
  type HitObject, type MoveObject, type SnapshotObject,
} from './events.js'
import type { LogHistogram } from './stats.js'

const PLAYERS = 4096

/**
 * The per-event work of every consumer in the scenarios, the same for tickbus and the baselines:
 * a move writes a position, a hit lowers a health value, a snapshot adds its state's byte length.
 */
export class World {
  readonly positions = new Float32Array(PLAYERS * 3)
  readonly health = new Int32Array(PLAYERS).fill(1_000_000)
  /** Sum of sequence numbers and sizes, read at the end so that no work is optimized away. */
  checksum = 0

  applyMove (playerId: number, x: number, y: number, z: number, seq: number): void {
    const at = (playerId % PLAYERS) * 3
    this.positions[at] = x
    this.positions[at + 1] = y
    this.positions[at + 2] = z
    this.checksum += seq
  }

  applyHit (targetId: number, damage: number, seq: number): void {
    this.health[targetId % PLAYERS]! -= damage
    this.checksum += seq
  }

  applySnapshot (playerId: number, stateBytes: number, seq: number): void {
    this.checksum += playerId + stateBytes + seq
  }
}

/** Latency of one consumer's events in ms: visible time minus sentAt, for events sent at or after `fromMs`. */
export interface LatencyRecorder {
  readonly histogram: LogHistogram
  fromMs: number
}

/**
 * Reads a tickbus consumer's events in a tick. Counts every event the readers return (`total`)
 * and, separately, events seen for the first time (`unique`). A rebalance while shards join can
 * hand a record to a second shard, so the sink keeps each partition's highest offset per event
 * type and counts only a higher offset as new.
 */
export class TickbusSink {
  readonly world = new World()
  total = 0
  unique = 0
  readonly #moves
  readonly #hits
  readonly #snapshots
  readonly #partitions: number
  /** Highest offset read, per event type (move, hit, snapshot) and partition. */
  readonly #highest: Float64Array

  constructor (bus: Bus, kind: DataSetKind, partitions: number) {
    this.#partitions = partitions
    this.#highest = new Float64Array(partitions * 3).fill(-1)
    this.#moves = kind === DataSetKind.JSON_LARGE ? undefined : bus.reader(PerfMove)
    this.#hits = kind === DataSetKind.MIXED ? bus.reader(PerfHit) : undefined
    this.#snapshots = kind === DataSetKind.JSON_LARGE ? bus.reader(PerfSnapshot) : undefined
  }

  /** Reads every event the last tick claimed; `visibleAtMs` is the tick's wall clock. Returns the count read. */
  drain (visibleAtMs: number, latency: LatencyRecorder | null): number {
    const before = this.total
    const world = this.world
    const highest = this.#highest
    const partitions = this.#partitions
    if (this.#moves !== undefined) {
      for (const move of this.#moves) {
        world.applyMove(move.playerId, move.x, move.y, move.z, move.seq)
        this.#count(highest, move.partition, move.offset)
        if (latency !== null && move.sentAt >= latency.fromMs) latency.histogram.record(visibleAtMs - move.sentAt)
      }
    }
    if (this.#hits !== undefined) {
      for (const hit of this.#hits) {
        world.applyHit(hit.targetId, hit.damage, hit.seq)
        this.#count(highest, partitions + hit.partition, hit.offset)
        if (latency !== null && hit.sentAt >= latency.fromMs) latency.histogram.record(visibleAtMs - hit.sentAt)
      }
    }
    if (this.#snapshots !== undefined) {
      for (const snapshot of this.#snapshots) {
        // The state string is not decoded: the raw UTF-8 bytes are enough for the byte count.
        world.applySnapshot(snapshot.playerId, snapshot.fieldBytes('state')?.length ?? 0, snapshot.seq)
        this.#count(highest, partitions * 2 + snapshot.partition, snapshot.offset)
        if (latency !== null && snapshot.sentAt >= latency.fromMs) latency.histogram.record(visibleAtMs - snapshot.sentAt)
      }
    }
    return this.total - before
  }

  #count (highest: Float64Array, slot: number, offset: number): void {
    this.total++
    if (offset > highest[slot]!) {
      highest[slot] = offset
      this.unique++
    }
  }
}

/** A message decoded by a baseline consumer, tagged with its event type. */
export type DecodedMessage =
  | { readonly type: 'move', readonly event: MoveObject }
  | { readonly type: 'hit', readonly event: HitObject }
  | { readonly type: 'snapshot', readonly event: SnapshotObject }

/**
 * Consumer work of a kafkajs consumer without tickbus, on the main thread: JSON.parse or
 * protobufjs decode of each message value (chosen by header on the mixed topic), then the same
 * World work.
 */
export class KafkajsSink {
  readonly world = new World()
  total = 0
  readonly #kind: DataSetKind

  constructor (kind: DataSetKind) {
    this.#kind = kind
  }

  decode (message: KafkaMessage): DecodedMessage {
    const value = message.value!
    switch (this.#kind) {
      case DataSetKind.JSON_SMALL:
        return { type: 'move', event: JSON.parse(value.toString()) as MoveObject }
      case DataSetKind.PROTOBUF:
        return { type: 'move', event: PerfMoveProto.decode(value) as unknown as MoveObject }
      case DataSetKind.JSON_LARGE:
        return { type: 'snapshot', event: JSON.parse(value.toString()) as SnapshotObject }
      case DataSetKind.MIXED: {
        const header = message.headers?.[EVENT_TYPE_HEADER]
        if (header !== undefined && header.toString() === HIT_HEADER_VALUE) {
          return { type: 'hit', event: PerfHitProto.decode(value) as unknown as HitObject }
        }
        return { type: 'move', event: JSON.parse(value.toString()) as MoveObject }
      }
    }
  }

  /** Decodes one message and applies it to the world at once, as a consumer without a tick loop does. */
  consume (message: KafkaMessage): void {
    const value = message.value!
    this.total++
    switch (this.#kind) {
      case DataSetKind.JSON_SMALL:
      case DataSetKind.PROTOBUF: {
        const move = (this.#kind === DataSetKind.PROTOBUF ? PerfMoveProto.decode(value) : JSON.parse(value.toString())) as MoveObject
        this.world.applyMove(move.playerId, move.x, move.y, move.z, move.seq)
        return
      }
      case DataSetKind.JSON_LARGE: {
        const snapshot = JSON.parse(value.toString()) as SnapshotObject
        this.world.applySnapshot(snapshot.playerId, snapshot.state.length, snapshot.seq)
        return
      }
      case DataSetKind.MIXED: {
        const header = message.headers?.[EVENT_TYPE_HEADER]
        if (header !== undefined && header.toString() === HIT_HEADER_VALUE) {
          const hit = PerfHitProto.decode(value) as unknown as HitObject
          this.world.applyHit(hit.targetId, hit.damage, hit.seq)
        } else {
          const move = JSON.parse(value.toString()) as MoveObject
          this.world.applyMove(move.playerId, move.x, move.y, move.z, move.seq)
        }
      }
    }
  }

  /** Applies one decoded message to the world; returns its sentAt. */
  apply (decoded: DecodedMessage): number {
    this.total++
    switch (decoded.type) {
      case 'move': {
        const move = decoded.event
        this.world.applyMove(move.playerId, move.x, move.y, move.z, move.seq)
        return move.sentAt
      }
      case 'hit': {
        const hit = decoded.event
        this.world.applyHit(hit.targetId, hit.damage, hit.seq)
        return hit.sentAt
      }
      case 'snapshot': {
        const snapshot = decoded.event
        this.world.applySnapshot(snapshot.playerId, snapshot.state.length, snapshot.seq)
        return snapshot.sentAt
      }
    }
  }
}
