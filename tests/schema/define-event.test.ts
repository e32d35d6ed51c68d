import { describe, expect, expectTypeOf, it } from 'vitest'
import { ErrorCode, TickbusError } from '../../src/errors.js'
import { defineEvent, type EventInput, type EventOf, type ViewOf } from '../../src/schema/define-event.js'
import { t, type EventSchema, type FieldSpec } from '../../src/schema/fields.js'

function definitionError (define: () => unknown): TickbusError {
  try {
    define()
  } catch (error) {
    expect(error).toBeInstanceOf(TickbusError)
    expect((error as TickbusError).code).toBe(ErrorCode.INVALID_SCHEMA)
    return error as TickbusError
  }
  throw new Error('expected the definition to throw')
}

describe('defineEvent', () => {
  it('returns the name and schema', () => {
    const schema = { playerId: t.u32() }
    const Move = defineEvent('Move', schema)
    expect(Move.name).toBe('Move')
    expect(Move.schema).toBe(schema)
    expect(Move.field('playerId')?.kind).toBe('u32')
    expect(Move.field('missing')).toBeUndefined()
  })

  it('accepts dotted event names', () => {
    expect(defineEvent('game.player.Move', { x: t.f32() }).name).toBe('game.player.Move')
  })

  it('rejects an empty event name', () => {
    const error = definitionError(() => defineEvent('', { x: t.u32() }))
    expect(error.message).toContain('non-empty')
  })

  it('rejects a non-string event name', () => {
    definitionError(() => defineEvent(42 as unknown as string, { x: t.u32() }))
  })

  it('rejects event names with control characters or padding', () => {
    expect(definitionError(() => defineEvent('Mo\nve', { x: t.u32() })).message).toContain('control characters')
    expect(definitionError(() => defineEvent(' Move', { x: t.u32() })).message).toContain('whitespace')
  })

  it('rejects field names that are not identifiers', () => {
    for (const name of ['1x', 'player-id', '', 'a b', '$x', 'é']) {
      const error = definitionError(() => defineEvent('Move', { [name]: t.u32() }))
      expect(error.message).toContain(JSON.stringify(name))
      expect(error.message).toContain('not a valid name')
    }
  })

  it('rejects field names of view members', () => {
    for (const name of ['topic', 'offset', 'key', 'headers', 'headerBytes', 'fieldBytes', 'toObject', 'kind', 'partition', 'timestamp', 'groupId', 'keyString', 'eventTypeId']) {
      const error = definitionError(() => defineEvent('Move', { [name]: t.u32() }))
      expect(error.message).toContain(`field "${name}"`)
      expect(error.message).toContain('collides')
    }
  })

  it('rejects field names of Object.prototype members', () => {
    for (const name of ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', 'toJSON']) {
      const schema: Record<string, FieldSpec> = {}
      Object.defineProperty(schema, name, { value: t.u32(), enumerable: true })
      const error = definitionError(() => defineEvent('Move', schema))
      expect(error.message).toContain(`field "${name}"`)
    }
  })

  it('rejects unknown field kinds', () => {
    const error = definitionError(() => defineEvent('Move', { hp: { kind: 'u128', isNullable: false } as unknown as FieldSpec }))
    expect(error.message).toContain('field "hp"')
    expect(error.message).toContain('"u128"')
  })

  it('rejects declarations that are not field specs', () => {
    expect(definitionError(() => defineEvent('Move', { hp: 'u32' } as unknown as EventSchema)).message).toContain('field "hp"')
    expect(definitionError(() => defineEvent('Move', { hp: null } as unknown as EventSchema)).message).toContain('field "hp"')
    expect(definitionError(() => defineEvent('Move', { hp: { kind: 'u32' } } as unknown as EventSchema)).message).toContain('field "hp"')
  })

  it('rejects a schema that is not an object', () => {
    definitionError(() => defineEvent('Move', null as unknown as EventSchema))
    definitionError(() => defineEvent('Move', [t.u32()] as unknown as EventSchema))
  })

  it('derives the event types', () => {
    const Move = defineEvent('Move', {
      playerId: t.u32(),
      seq: t.i64(),
      alive: t.bool(),
      name: t.string(),
      avatar: t.bytes().nullable(),
    })
    expectTypeOf<EventOf<typeof Move>>().toEqualTypeOf<{
      playerId: number
      seq: bigint
      alive: boolean
      name: string
      avatar: Uint8Array | null
    }>()
    expectTypeOf<EventInput<typeof Move.schema>>().toMatchTypeOf<{ playerId: number, avatar?: Uint8Array | null | undefined }>()
    expectTypeOf<ViewOf<typeof Move>['seq']>().toEqualTypeOf<bigint>()
    expectTypeOf<ViewOf<typeof Move>['avatar']>().toEqualTypeOf<Uint8Array | null>()
    expectTypeOf<ViewOf<typeof Move>['topic']>().toEqualTypeOf<string>()
  })
})
