import { Bench } from 'tinybench'

import { CONTROL_BYTES, Header, NO_BYTES, RECORD_HEADER_BYTES, RecordKind, alignRecord } from '../src/ring/layout.js'
import { createRingMemory, type RingMemory } from '../src/ring/memory.js'
import { scalarAccessOf } from '../src/schema/body-layout.js'
import { defineEvent, type EventType } from '../src/schema/define-event.js'
import { t, type EventSchema, type FieldKind } from '../src/schema/fields.js'
import { createViewContext, EventView, type ViewContext } from '../src/schema/view.js'
import { printPerEventTable } from './per-event-table.js'

/*
 * Cost of reading events in a tick: BATCH events of one type lie in shared memory as ring records,
 * and each task reads three fields (x, y, playerId) of every event.
 *
 * - plain objects: property reads from an array of objects, the floor for any design.
 * - tickbus view: one view moved with $bind over the records, generated getters.
 * - tickbus view, development mode: the same with the released-generation check in each getter.
 * - view with closure getters: getters made by one closure factory per field kind and installed
 *   with Object.defineProperty, the alternative to generating code with new Function.
 * - JSON.parse: what a reader pays when events arrive as JSON text (the text already decoded).
 * - tickbus view, 3 fields + string: adds the UTF-8 decode of the 8-character name field.
 *
 * The second table reads eight event types with the same fields in different orders, each type in
 * its own loop as each reader of an application has. The views of all eight types share the
 * closure getters of the alternative, so those see eight view classes. The third table
 * interleaves three of the types in one loop, so every call site receives three view classes.
 */

const BATCH = 256

const schema = { playerId: t.u32(), x: t.f32(), y: t.f32(), seq: t.i64(), name: t.string() }
const Move = defineEvent('Move', schema)

/** Writes `events` as consecutive records of `type` and returns their record offsets. */
function writeRecords<S extends EventSchema> (memory: RingMemory, type: EventType<S>, events: ReadonlyArray<Parameters<EventType<S>['encodeInto']>[0]>, start: number): number[] {
  const offsets: number[] = []
  let offset = start
  for (const event of events) {
    const body = type.encodeInto(event, memory, offset + RECORD_HEADER_BYTES, 4096)
    if (body < 0) throw new Error('The benchmark buffer is too small.')
    const length = alignRecord(RECORD_HEADER_BYTES + body)
    memory.u32[(offset + Header.LENGTH) >> 2] = length
    memory.u8[offset + Header.KIND] = RecordKind.EVENT
    memory.u32[(offset + Header.KEY_LENGTH) >> 2] = NO_BYTES
    offsets.push(offset)
    offset += length
  }
  return offsets
}

/** Builds a view class whose scalar getters come from one closure per field kind, for comparison. */
function closureViewClass (type: EventType): new (context: ViewContext) => EventView {
  class ClosureView extends EventView {}
  for (const field of type.fields) {
    if (field.kind === 'string' || field.kind === 'bytes') continue
    Object.defineProperty(ClosureView.prototype, field.name, { get: closureGetter(field.kind, RECORD_HEADER_BYTES + field.offset) })
  }
  return ClosureView
}

function closureGetter (kind: FieldKind, at: number): (this: EventView) => unknown {
  switch (kind) {
    case 'u32': return function (this: EventView) { return this.$memory.u32[(this.$recordOffset + at) >> 2] }
    case 'f32': return function (this: EventView) { return this.$memory.f32[(this.$recordOffset + at) >> 2] }
    case 'i64': return function (this: EventView) { return this.$memory.i64[(this.$recordOffset + at) >> 3] }
    default: {
      const { array, shift } = scalarAccessOf(kind)
      return function (this: EventView) { return this.$memory[array][(this.$recordOffset + at) >> shift] }
    }
  }
}

interface MoveFields { playerId: number, x: number, y: number }
type MoveView = EventView & MoveFields & { name: string }

const events = Array.from({ length: BATCH }, (_, i) => ({ playerId: i, x: i * 0.5, y: -i, seq: BigInt(i) * 1_000_000_007n, name: `player${i % 10}x` }))
const memory = createRingMemory(new SharedArrayBuffer(CONTROL_BYTES + 1024 * 1024))
const offsets = writeRecords(memory, Move, events, CONTROL_BYTES)
const jsonTexts = events.map((event) => JSON.stringify({ ...event, seq: event.seq.toString() }))
const objects = events.map((event) => ({ ...event }))

/**
 * Sum of what the tasks read, so that no read can be optimized away. Each task adds to it once per
 * batch, because a module-level number updated per event would allocate a heap number each time.
 */
let checksum = 0

// Each task has its own loop: a loop shared between tasks would see every task's view class at
// its property reads and turn them megamorphic, which measures the benchmark instead of the views.

const oneType = new Bench({ name: `${BATCH} events of one type, three fields read per event`, time: 2000, warmupTime: 500 })

oneType.add('plain objects', () => {
  let sum = 0
  for (let i = 0; i < BATCH; i++) {
    const event = objects[i]!
    sum += event.x + event.y + event.playerId
  }
  checksum += sum
})

const productionView = Move.createView(createViewContext({ devMode: false })) as unknown as MoveView
oneType.add('tickbus view', () => {
  let sum = 0
  for (let i = 0; i < BATCH; i++) {
    productionView.$bind(memory, offsets[i]!, 1)
    sum += productionView.x + productionView.y + productionView.playerId
  }
  checksum += sum
})

const developmentView = Move.createView(createViewContext({ devMode: true })) as unknown as MoveView
oneType.add('tickbus view, development mode', () => {
  let sum = 0
  for (let i = 0; i < BATCH; i++) {
    developmentView.$bind(memory, offsets[i]!, 1)
    sum += developmentView.x + developmentView.y + developmentView.playerId
  }
  checksum += sum
})

const ClosureMoveView = closureViewClass(Move)
const closureView = new ClosureMoveView(createViewContext({ devMode: false })) as MoveView
oneType.add('view with closure getters', () => {
  let sum = 0
  for (let i = 0; i < BATCH; i++) {
    closureView.$bind(memory, offsets[i]!, 1)
    sum += closureView.x + closureView.y + closureView.playerId
  }
  checksum += sum
})

oneType.add('JSON.parse', () => {
  let sum = 0
  for (let i = 0; i < BATCH; i++) {
    const event = JSON.parse(jsonTexts[i]!) as MoveFields
    sum += event.x + event.y + event.playerId
  }
  checksum += sum
})

oneType.add('tickbus view, 3 fields + string', () => {
  let sum = 0
  for (let i = 0; i < BATCH; i++) {
    productionView.$bind(memory, offsets[i]!, 1)
    sum += productionView.x + productionView.y + productionView.playerId + productionView.name.length
  }
  checksum += sum
})

await oneType.run()
printPerEventTable(oneType, BATCH)

// Eight types with the same fields in different declaration orders, so their offsets differ.
const fieldOrders: Array<Array<keyof typeof schema>> = [
  ['playerId', 'x', 'y', 'seq', 'name'],
  ['x', 'seq', 'name', 'y', 'playerId'],
  ['name', 'y', 'playerId', 'seq', 'x'],
  ['y', 'x', 'playerId', 'name', 'seq'],
  ['seq', 'playerId', 'y', 'x', 'name'],
  ['x', 'y', 'name', 'playerId', 'seq'],
  ['playerId', 'name', 'seq', 'y', 'x'],
  ['y', 'playerId', 'x', 'name', 'seq'],
]
const types = fieldOrders.map((order, i) => defineEvent(`Type${i}`, Object.fromEntries(order.map((name) => [name, schema[name]])) as typeof schema))
const EVENTS_PER_TYPE = BATCH / types.length
let cursor = offsets[BATCH - 1]! + 4096
const offsetsByType = types.map((type, typeIndex) => {
  const typeOffsets = writeRecords(memory, type, events.slice(typeIndex * EVENTS_PER_TYPE, (typeIndex + 1) * EVENTS_PER_TYPE), cursor)
  cursor = typeOffsets[typeOffsets.length - 1]! + 256
  return typeOffsets
})
const mixedOffsets: number[] = []
const mixedTypes: number[] = []
for (let i = 0; i < BATCH; i++) {
  mixedTypes.push(i % 3)
  mixedOffsets.push(offsetsByType[i % 3]![Math.floor(i / 3) % EVENTS_PER_TYPE]!)
}

type ReadLoop = (view: MoveView, memory: RingMemory, offsets: readonly number[]) => number

/**
 * Returns a read loop with its own type feedback, as the loop of each reader in an application
 * has. V8 caches `new Function` by source text and shares the feedback of identical sources, so
 * each loop's source carries its index.
 */
function compileReadLoop (index: number): ReadLoop {
  return new Function('view', 'memory', 'offsets', `// read loop ${index}
    let sum = 0
    for (let i = 0; i < offsets.length; i++) {
      view.$bind(memory, offsets[i], 1)
      sum += view.x + view.y + view.playerId
    }
    return sum`) as ReadLoop
}

const productionContext = createViewContext({ devMode: false })
const generatedViews = types.map((type) => type.createView(productionContext) as unknown as MoveView)
const closureViews = types.map((type) => new (closureViewClass(type as unknown as EventType))(productionContext) as MoveView)

const perTypeLoops = new Bench({ name: `${BATCH} events of ${types.length} types, one read loop per type, three fields read per event`, time: 2000, warmupTime: 500 })
const generatedLoops = types.map((_, i) => compileReadLoop(i))
perTypeLoops.add('tickbus view (generated getters)', () => {
  let sum = 0
  for (let i = 0; i < types.length; i++) sum += generatedLoops[i]!(generatedViews[i]!, memory, offsetsByType[i]!)
  checksum += sum
})
const closureLoops = types.map((_, i) => compileReadLoop(types.length + i))
perTypeLoops.add('view with closure getters', () => {
  let sum = 0
  for (let i = 0; i < types.length; i++) sum += closureLoops[i]!(closureViews[i]!, memory, offsetsByType[i]!)
  checksum += sum
})

await perTypeLoops.run()
printPerEventTable(perTypeLoops, BATCH)

const interleaved = new Bench({ name: `${BATCH} events of 3 types interleaved in one loop, three fields read per event`, time: 2000, warmupTime: 500 })
interleaved.add('tickbus view (generated getters)', () => {
  let sum = 0
  for (let i = 0; i < BATCH; i++) {
    const view = generatedViews[mixedTypes[i]!]!
    view.$bind(memory, mixedOffsets[i]!, 1)
    sum += view.x + view.y + view.playerId
  }
  checksum += sum
})
interleaved.add('view with closure getters', () => {
  let sum = 0
  for (let i = 0; i < BATCH; i++) {
    const view = closureViews[mixedTypes[i]!]!
    view.$bind(memory, mixedOffsets[i]!, 1)
    sum += view.x + view.y + view.playerId
  }
  checksum += sum
})

await interleaved.run()
printPerEventTable(interleaved, BATCH)

if (checksum === 0) console.log('checksum', checksum)
