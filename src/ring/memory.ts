import { CONTROL_BYTES } from './layout.js'

/**
 * Typed views over one ring's SharedArrayBuffer, made once per ring and per thread. Every offset
 * that tickbus passes around is an absolute byte offset into `buffer`, so a typed-array index is
 * that offset shifted by the element size (fields are aligned to their own size).
 */
export interface RingMemory {
  readonly buffer: SharedArrayBuffer
  /** Data capacity in bytes (a power of two); the data region starts at CONTROL_BYTES. */
  readonly capacity: number
  readonly u8: Uint8Array
  readonly i8: Int8Array
  readonly u16: Uint16Array
  readonly i16: Int16Array
  readonly u32: Uint32Array
  readonly i32: Int32Array
  readonly f32: Float32Array
  readonly f64: Float64Array
  readonly i64: BigInt64Array
  readonly u64: BigUint64Array
  readonly view: DataView
}

/** Wraps a ring buffer in typed views; does not touch its contents. */
export function createRingMemory (buffer: SharedArrayBuffer): RingMemory {
  return {
    buffer,
    capacity: buffer.byteLength - CONTROL_BYTES,
    u8: new Uint8Array(buffer),
    i8: new Int8Array(buffer),
    u16: new Uint16Array(buffer),
    i16: new Int16Array(buffer),
    u32: new Uint32Array(buffer),
    i32: new Int32Array(buffer),
    f32: new Float32Array(buffer),
    f64: new Float64Array(buffer),
    i64: new BigInt64Array(buffer),
    u64: new BigUint64Array(buffer),
    view: new DataView(buffer),
  }
}
