import { describe, expect, it } from 'vitest'
import { ErrorCode, TickbusError } from '../../src/errors.js'
import { defineEvent } from '../../src/schema/define-event.js'
import { EventRegistry, MAX_EVENT_TYPE_ID } from '../../src/schema/event-registry.js'
import { t } from '../../src/schema/fields.js'

const Move = defineEvent('Move', { x: t.f32() })
const Chat = defineEvent('Chat', { text: t.string() })
const Spawn = defineEvent('Spawn', { id: t.u32() })

function registryError (register: () => unknown): TickbusError {
  try {
    register()
  } catch (error) {
    expect((error as TickbusError).code).toBe(ErrorCode.INVALID_SCHEMA)
    return error as TickbusError
  }
  throw new Error('expected registration to throw')
}

describe('EventRegistry', () => {
  it('assigns ids from 1 in registration order', () => {
    const registry = new EventRegistry()
    expect(registry.register(Move)).toBe(1)
    expect(registry.register(Chat)).toBe(2)
    expect(registry.idOf(Chat)).toBe(2)
    expect(registry.get(1)).toBe(Move)
    expect(registry.getByName('Chat')).toBe(Chat)
    expect(registry.size).toBe(2)
    expect(registry.entries()).toEqual([[1, Move], [2, Chat]])
  })

  it('returns the same id when registering again', () => {
    const registry = new EventRegistry()
    registry.register(Move)
    expect(registry.register(Move)).toBe(1)
    expect(registry.register(Move, 1)).toBe(1)
    expect(registry.size).toBe(1)
  })

  it('accepts explicit ids and skips them', () => {
    const registry = new EventRegistry()
    expect(registry.register(Move, 2)).toBe(2)
    expect(registry.register(Chat)).toBe(1)
    expect(registry.register(Spawn)).toBe(3)
    expect(registry.entries().map(([id]) => id)).toEqual([1, 2, 3])
  })

  it('rejects ids outside 1..65535', () => {
    for (const id of [0, -1, MAX_EVENT_TYPE_ID + 1, 1.5, NaN]) {
      const error = registryError(() => new EventRegistry().register(Move, id))
      expect(error.message).toContain('Move')
      expect(error.message).toContain('from 1 to 65535')
    }
  })

  it('rejects an id taken by another type', () => {
    const registry = new EventRegistry()
    registry.register(Move, 5)
    expect(registryError(() => registry.register(Chat, 5)).message).toContain('taken by Move')
  })

  it('rejects a second id for a registered type', () => {
    const registry = new EventRegistry()
    registry.register(Move, 5)
    expect(registryError(() => registry.register(Move, 6)).message).toContain('already registered with id 5')
  })

  it('rejects two types with one name', () => {
    const registry = new EventRegistry()
    registry.register(Move)
    const error = registryError(() => registry.register(defineEvent('Move', { y: t.f32() })))
    expect(error.message).toContain('Move')
    expect(error.message).toContain('unique')
  })

  it('rejects idOf for an unregistered type', () => {
    expect(registryError(() => new EventRegistry().idOf(Move)).message).toContain('Move is not registered')
  })

  it('rejects registration when every id is taken', () => {
    const registry = new EventRegistry()
    for (let id = 1; id <= MAX_EVENT_TYPE_ID; id++) registry.register(defineEvent(`E${id}`, {}), id)
    expect(registryError(() => registry.register(Move)).message).toContain('all 65535')
  })
})
