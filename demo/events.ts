import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'
import { createTopology, defineEvent, jsonDecoder, protobufDecoder, t } from 'tickbus'

/** Event types and topology of the demo game server, shared by the server and the load generator. */

export const PlayerMoved = defineEvent('PlayerMoved', {
  playerId: t.u32(),
  x: t.f32(),
  y: t.f32(),
  eventId: t.u64(),
})

export const ItemPicked = defineEvent('ItemPicked', {
  playerId: t.u32(),
  itemId: t.u32(),
  quantity: t.u16(),
  eventId: t.u64(),
})

export const ItemDropped = defineEvent('ItemDropped', {
  playerId: t.u32(),
  itemId: t.u32(),
  eventId: t.u64(),
})

export const protoRoot = protobuf.loadSync(fileURLToPath(new URL('./game.proto', import.meta.url)))
export const ItemPickedProto = protoRoot.lookupType('demo.ItemPicked')

/** Header that says which event type an item record carries. */
export const EVENT_TYPE_HEADER = 'event-type'

export function demoTopology (prefix: string) {
  const moves = `${prefix}-moves`
  const items = `${prefix}-items`
  return {
    moves,
    items,
    topology: createTopology()
      .topic(moves, { partitions: 6, replicationFactor: 1 })
      .topic(items, { partitions: 3, replicationFactor: 1 })
      .group(`${prefix}-server`, { topics: [moves, items], initialOffset: 'earliest' })
      .bind(moves, PlayerMoved, { decoder: jsonDecoder() })
      .bind(items, ItemPicked, { decoder: protobufDecoder(ItemPickedProto), match: { header: EVENT_TYPE_HEADER, value: 'item-picked' } })
      .bind(items, ItemDropped, { decoder: jsonDecoder(), match: { header: EVENT_TYPE_HEADER, value: 'item-dropped' } })
      .build(),
  }
}
