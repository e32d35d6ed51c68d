import { ErrorCode, TickbusError } from '../errors.js'
import { Header, NO_BYTES, RECORD_HEADER_BYTES, type RecordKind } from '../ring/layout.js'
import type { RingMemory } from '../ring/memory.js'
import { nodeBufferOf } from './utf8.js'

/**
 * State that every view of one bus shares. The bus owns it and is the only writer; views only
 * read it, on the thread that reads the rings.
 */
export interface ViewContext {
  /** Topic names indexed by the topic id in record headers. */
  readonly topics: readonly string[]
  /** Consumer group ids indexed by the group id in record headers. */
  readonly groups: readonly string[]
  /**
   * Highest generation whose records have been released. The bus raises it when it releases a
   * tick's records; in development mode a view bound with a generation at or below it throws.
   */
  releasedGeneration: number
  /** Whether views check that their records are still held (see {@link isDevMode}). */
  readonly devMode: boolean
}

export interface ViewContextOptions {
  topics?: readonly string[]
  groups?: readonly string[]
  /** Development mode; when omitted, the TICKBUS_DEV environment variable decides. */
  devMode?: boolean
}

/** Creates a view context with releasedGeneration 0, so that generations start at 1. */
export function createViewContext (options: ViewContextOptions = {}): ViewContext {
  return {
    topics: options.topics ?? [],
    groups: options.groups ?? [],
    releasedGeneration: 0,
    devMode: isDevMode(options.devMode),
  }
}

/**
 * Tells whether development mode is on: the option when it is given, otherwise true exactly
 * when the environment variable TICKBUS_DEV is "1". Development mode makes views throw
 * VIEW_RELEASED when read after their records were released, at some cost per field read.
 */
export function isDevMode (option?: boolean): boolean {
  if (option !== undefined) return option
  return typeof process !== 'undefined' && process.env.TICKBUS_DEV === '1'
}

const EMPTY_HEADERS: Readonly<Record<string, string>> = Object.freeze(Object.create(null) as Record<string, string>)

/**
 * Flyweight reader of one record in a ring: the metadata getters of every record, and the base
 * class of the generated per-event-type views. A reader keeps one view per event type and moves
 * it with `$bind`. Only the getters that return strings, bigints, subarrays or the headers
 * object allocate.
 *
 * Thread: the thread that reads the ring. A view is valid until the bus releases the records of
 * its generation. After that it reads whatever the producer wrote over them, or, in development
 * mode, throws TickbusError VIEW_RELEASED. Reading a view that was never bound throws
 * (VIEW_RELEASED in development mode, a TypeError otherwise).
 *
 * Members starting with `$` are the binding state that generated getters read; field names can
 * never start with `$`, so they never collide with fields.
 */
export class EventView {
  $context: ViewContext
  $memory: RingMemory
  $buffer: Buffer
  /** Absolute byte offset of the record's first byte in `$memory.buffer`. */
  $recordOffset = 0
  /** Generation the view was bound with; 0 while unbound. */
  $generation = 0
  /** Whether getters check `$generation` against the context (development mode). */
  readonly $checked: boolean
  $headers: Readonly<Record<string, string>> | undefined = undefined
  /** Event type name, for error messages; set on generated subclasses' prototypes. */
  declare readonly $eventName: string
  /** Body offset of each string and bytes field's slot, by field name. */
  declare readonly $slotOffsets: Readonly<Record<string, number>>

  constructor (context: ViewContext) {
    this.$context = context
    this.$checked = context.devMode
    // Null until $bind, so that a read of an unbound view fails instead of returning zeros.
    this.$memory = null as unknown as RingMemory
    this.$buffer = null as unknown as Buffer
  }

  /**
   * Points the view at the record starting at byte `recordOffset` of `memory`, read during
   * `generation` (1 or more). Returns the view. Allocates nothing unless `memory` differs from
   * the previous call's. Generated view classes carry their own copy of this method.
   */
  $bind (memory: RingMemory, recordOffset: number, generation: number): this {
    if (memory !== this.$memory) {
      this.$memory = memory
      this.$buffer = nodeBufferOf(memory)
    }
    this.$recordOffset = recordOffset
    this.$generation = generation
    this.$headers = undefined
    return this
  }

  /** Throws VIEW_RELEASED unless the view's records are still held; called in development mode. */
  $assertReadable (member: string): void {
    if (this.$generation > this.$context.releasedGeneration) return
    const qualifiedName = `${this.$eventName}.${member}`
    if (this.$generation === 0) {
      throw new TickbusError(ErrorCode.VIEW_RELEASED, `Cannot read ${qualifiedName}: the view is not bound to a record. Bind it with $bind() or read views that the bus hands out.`)
    }
    throw new TickbusError(
      ErrorCode.VIEW_RELEASED,
      `Cannot read ${qualifiedName}: the view's records (generation ${this.$generation}) were released ` +
      `(released up to generation ${this.$context.releasedGeneration}). Copy events with toObject() to keep them beyond their tick.`,
    )
  }

  /** Record kind from the header (RecordKind). */
  get kind (): RecordKind {
    if (this.$checked) this.$assertReadable('kind')
    return this.$memory.u8[this.$recordOffset + Header.KIND] as RecordKind
  }

  /** Event type id from the header, as assigned by the event registry; 0 for non-event records. */
  get eventTypeId (): number {
    if (this.$checked) this.$assertReadable('eventTypeId')
    return this.$memory.u16[(this.$recordOffset + Header.EVENT_TYPE) >> 1]!
  }

  /** Topic name, looked up in the context's topic table. Throws TOPOLOGY_MISMATCH for an unknown id. */
  get topic (): string {
    if (this.$checked) this.$assertReadable('topic')
    const id = this.$memory.u16[(this.$recordOffset + Header.TOPIC) >> 1]!
    return this.$context.topics[id] ?? this.$throwUnknownId('topic', id, this.$context.topics.length)
  }

  /** Consumer group id, looked up in the context's group table. Throws TOPOLOGY_MISMATCH for an unknown id. */
  get groupId (): string {
    if (this.$checked) this.$assertReadable('groupId')
    const id = this.$memory.u16[(this.$recordOffset + Header.GROUP) >> 1]!
    return this.$context.groups[id] ?? this.$throwUnknownId('group', id, this.$context.groups.length)
  }

  /** Kafka partition; -1 when unknown. */
  get partition (): number {
    if (this.$checked) this.$assertReadable('partition')
    return this.$memory.i32[(this.$recordOffset + Header.PARTITION) >> 2]!
  }

  /** Kafka offset, exact below 2^53; -1 when unknown. */
  get offset (): number {
    if (this.$checked) this.$assertReadable('offset')
    return this.$memory.f64[(this.$recordOffset + Header.OFFSET) >> 3]!
  }

  /** Broker timestamp in milliseconds since the epoch; -1 when unknown. */
  get timestamp (): number {
    if (this.$checked) this.$assertReadable('timestamp')
    return this.$memory.f64[(this.$recordOffset + Header.TIMESTAMP) >> 3]!
  }

  /** Message key as a subarray over shared memory (valid as long as the view), or null. */
  get key (): Uint8Array | null {
    if (this.$checked) this.$assertReadable('key')
    const memory = this.$memory
    const record = this.$recordOffset
    const length = memory.u32[(record + Header.KEY_LENGTH) >> 2]!
    if (length === NO_BYTES) return null
    const start = record + memory.u32[(record + Header.KEY_OFFSET) >> 2]!
    return memory.u8.subarray(start, start + length)
  }

  /** Message key decoded as UTF-8, or null. */
  get keyString (): string | null {
    if (this.$checked) this.$assertReadable('keyString')
    const memory = this.$memory
    const record = this.$recordOffset
    const length = memory.u32[(record + Header.KEY_LENGTH) >> 2]!
    if (length === NO_BYTES) return null
    const start = record + memory.u32[(record + Header.KEY_OFFSET) >> 2]!
    return this.$buffer.toString('utf8', start, start + length)
  }

  /**
   * Message headers decoded as UTF-8, made on first access after each bind. When a name repeats,
   * the last value wins; a header with a null value removes the name (headerBytes returns null).
   * The object has no prototype, so any header name is safe as a key.
   */
  get headers (): Readonly<Record<string, string>> {
    if (this.$checked) this.$assertReadable('headers')
    if (this.$headers === undefined) this.$headers = this.$decodeHeaders()
    return this.$headers
  }

  /**
   * Returns the value of the last header named `name` as a subarray over shared memory, or null
   * when there is no such header or its value is null. Allocates only the subarray, and a
   * decoded name per header when `name` is not ASCII.
   */
  headerBytes (name: string): Uint8Array | null {
    if (this.$checked) this.$assertReadable('headerBytes')
    const memory = this.$memory
    const bytes = memory.u8
    const record = this.$recordOffset
    if (memory.u32[(record + Header.HEADERS_LENGTH) >> 2] === 0) return null

    let at = record + memory.u32[(record + Header.HEADERS_OFFSET) >> 2]!
    const count = readU16(bytes, at)
    at += 2
    let found: Uint8Array | null = null
    for (let i = 0; i < count; i++) {
      const nameLength = readU16(bytes, at)
      const nameStart = at + 2
      const valueLength = readU32(bytes, nameStart + nameLength)
      const valueStart = nameStart + nameLength + 4
      if (this.$nameEquals(nameStart, nameLength, name)) {
        found = valueLength === NO_BYTES ? null : bytes.subarray(valueStart, valueStart + valueLength)
      }
      at = valueLength === NO_BYTES ? valueStart : valueStart + valueLength
    }
    return found
  }

  /**
   * Returns the raw bytes of a string or bytes field as a subarray over shared memory, without
   * decoding, or null when the field is null. Throws INVALID_SCHEMA when the event type has no
   * string or bytes field of that name.
   */
  fieldBytes (name: string): Uint8Array | null {
    if (this.$checked) this.$assertReadable(name)
    const slot = this.$slotOffsets[name]
    if (slot === undefined) {
      throw new TickbusError(ErrorCode.INVALID_SCHEMA, `Cannot read field bytes: event type ${this.$eventName} has no string or bytes field named ${JSON.stringify(name)}.`)
    }
    const memory = this.$memory
    const body = this.$recordOffset + RECORD_HEADER_BYTES
    const length = memory.u32[(body + slot + 4) >> 2]!
    if (length === NO_BYTES) return null
    const start = body + memory.u32[(body + slot) >> 2]!
    return memory.u8.subarray(start, start + length)
  }

  /** Copies the event's fields into a plain object; generated subclasses list every field. */
  toObject (): Record<string, unknown> {
    return {}
  }

  $decodeHeaders (): Readonly<Record<string, string>> {
    const memory = this.$memory
    const bytes = memory.u8
    const record = this.$recordOffset
    if (memory.u32[(record + Header.HEADERS_LENGTH) >> 2] === 0) return EMPTY_HEADERS

    const headers = Object.create(null) as Record<string, string>
    let at = record + memory.u32[(record + Header.HEADERS_OFFSET) >> 2]!
    const count = readU16(bytes, at)
    at += 2
    for (let i = 0; i < count; i++) {
      const nameLength = readU16(bytes, at)
      const nameStart = at + 2
      const name = this.$buffer.toString('utf8', nameStart, nameStart + nameLength)
      const valueLength = readU32(bytes, nameStart + nameLength)
      const valueStart = nameStart + nameLength + 4
      if (valueLength === NO_BYTES) {
        delete headers[name]
        at = valueStart
      } else {
        headers[name] = this.$buffer.toString('utf8', valueStart, valueStart + valueLength)
        at = valueStart + valueLength
      }
    }
    return headers
  }

  /** Compares the UTF-8 name at `start` with `name`, allocating only when `name` is not ASCII. */
  $nameEquals (start: number, length: number, name: string): boolean {
    // A string's UTF-8 length is never below its UTF-16 length, and equals it only for ASCII.
    if (length < name.length) return false
    if (length > name.length) return this.$buffer.toString('utf8', start, start + length) === name
    // Equal lengths: a match needs `name` to be ASCII, so a code unit of 0x80 or more rejects.
    const bytes = this.$memory.u8
    for (let i = 0; i < length; i++) {
      const code = name.charCodeAt(i)
      if (code >= 0x80 || bytes[start + i] !== code) return false
    }
    return true
  }

  $throwUnknownId (table: 'topic' | 'group', id: number, size: number): never {
    throw new TickbusError(
      ErrorCode.TOPOLOGY_MISMATCH,
      `Record at offset ${this.$recordOffset} names ${table} id ${id}, but the view context's ${table} table has ${size} entries. ` +
      'The context must come from the bus that wrote the ring.',
    )
  }
}

Object.defineProperty(EventView.prototype, '$eventName', { value: 'EventView' })
Object.defineProperty(EventView.prototype, '$slotOffsets', { value: Object.freeze(Object.create(null)) })

// Header blocks have no alignment, so their integers are read byte by byte, little-endian.
function readU16 (bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8)
}

function readU32 (bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0
}
