import { EVENT_TYPE_HEADER, ItemPickedProto } from './events.js'

/** One payload in this many is malformed on purpose. */
export const MALFORMED_EVERY = 500
const PLAYERS = 64
const SEND_INTERVAL_MS = 20

/** A record as the demo produces it, for kafkajs or the embedded backend alike. */
export interface DemoRecord {
  key: string
  value: Buffer
  headers?: Record<string, string>
}

/** Counts of what the load produced, by kind. */
export interface LoadReport {
  type: 'done'
  moves: number
  picked: number
  dropped: number
  malformed: number
}

export interface LoadOptions {
  moves: string
  items: string
  /** Events per second. */
  rate: number
  durationMs: number
  /** Sends one batch per topic; resolves when the broker accepted it. */
  send (batches: Array<{ topic: string, records: DemoRecord[] }>): Promise<void>
  /** Returns true to stop early. */
  stopped? (): boolean
}

/**
 * Produces PlayerMoved (JSON), ItemPicked (protobuf, header `event-type: item-picked`) and
 * ItemDropped (JSON, header `event-type: item-dropped`) events keyed by player at a steady rate,
 * with one malformed PlayerMoved payload in MALFORMED_EVERY, and returns what it produced.
 */
export async function generateLoad (options: LoadOptions): Promise<LoadReport> {
  const report: LoadReport = { type: 'done', moves: 0, picked: 0, dropped: 0, malformed: 0 }
  let sequence = 0
  let sent = 0
  const started = Date.now()

  while (Date.now() - started < options.durationMs && options.stopped?.() !== true) {
    const due = Math.floor(((Date.now() - started) / 1000) * options.rate) - sent
    const moveRecords: DemoRecord[] = []
    const itemRecords: DemoRecord[] = []
    for (let i = 0; i < due; i++) {
      sequence++
      const playerId = sequence % PLAYERS
      const key = `player-${playerId}`
      if (sequence % MALFORMED_EVERY === 0) {
        // Not JSON at all: every PlayerMoved decoder rejects it.
        moveRecords.push({ key, value: Buffer.from(`{"playerId": ${playerId}, "x": oops`) })
        report.malformed++
      } else if (sequence % 5 === 0) {
        const value = ItemPickedProto.encode(ItemPickedProto.create({ playerId, itemId: sequence % 1000, quantity: 1 + (sequence % 3), eventId: sequence })).finish()
        itemRecords.push({ key, value: Buffer.from(value), headers: { [EVENT_TYPE_HEADER]: 'item-picked' } })
        report.picked++
      } else if (sequence % 7 === 0) {
        itemRecords.push({ key, value: Buffer.from(JSON.stringify({ playerId, itemId: sequence % 1000, eventId: sequence })), headers: { [EVENT_TYPE_HEADER]: 'item-dropped' } })
        report.dropped++
      } else {
        const angle = sequence / 100
        moveRecords.push({ key, value: Buffer.from(JSON.stringify({ playerId, x: Math.cos(angle) * 100, y: Math.sin(angle) * 100, eventId: sequence })) })
        report.moves++
      }
    }
    sent += due

    const batches = []
    if (moveRecords.length > 0) batches.push({ topic: options.moves, records: moveRecords })
    if (itemRecords.length > 0) batches.push({ topic: options.items, records: itemRecords })
    if (batches.length > 0) await options.send(batches)
    await new Promise((resolve) => setTimeout(resolve, SEND_INTERVAL_MS))
  }
  return report
}
