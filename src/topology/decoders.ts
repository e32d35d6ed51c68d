import type { Type } from 'protobufjs'

/**
 * A module export given by the caller: `module` is a `file:` URL (string or URL object) or an
 * absolute path. A relative path or a bare package name is rejected because a worker would resolve
 * it against tickbus's own files. Use `new URL('./decoders.js', import.meta.url)` for a module next
 * to the caller, or `import.meta.resolve('package')` for a package. `export` defaults to `default`.
 */
export interface ModuleReferenceInput {
  readonly module: string | URL
  readonly export?: string
}

/** Decoder of a binding, as given to `bind()`. Create one with the functions below. */
export type DecoderSpec =
  | { readonly kind: 'json' }
  | { readonly kind: 'protobuf', readonly type: Type }
  | { readonly kind: 'custom', readonly decoder: ModuleReferenceInput }

/**
 * Condition under which a binding applies to a record, as given to `bind()`. Without one, a
 * binding matches every record of its topic.
 * - `{ header, value }` matches a record whose header `header` (case-sensitive) equals `value`
 *   as UTF-8. A header that occurs several times matches when any occurrence is equal.
 * - `{ predicate }` names a synchronous function `(record: BindingRecord) => boolean`, which the
 *   worker calls for each record of the topic. The binding matches when it returns `true`.
 */
export type MatchSpec =
  | { readonly header: string, readonly value: string }
  | { readonly predicate: ModuleReferenceInput }

/** Decodes record values as JSON with the event type's JSON codec. This is the default decoder. */
export function jsonDecoder (): DecoderSpec {
  return { kind: 'json' }
}

/**
 * Decodes record values as the protobuf message `type`. The type's whole Root travels to the
 * workers as JSON (`Root#toJSON()`), so the types it refers to must be in the same Root.
 */
export function protobufDecoder (type: Type): DecoderSpec {
  return { kind: 'protobuf', type }
}

/**
 * Decodes record values with user code that a worker imports. The export is either an object with
 * a `decode(bytes: Uint8Array)` method (a tickbus Codec) or a function
 * `(value: Uint8Array | null, record: BindingRecord) => event`. Both may throw to reject a record.
 */
export function customDecoder (reference: ModuleReferenceInput): DecoderSpec {
  return { kind: 'custom', decoder: reference }
}
