import { Bench } from 'tinybench'

import { RECORD_HEADER_BYTES, RecordKind } from '../src/ring/layout.js'
import { createRingMemory } from '../src/ring/memory.js'
import { readRecordKafkaOffset, writeRecordSource } from '../src/ring/record-header.js'
import { createRingBuffer } from '../src/ring/ring-buffer.js'
import { NO_RECORD, RingReader } from '../src/ring/ring-reader.js'
import { RING_FULL, RingWriter } from '../src/ring/ring-writer.js'
import { printPerEventTable } from './per-event-table.js'

/*
 * Write plus read cost per event on one thread, in batches as a tick reads them: the producer
 * writes BATCH events, then the consumer reads all of them and reads two fields of each. Every
 * event carries a topic, partition, Kafka offset, timestamp and a payload of PAYLOAD bytes.
 *
 * - tickbus ring: reserve, header fields and payload copied into the SharedArrayBuffer, one
 *   publish per batch; claim, nextRecord and reads straight from the buffer, one release.
 * - array of objects: one object per event with a copy of the payload (what a worker that hands
 *   over decoded events must build), pushed onto an array and read back.
 * - array of objects, shared payload: the same without the copy, a lower bound on that design.
 * - structuredClone of the batch: the serialization that postMessage performs on such a batch
 *   (no thread hop, so a lower bound on handing it to the main thread that way).
 */

const BATCH = 64
const RING_CAPACITY_BYTES = 64 * 1024
const TIMESTAMP = 1_700_000_000_000

interface QueuedEvent {
  topic: number
  partition: number
  offset: number
  timestamp: number
  payload: Uint8Array
}

/**
 * Sum of what the consumers read, so that no read can be optimized away. Each task adds to it once
 * per batch: a module-level number updated per event would allocate a heap number each time.
 */
let checksum = 0

for (const payloadBytes of [32, 256]) {
  const payload = new Uint8Array(payloadBytes).map((_, i) => i)
  const recordBytes = RECORD_HEADER_BYTES + payloadBytes
  const bench = new Bench({ name: `${BATCH} events per batch, ${payloadBytes}-byte payload (${recordBytes}-byte ring record)`, time: 2000, warmupTime: 500 })

  const memory = createRingMemory(createRingBuffer(RING_CAPACITY_BYTES))
  const writer = new RingWriter(memory)
  const reader = new RingReader(memory)
  let kafkaOffset = 0
  bench.add('tickbus ring', () => {
    for (let i = 0; i < BATCH; i++) {
      const offset = writer.reserve(recordBytes, RecordKind.EVENT)
      if (offset === RING_FULL) throw new Error('The benchmark ring is too small for one batch.')
      writeRecordSource(memory, offset, 1, 0, 3, kafkaOffset++, TIMESTAMP)
      memory.u8.set(payload, offset + RECORD_HEADER_BYTES)
    }
    writer.publish()

    reader.claim()
    let sum = 0
    for (let offset = reader.nextRecord(); offset !== NO_RECORD; offset = reader.nextRecord()) {
      sum += readRecordKafkaOffset(memory, offset) + memory.u8[offset + recordBytes - 1]!
    }
    reader.release(reader.mark())
    checksum += sum
  })

  const queue: QueuedEvent[] = []
  bench.add('array of objects', () => {
    for (let i = 0; i < BATCH; i++) {
      queue.push({ topic: 1, partition: 3, offset: kafkaOffset++, timestamp: TIMESTAMP, payload: payload.slice() })
    }
    let sum = 0
    for (const event of queue) sum += event.offset + event.payload[payloadBytes - 1]!
    queue.length = 0
    checksum += sum
  })

  bench.add('array of objects, shared payload', () => {
    for (let i = 0; i < BATCH; i++) {
      queue.push({ topic: 1, partition: 3, offset: kafkaOffset++, timestamp: TIMESTAMP, payload })
    }
    let sum = 0
    for (const event of queue) sum += event.offset + event.payload[payloadBytes - 1]!
    queue.length = 0
    checksum += sum
  })

  bench.add('structuredClone of the batch', () => {
    for (let i = 0; i < BATCH; i++) {
      queue.push({ topic: 1, partition: 3, offset: kafkaOffset++, timestamp: TIMESTAMP, payload })
    }
    const received = structuredClone(queue)
    let sum = 0
    for (const event of received) sum += event.offset + event.payload[payloadBytes - 1]!
    queue.length = 0
    checksum += sum
  })

  await bench.run()
  printPerEventTable(bench, BATCH)
}

if (checksum === -1) console.log('unreachable checksum value')
