import { defineEvent } from '../schema/define-event.js'
import { t } from '../schema/fields.js'

/**
 * Body of a decode-error record: a fetched record that no binding of its topic could decode.
 * Topic, partition, offset, key, headers and timestamp are in the record header like for events.
 * `attempts` lists each decoder tried, the event type it decodes, and why it failed, as
 * `decoder (EventType): reason` items joined by `; `. `payload` is the raw record value, unchanged
 * (null for a tombstone).
 */
export const DecodeErrorEvent = defineEvent('DecodeError', {
  attempts: t.string(),
  payload: t.bytes().nullable(),
})

/** Event type id that decode-error records carry in their header; no user type has id 0. */
export const DECODE_ERROR_TYPE_ID = 0
