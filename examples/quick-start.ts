/**
 * Quick start on the embedded backend: no broker, no Java. Declares an event type and a topology,
 * produces three records (one of them malformed) into the in-process broker, and reads them in a
 * few ticks.
 *
 *   npm run build && npx tsx examples/quick-start.ts
 */
import { createBus, createTopology, defineEvent, embeddedBackend, t } from 'tickbus'

const PlayerMoved = defineEvent('PlayerMoved', {
  playerId: t.u32(),
  x: t.f32(),
  y: t.f32(),
})

const topology = createTopology()
  .topic('moves', { partitions: 3 })
  .group('game-server', { topics: ['moves'], initialOffset: 'earliest' })
  .bind('moves', PlayerMoved)
  .build()

const backend = embeddedBackend()
const bus = await createBus({ topology, backend })
const moves = bus.reader(PlayerMoved)
const decodeErrors = bus.decodeErrors()

backend.produce('moves', { key: 'player-1', value: JSON.stringify({ playerId: 1, x: 0.5, y: 2 }) })
backend.produce('moves', { key: 'player-2', value: JSON.stringify({ playerId: 2, x: -1, y: 4.25 }) })
backend.produce('moves', { key: 'player-3', value: '{"playerId": 3, "x": ' })

let moved = 0
let failed = 0
const deadline = Date.now() + 10_000
while (moved + failed < 3 && Date.now() < deadline) {
  bus.tick()
  for (const move of moves) {
    console.log(`player ${move.playerId} moved to (${move.x}, ${move.y}) [${move.topic}/${move.partition}@${move.offset}]`)
    moved++
  }
  for (const error of decodeErrors) {
    console.log(`decode error at ${error.topic}/${error.partition}@${error.offset}: ${error.attempts}`)
    failed++
  }
  await new Promise((resolve) => setTimeout(resolve, 16))
}

await bus.stop()
console.log(`${moved} events, ${failed} decode error`)
if (moved !== 2 || failed !== 1) process.exitCode = 1
