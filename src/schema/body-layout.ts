import { alignRecord } from '../ring/layout.js'
import { FieldKind, fixedSizeOf, isVariableLength } from './fields.js'

/**
 * Layout of an event's record body. The body starts RECORD_HEADER_BYTES after the record start,
 * which is RECORD_ALIGN (8) aligned, so offsets below are relative to an 8-aligned address.
 *
 *   offset 0   8-byte fields   i64, u64, f64                      aligned to 8
 *              slots           string, bytes: u32 tailOffset, u32 length    aligned to 4
 *              4-byte fields   i32, u32, f32                      aligned to 4
 *              2-byte fields   i16, u16                           aligned to 2
 *              1-byte fields   i8, u8, bool (0 or 1)
 *              null bitmap     one bit per nullable scalar field in declaration order,
 *                              ceil(count / 8) bytes
 *   fixedBytes tail            string and bytes contents, unaligned, in declaration order
 *              padding         zero bytes up to a multiple of 8
 *
 * Groups are in this order, and within a group fields keep their declaration order. Because
 * group sizes only decrease, every field sits at a multiple of its own size without padding.
 *
 * A slot's tailOffset counts from the body start. A null string or bytes field has length
 * NO_BYTES (0xffffffff) and tailOffset 0; it has no bit in the null bitmap. A null scalar field
 * has its bit set (bit i of the bitmap is byte i >> 3, mask 1 << (i & 7)) and zero in its value
 * bytes. Multi-byte values are in the platform's byte order (little-endian on every platform
 * Node.js supports).
 */
export interface FieldLayout {
  readonly name: string
  readonly kind: FieldKind
  readonly nullable: boolean
  /** Position in the schema's declaration order. */
  readonly index: number
  /** Offset of the value, or of the (tailOffset, length) slot, from the body start, in bytes. */
  readonly offset: number
  /** Bytes taken in the fixed area: the value size, or 8 for a slot. */
  readonly size: 1 | 2 | 4 | 8
  /** Bit in the null bitmap, or -1 for non-nullable fields and for string and bytes fields. */
  readonly nullBit: number
}

export interface BodyLayout {
  /** Every field, in declaration order. */
  readonly fields: readonly FieldLayout[]
  /** Offset of the null bitmap from the body start, in bytes. */
  readonly bitmapOffset: number
  /** Size of the null bitmap, in bytes (0 when no scalar field is nullable). */
  readonly bitmapBytes: number
  /** End of the fixed area, where the tail starts, in bytes from the body start. */
  readonly fixedBytes: number
  /** Body size when every string and bytes field is empty or null: fixedBytes rounded up to 8. */
  readonly minBodyBytes: number
}

export interface FieldDeclaration {
  readonly name: string
  readonly kind: FieldKind
  readonly nullable: boolean
}

/** Fixed-area group of a field; groups are laid out in increasing order. */
function groupOf (kind: FieldKind): number {
  if (isVariableLength(kind)) return 1
  switch (fixedSizeOf(kind)) {
    case 8: return 0
    case 4: return 2
    case 2: return 3
    case 1: return 4
  }
}

/** Computes the body layout of fields given in declaration order. */
export function computeBodyLayout (declarations: readonly FieldDeclaration[]): BodyLayout {
  const order = declarations
    .map((declaration, index) => ({ declaration, index, group: groupOf(declaration.kind) }))
    .sort((a, b) => a.group - b.group || a.index - b.index)

  let nullBits = 0
  const nullBitOf = declarations.map((declaration) => declaration.nullable && !isVariableLength(declaration.kind) ? nullBits++ : -1)

  const byIndex: FieldLayout[] = new Array<FieldLayout>(declarations.length)
  let offset = 0
  for (const { declaration, index } of order) {
    const size = fixedSizeOf(declaration.kind)
    byIndex[index] = Object.freeze({
      name: declaration.name,
      kind: declaration.kind,
      nullable: declaration.nullable,
      index,
      offset,
      size,
      nullBit: nullBitOf[index]!,
    })
    offset += size
  }

  const bitmapBytes = (nullBits + 7) >> 3
  const fixedBytes = offset + bitmapBytes
  return Object.freeze({
    fields: Object.freeze(byIndex),
    bitmapOffset: offset,
    bitmapBytes,
    fixedBytes,
    minBodyBytes: alignRecord(fixedBytes),
  })
}

/**
 * Returns a one-line description of a layout, equal for two event types exactly when their
 * records are interchangeable, so threads can compare what each of them registered.
 */
export function describeLayout (eventName: string, layout: BodyLayout): string {
  const fields = layout.fields.map((field) => `${field.name}:${field.kind}${field.nullable ? '?' : ''}@${field.offset}`)
  return `${eventName}{${fields.join(',')}}/${layout.fixedBytes}`
}

/** RingMemory member that stores a scalar kind, and the shift from a byte offset to its index. */
export interface ScalarAccess {
  readonly array: 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64' | 'i64' | 'u64'
  readonly shift: 0 | 1 | 2 | 3
}

/** Returns how a scalar kind is stored; bool is a u8 holding 0 or 1. */
export function scalarAccessOf (kind: FieldKind): ScalarAccess {
  switch (kind) {
    case FieldKind.BOOL: return { array: 'u8', shift: 0 }
    case FieldKind.I8: return { array: 'i8', shift: 0 }
    case FieldKind.U8: return { array: 'u8', shift: 0 }
    case FieldKind.I16: return { array: 'i16', shift: 1 }
    case FieldKind.U16: return { array: 'u16', shift: 1 }
    case FieldKind.I32: return { array: 'i32', shift: 2 }
    case FieldKind.U32: return { array: 'u32', shift: 2 }
    case FieldKind.F32: return { array: 'f32', shift: 2 }
    case FieldKind.I64: return { array: 'i64', shift: 3 }
    case FieldKind.U64: return { array: 'u64', shift: 3 }
    case FieldKind.F64: return { array: 'f64', shift: 3 }
    case FieldKind.STRING:
    case FieldKind.BYTES:
      throw new Error(`scalarAccessOf: ${kind} is stored in the tail, not as a scalar`)
  }
}
