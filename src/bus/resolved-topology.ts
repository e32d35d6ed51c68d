import type { BodyEncoder, IncomingRecord } from './ingest.js'

/**
 * The topology as a consumer worker uses it: plain descriptors turned back into event types,
 * decoders and match functions, with lookups by name and id.
 */
export interface ResolvedTopology {
  /** Topics by id - 1. */
  readonly topics: readonly ResolvedTopic[]
  readonly topicsByName: ReadonlyMap<string, ResolvedTopic>
  readonly groups: readonly { readonly id: number, readonly groupId: string, readonly topics: readonly string[] }[]
  /** Built-in event type of decode-error records. */
  readonly decodeErrorType: { readonly id: number, readonly encoder: BodyEncoder }
}

export interface ResolvedTopic {
  readonly id: number
  readonly name: string
  readonly dispatch: 'first' | 'all'
  readonly deadLetterTopic: string | undefined
  readonly bindings: readonly ResolvedBinding[]
}

export interface ResolvedBinding {
  readonly eventTypeId: number
  readonly eventTypeName: string
  /** Name reported in decode errors, such as `json` or `protobuf:game.Move`. */
  readonly decoderName: string
  readonly encoder: BodyEncoder
  /** Whether the binding applies to the record; may throw, which counts as a failed attempt. */
  matches (record: IncomingRecord): boolean
  /** Returns the event object or throws with the reason the payload is invalid. */
  decode (value: Uint8Array | null, record: IncomingRecord): unknown
}
