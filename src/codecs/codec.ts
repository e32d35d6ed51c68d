/**
 * Converts between Kafka message values and event objects. The JSON and protobuf codecs
 * implement it, and so can a user's own pair of functions:
 *
 *   const text: Codec<{ line: string }> = {
 *     name: 'text',
 *     decode: (bytes) => ({ line: Buffer.from(bytes).toString('utf8') }),
 *     encode: (event) => Buffer.from(event.line, 'utf8'),
 *   }
 *
 * Codecs run on worker threads (decode) and on the producing side (encode).
 */
export interface Codec<T> {
  /** Name used in error messages and metrics labels. */
  readonly name: string
  /**
   * Converts a message value into an event. The result may share memory with `bytes` (bytes
   * fields as subarrays of it), so a caller that keeps the event after reusing `bytes` copies it.
   * Throws TickbusError DECODE_FAILED when the value does not match the event type.
   */
  decode (bytes: Uint8Array): T
  /** Converts an event into a message value. Throws TickbusError ENCODE_FAILED for an invalid event. */
  encode (event: T): Uint8Array
}
