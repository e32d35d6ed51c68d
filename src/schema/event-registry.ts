import { describeValue, ErrorCode, TickbusError } from '../errors.js'
import type { EventType } from './define-event.js'

/** Smallest and largest event type id; the record header stores it as a u16 and 0 means "not an event". */
export const MIN_EVENT_TYPE_ID = 1
export const MAX_EVENT_TYPE_ID = 65535

/**
 * Assigns the numeric ids that record headers carry for event types, and looks types up by id
 * and name. Ids are given explicitly or assigned in registration order from 1, skipping ids in
 * use. Threads that exchange records must agree on the ids: register the same types in the
 * same order on each side, or give explicit ids, and compare `EventType.signature` per id.
 *
 * Not thread-safe, and not shared between threads: each thread keeps its own registry.
 */
export class EventRegistry {
  readonly #byId = new Map<number, EventType>()
  readonly #idByType = new Map<EventType, number>()
  readonly #byName = new Map<string, EventType>()
  #nextId = MIN_EVENT_TYPE_ID

  /**
   * Registers `type` and returns its id: `id` when given, otherwise the first free id after the
   * last automatically assigned one, wrapping to 1. Registering a type again returns its id.
   *
   * @throws TickbusError INVALID_SCHEMA when `id` is not an integer from 1 to 65535, is taken by
   * another type, differs from the type's existing id, when another type has the same name, or
   * when all 65535 ids are taken.
   */
  register (type: EventType, id?: number): number {
    const existing = this.#idByType.get(type)
    if (existing !== undefined) {
      if (id !== undefined && id !== existing) {
        throw new TickbusError(ErrorCode.INVALID_SCHEMA, `Cannot register event type ${type.name} with id ${id}: it is already registered with id ${existing}.`)
      }
      return existing
    }

    const sameName = this.#byName.get(type.name)
    if (sameName !== undefined) {
      throw new TickbusError(
        ErrorCode.INVALID_SCHEMA,
        `Cannot register event type ${type.name}: another event type with that name is registered with id ${this.#idByType.get(sameName)}. Event type names must be unique in a registry.`,
      )
    }

    const assigned = id === undefined ? this.#findFreeId(type) : this.#checkId(type, id)
    this.#byId.set(assigned, type)
    this.#idByType.set(type, assigned)
    this.#byName.set(type.name, type)
    if (id === undefined) this.#nextId = assigned + 1
    return assigned
  }

  /**
   * Returns the id of a registered type. Allocates nothing.
   *
   * @throws TickbusError INVALID_SCHEMA when the type is not registered.
   */
  idOf (type: EventType): number {
    const id = this.#idByType.get(type)
    if (id === undefined) {
      throw new TickbusError(ErrorCode.INVALID_SCHEMA, `Event type ${type.name} is not registered; register it with the bus before producing or reading it.`)
    }
    return id
  }

  /** Returns the type registered with `id`, or undefined. */
  get (id: number): EventType | undefined {
    return this.#byId.get(id)
  }

  /** Returns the type registered under `name`, or undefined. */
  getByName (name: string): EventType | undefined {
    return this.#byName.get(name)
  }

  /** Number of registered types. */
  get size (): number {
    return this.#byId.size
  }

  /** Returns [id, type] pairs in ascending id order. */
  entries (): Array<[number, EventType]> {
    return [...this.#byId.entries()].sort((a, b) => a[0] - b[0])
  }

  #checkId (type: EventType, id: number): number {
    if (!Number.isInteger(id) || id < MIN_EVENT_TYPE_ID || id > MAX_EVENT_TYPE_ID) {
      throw new TickbusError(
        ErrorCode.INVALID_SCHEMA,
        `Cannot register event type ${type.name}: id must be an integer from ${MIN_EVENT_TYPE_ID} to ${MAX_EVENT_TYPE_ID}, received ${describeValue(id)}.`,
      )
    }
    const holder = this.#byId.get(id)
    if (holder !== undefined) {
      throw new TickbusError(ErrorCode.INVALID_SCHEMA, `Cannot register event type ${type.name} with id ${id}: the id is taken by ${holder.name}.`)
    }
    return id
  }

  #findFreeId (type: EventType): number {
    for (let id = this.#nextId; id <= MAX_EVENT_TYPE_ID; id++) {
      if (!this.#byId.has(id)) return id
    }
    for (let id = MIN_EVENT_TYPE_ID; id < this.#nextId; id++) {
      if (!this.#byId.has(id)) return id
    }
    throw new TickbusError(ErrorCode.INVALID_SCHEMA, `Cannot register event type ${type.name}: all ${MAX_EVENT_TYPE_ID} event type ids are taken.`)
  }
}
