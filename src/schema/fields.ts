/**
 * Field kinds of an event schema and the builders that declare them:
 *
 *   defineEvent('Move', { playerId: t.u32(), x: t.f32(), avatar: t.bytes().nullable() })
 *
 * The value rules here are the single source for every check of a field value: the record
 * writer inlines `invalidValueCondition` into its generated code, and the codecs call
 * `isValidFieldValue`, which is compiled from the same conditions.
 */

/** The kinds a schema field can have. */
export const FieldKind = {
  BOOL: 'bool',
  I8: 'i8',
  U8: 'u8',
  I16: 'i16',
  U16: 'u16',
  I32: 'i32',
  U32: 'u32',
  I64: 'i64',
  U64: 'u64',
  F32: 'f32',
  F64: 'f64',
  STRING: 'string',
  BYTES: 'bytes',
} as const

export type FieldKind = (typeof FieldKind)[keyof typeof FieldKind]

/** JavaScript type of a field value, by kind. 64-bit integers are bigint so they stay exact. */
export interface FieldValueByKind {
  bool: boolean
  i8: number
  u8: number
  i16: number
  u16: number
  i32: number
  u32: number
  i64: bigint
  u64: bigint
  f32: number
  f64: number
  string: string
  bytes: Uint8Array
}

/** Declaration of one field: its kind and whether it accepts null. Immutable. */
export interface FieldSpec<K extends FieldKind = FieldKind, N extends boolean = boolean> {
  readonly kind: K
  readonly isNullable: N
  /** Returns the same field kind that also accepts null. */
  nullable (): FieldSpec<K, true>
}

/** Field declarations of an event, by field name. */
export type EventSchema = Readonly<Record<string, FieldSpec>>

/** JavaScript type of a declared field: `| null` when the field is nullable. */
export type FieldValue<F> = F extends FieldSpec<infer K, infer N>
  ? (N extends true ? FieldValueByKind[K] | null : FieldValueByKind[K])
  : never

function fieldSpec<K extends FieldKind, N extends boolean> (kind: K, isNullable: N): FieldSpec<K, N> {
  return Object.freeze({
    kind,
    isNullable,
    nullable: () => fieldSpec(kind, true),
  })
}

/** Field builders. Each returns a non-nullable field; call `.nullable()` to accept null. */
export const t = {
  bool: () => fieldSpec(FieldKind.BOOL, false),
  i8: () => fieldSpec(FieldKind.I8, false),
  u8: () => fieldSpec(FieldKind.U8, false),
  i16: () => fieldSpec(FieldKind.I16, false),
  u16: () => fieldSpec(FieldKind.U16, false),
  i32: () => fieldSpec(FieldKind.I32, false),
  u32: () => fieldSpec(FieldKind.U32, false),
  /** Signed 64-bit integer, read and written as bigint. */
  i64: () => fieldSpec(FieldKind.I64, false),
  /** Unsigned 64-bit integer, read and written as bigint. */
  u64: () => fieldSpec(FieldKind.U64, false),
  /** IEEE 754 single precision; values are rounded to f32 when written. */
  f32: () => fieldSpec(FieldKind.F32, false),
  f64: () => fieldSpec(FieldKind.F64, false),
  /** UTF-8 text. Lone surrogates are written as U+FFFD. */
  string: () => fieldSpec(FieldKind.STRING, false),
  /** Raw bytes, given and returned as Uint8Array. */
  bytes: () => fieldSpec(FieldKind.BYTES, false),
} as const

const KINDS: ReadonlySet<string> = new Set(Object.values(FieldKind))

/** Tells whether a value is one of the field kinds. */
export function isFieldKind (value: unknown): value is FieldKind {
  return typeof value === 'string' && KINDS.has(value)
}

/** Tells whether a field kind is stored in the variable-length tail (string, bytes). */
export function isVariableLength (kind: FieldKind): boolean {
  return kind === FieldKind.STRING || kind === FieldKind.BYTES
}

/**
 * Bytes a field takes in the fixed area of a record body. A string or bytes field takes an
 * 8-byte slot there (u32 offset, u32 length) and its content goes to the tail.
 */
export function fixedSizeOf (kind: FieldKind): 1 | 2 | 4 | 8 {
  switch (kind) {
    case FieldKind.BOOL:
    case FieldKind.I8:
    case FieldKind.U8:
      return 1
    case FieldKind.I16:
    case FieldKind.U16:
      return 2
    case FieldKind.I32:
    case FieldKind.U32:
    case FieldKind.F32:
      return 4
    case FieldKind.I64:
    case FieldKind.U64:
    case FieldKind.F64:
    case FieldKind.STRING:
    case FieldKind.BYTES:
      return 8
  }
}

/** Inclusive range of each integer kind. */
export const INTEGER_RANGES = {
  i8: { min: -128, max: 127 },
  u8: { min: 0, max: 255 },
  i16: { min: -32768, max: 32767 },
  u16: { min: 0, max: 65535 },
  i32: { min: -2147483648, max: 2147483647 },
  u32: { min: 0, max: 4294967295 },
  i64: { min: -(2n ** 63n), max: 2n ** 63n - 1n },
  u64: { min: 0n, max: 2n ** 64n - 1n },
} as const

/**
 * Smallest magnitude that rounds to Infinity in f32: 2^128 - 2^103, halfway between the largest
 * finite f32 (2^128 - 2^104) and 2^128, which round-half-to-even sends up.
 */
export const F32_OVERFLOW_THRESHOLD = 2 ** 128 - 2 ** 103

/**
 * Returns JavaScript source for a condition that is true when `expression` is NOT a valid
 * non-null value of `kind`. The integer checks compare a number with its truncated copy, which
 * rejects fractions, NaN and out-of-range values in one comparison. The typeof test comes first
 * because bitwise operators throw on bigint and call valueOf on objects.
 * The expression must be a plain identifier because it is evaluated several times.
 */
export function invalidValueCondition (kind: FieldKind, expression: string): string {
  const v = expression
  switch (kind) {
    case FieldKind.BOOL:
      return `(${v} !== true && ${v} !== false)`
    case FieldKind.I8:
      return `(typeof ${v} !== 'number' || ((${v} << 24) >> 24) !== ${v})`
    case FieldKind.U8:
      return `(typeof ${v} !== 'number' || (${v} & 0xff) !== ${v})`
    case FieldKind.I16:
      return `(typeof ${v} !== 'number' || ((${v} << 16) >> 16) !== ${v})`
    case FieldKind.U16:
      return `(typeof ${v} !== 'number' || (${v} & 0xffff) !== ${v})`
    case FieldKind.I32:
      return `(typeof ${v} !== 'number' || (${v} | 0) !== ${v})`
    case FieldKind.U32:
      return `(typeof ${v} !== 'number' || (${v} >>> 0) !== ${v})`
    case FieldKind.I64:
      return `(typeof ${v} !== 'bigint' || ${v} < ${INTEGER_RANGES.i64.min}n || ${v} > ${INTEGER_RANGES.i64.max}n)`
    case FieldKind.U64:
      return `(typeof ${v} !== 'bigint' || ${v} < 0n || ${v} > ${INTEGER_RANGES.u64.max}n)`
    case FieldKind.F32:
      return `(typeof ${v} !== 'number' || ((${v} >= ${F32_OVERFLOW_THRESHOLD} || ${v} <= -${F32_OVERFLOW_THRESHOLD}) && ${v} !== Infinity && ${v} !== -Infinity))`
    case FieldKind.F64:
      return `(typeof ${v} !== 'number')`
    case FieldKind.STRING:
      return `(typeof ${v} !== 'string')`
    case FieldKind.BYTES:
      return `(!(${v} instanceof Uint8Array))`
  }
}

type ValueCheck = (value: unknown) => boolean

// Compiled from the same source text that the record writer inlines, so the two cannot disagree.
const VALUE_CHECKS = Object.fromEntries(
  Object.values(FieldKind).map((kind) => [
    kind,
    new Function('value', `return !${invalidValueCondition(kind, 'value')}`) as ValueCheck,
  ]),
) as Record<FieldKind, ValueCheck>

/** Tells whether `value` is a valid non-null value of `kind`. */
export function isValidFieldValue (kind: FieldKind, value: unknown): boolean {
  return VALUE_CHECKS[kind](value)
}

/** Describes the rule a non-null value of `kind` must follow, for error messages. */
export function describeValueRule (kind: FieldKind): string {
  switch (kind) {
    case FieldKind.BOOL:
      return 'must be a boolean'
    case FieldKind.I8:
    case FieldKind.U8:
    case FieldKind.I16:
    case FieldKind.U16:
    case FieldKind.I32:
    case FieldKind.U32:
      return `must be an integer from ${INTEGER_RANGES[kind].min} to ${INTEGER_RANGES[kind].max}`
    case FieldKind.I64:
    case FieldKind.U64:
      return `must be a bigint from ${INTEGER_RANGES[kind].min} to ${INTEGER_RANGES[kind].max}`
    case FieldKind.F32:
      return 'must be a number within the f32 range (magnitude below 2^128 - 2^103), NaN or ±Infinity'
    case FieldKind.F64:
      return 'must be a number'
    case FieldKind.STRING:
      return 'must be a string'
    case FieldKind.BYTES:
      return 'must be a Uint8Array'
  }
}
