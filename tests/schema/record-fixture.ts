import { CONTROL_BYTES, Header, NO_BYTES, RECORD_HEADER_BYTES, RecordKind, alignRecord } from '../../src/ring/layout.js'
import { createRingMemory, type RingMemory } from '../../src/ring/memory.js'

/** Header fields of a hand-written test record; every field has a default. */
export interface TestRecordHeader {
  kind?: number
  eventTypeId?: number
  topic?: number
  group?: number
  partition?: number
  offset?: number
  timestamp?: number
  key?: Uint8Array | null
  headers?: ReadonlyArray<readonly [string, Uint8Array | null]>
}

/** Creates ring memory with `capacity` data bytes after the control words. */
export function createTestMemory (capacity = 1 << 16): RingMemory {
  return createRingMemory(new SharedArrayBuffer(CONTROL_BYTES + capacity))
}

/**
 * Writes a record header at `recordOffset` with the constants of layout.ts, and the key and
 * headers block after a body of `bodyBytes`. Header integers in the headers block are
 * little-endian and unaligned. Returns the record length.
 */
export function writeTestHeader (memory: RingMemory, recordOffset: number, bodyBytes: number, header: TestRecordHeader = {}): number {
  const view = memory.view
  let cursor = RECORD_HEADER_BYTES + bodyBytes

  view.setUint8(recordOffset + Header.KIND, header.kind ?? RecordKind.EVENT)
  view.setUint8(recordOffset + Header.FLAGS, 0)
  view.setUint16(recordOffset + Header.EVENT_TYPE, header.eventTypeId ?? 1, true)
  view.setUint16(recordOffset + Header.TOPIC, header.topic ?? 0, true)
  view.setUint16(recordOffset + Header.GROUP, header.group ?? 0, true)
  view.setInt32(recordOffset + Header.PARTITION, header.partition ?? -1, true)
  view.setFloat64(recordOffset + Header.OFFSET, header.offset ?? -1, true)
  view.setFloat64(recordOffset + Header.TIMESTAMP, header.timestamp ?? -1, true)

  const key = header.key ?? null
  if (key === null) {
    view.setUint32(recordOffset + Header.KEY_OFFSET, 0, true)
    view.setUint32(recordOffset + Header.KEY_LENGTH, NO_BYTES, true)
  } else {
    memory.u8.set(key, recordOffset + cursor)
    view.setUint32(recordOffset + Header.KEY_OFFSET, cursor, true)
    view.setUint32(recordOffset + Header.KEY_LENGTH, key.length, true)
    cursor += key.length
  }

  const headers = header.headers ?? []
  if (headers.length === 0) {
    view.setUint32(recordOffset + Header.HEADERS_OFFSET, 0, true)
    view.setUint32(recordOffset + Header.HEADERS_LENGTH, 0, true)
  } else {
    const start = cursor
    view.setUint16(recordOffset + cursor, headers.length, true)
    cursor += 2
    for (const [name, value] of headers) {
      const nameBytes = Buffer.from(name, 'utf8')
      view.setUint16(recordOffset + cursor, nameBytes.length, true)
      memory.u8.set(nameBytes, recordOffset + cursor + 2)
      cursor += 2 + nameBytes.length
      view.setUint32(recordOffset + cursor, value === null ? NO_BYTES : value.length, true)
      cursor += 4
      if (value !== null) {
        memory.u8.set(value, recordOffset + cursor)
        cursor += value.length
      }
    }
    view.setUint32(recordOffset + Header.HEADERS_OFFSET, start, true)
    view.setUint32(recordOffset + Header.HEADERS_LENGTH, cursor - start, true)
  }

  const length = alignRecord(cursor)
  view.setUint32(recordOffset + Header.LENGTH, length, true)
  return length
}
