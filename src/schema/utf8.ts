import type { RingMemory } from '../ring/memory.js'

/**
 * UTF-8 helpers for strings in shared memory. Node.js Buffer methods work on one Buffer over a
 * whole SharedArrayBuffer, while TextEncoder.encodeInto and TextDecoder.decode need a subarray
 * per call. bench/codecs.bench.ts compares the write paths.
 */

const buffers = new WeakMap<SharedArrayBuffer, Buffer>()

/** Returns a Buffer over the whole ring buffer, made once per SharedArrayBuffer and thread. */
export function nodeBufferOf (memory: RingMemory): Buffer {
  let buffer = buffers.get(memory.buffer)
  if (buffer === undefined) {
    buffer = Buffer.from(memory.buffer)
    buffers.set(memory.buffer, buffer)
  }
  return buffer
}

/**
 * Maximum string length, in UTF-16 units, that writeUtf8 copies with a JavaScript loop. Up to
 * this length the loop is faster than Buffer.write for ASCII text, and the two are even at about
 * 32 (bench/codecs.bench.ts, "string write" tables). The loop hands over to Buffer.write at the
 * first non-ASCII character.
 */
export const ASCII_LOOP_MAX_LENGTH = 24

/**
 * Writes `text` as UTF-8 at byte `offset` of `bytes` and returns the number of bytes written.
 * `buffer` is a Buffer over the same memory as `bytes`. The caller guarantees that `maxBytes`
 * is at least the UTF-8 length of `text`; Buffer.write stops at the last whole character that
 * fits otherwise. Lone surrogates are written as U+FFFD (3 bytes), as Buffer.byteLength counts them.
 */
export function writeUtf8 (bytes: Uint8Array, buffer: Buffer, text: string, offset: number, maxBytes: number): number {
  const length = text.length
  if (length <= ASCII_LOOP_MAX_LENGTH) {
    for (let i = 0; i < length; i++) {
      const code = text.charCodeAt(i)
      if (code >= 0x80) return buffer.write(text, offset, maxBytes, 'utf8')
      bytes[offset + i] = code
    }
    return length
  }
  return buffer.write(text, offset, maxBytes, 'utf8')
}
