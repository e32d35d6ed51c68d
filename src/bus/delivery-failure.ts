import { ErrorCode, TickbusError } from '../errors.js'
import { Header, RECORD_HEADER_BYTES, RecordKind, alignRecord } from '../ring/layout.js'
import type { RingMemory } from '../ring/memory.js'
import { readRecordEventType, readRecordLength, writeRecordEventType, writeRecordHeader } from '../ring/record-header.js'
import { RING_FULL, type RingWriter } from '../ring/ring-writer.js'
import { defineEvent, type EventType, type EventViewOf } from '../schema/define-event.js'
import { t } from '../schema/fields.js'
import { EventView, type ViewContext } from '../schema/view.js'

/**
 * A delivery-failure record in the feedback ring (producer worker → main thread):
 *
 *   0                     outboundLength                         length - 8      length
 *   ┌─────────────────────┬──────────────────────────────────────┬───────────────┐
 *   │ the outbound record │ failure body (DeliveryFailureInfo)   │ u32 infoStart │
 *   │ as the writer wrote │ code, message, errorType, retriable, │ u32 0         │
 *   │ it                  │ attempts                             │               │
 *   └─────────────────────┴──────────────────────────────────────┴───────────────┘
 *
 * The first part is a byte copy of the outbound record (header, event body, key, headers), with
 * the kind set to DELIVERY_FAILURE and the partition set to the one the producer chose. A view
 * of the original event type therefore reads the event at the record offset itself. The failure
 * body starts at `infoStart` (= outboundLength, a multiple of 8), which the record's last 8 bytes
 * give, so a reader finds it from the record length alone.
 */
export const DeliveryFailureInfo = defineEvent('DeliveryFailure', {
  /** tickbus error code, such as TICKBUS_DELIVERY_FAILED or TICKBUS_BROKER_UNREACHABLE. */
  code: t.string(),
  message: t.string(),
  /** Kafka protocol error name (such as NOT_ENOUGH_REPLICAS) or the client error's class name. */
  errorType: t.string(),
  /** Whether sending the event again may succeed. */
  retriable: t.bool(),
  /** Send attempts made, the first one included. */
  attempts: t.u32(),
})

/** Fields of the failure body, as the worker passes them to writeDeliveryFailure(). */
export interface DeliveryFailureDetails {
  readonly code: ErrorCode
  readonly message: string
  readonly errorType: string
  readonly retriable: boolean
  readonly attempts: number
}

const FOOTER_BYTES = 8

/** Bytes of the failure record for an outbound record copy of `outboundBytes` bytes. */
export function deliveryFailureBytes (outboundBytes: number, details: DeliveryFailureDetails): number {
  return alignRecord(outboundBytes) + DeliveryFailureInfo.measure(details) + FOOTER_BYTES
}

/**
 * Writes a delivery-failure record built from a copy of an outbound record (unpublished: the
 * caller publishes). Returns false, having written nothing, when the ring has no room now.
 * Producer worker only.
 */
export function writeDeliveryFailure (writer: RingWriter, outboundRecord: Uint8Array, partition: number, details: DeliveryFailureDetails): boolean {
  const infoStart = alignRecord(outboundRecord.length)
  const infoBytes = DeliveryFailureInfo.measure(details)
  const size = infoStart + infoBytes + FOOTER_BYTES
  const offset = writer.reserve(size, RecordKind.DELIVERY_FAILURE)
  if (offset === RING_FULL) return false

  const memory = writer.memory
  memory.u8.set(outboundRecord, offset)
  // The copy brought the outbound record's length and kind; writeRecordHeader restores this
  // record's own and zeroes the event type, which is then copied back.
  const eventTypeId = readRecordEventType(memory, offset)
  writeRecordHeader(memory, offset, size, RecordKind.DELIVERY_FAILURE)
  writeRecordEventType(memory, offset, eventTypeId)
  memory.i32[(offset + Header.PARTITION) >> 2] = partition
  DeliveryFailureInfo.encodeInto(details, memory, offset + infoStart, infoBytes)
  memory.u32[(offset + size - FOOTER_BYTES) >> 2] = infoStart
  memory.u32[(offset + size - FOOTER_BYTES + 4) >> 2] = 0
  return true
}

/** A delivery failure copied out of shared memory by DeliveryFailureView.toObject(). */
export interface DeliveryFailure {
  /** Name of the event type that was written. */
  readonly eventType: string
  readonly topic: string
  /** Partition the producer sent to. */
  readonly partition: number
  /** Sequence number of the event: 0 for the first event the writer wrote, then +1 per event. */
  readonly sequence: number
  readonly key: Uint8Array | null
  readonly headers: Readonly<Record<string, string>>
  /** The event as written, copied into a plain object. */
  readonly event: Record<string, unknown>
  /** The final error, with `retriable` telling whether sending again may succeed. */
  readonly error: TickbusError
  /** Kafka protocol error name (such as NOT_ENOUGH_REPLICAS) or the client error's class name. */
  readonly errorType: string
  /** Send attempts made, the first one included. */
  readonly attempts: number
}

/**
 * View of one delivery-failure record: the failed event (through `event`, a view of its own
 * type), where it was going, and why it failed. The record metadata getters of EventView (topic,
 * partition, key, headers, timestamp) describe the failed message. Valid like any view until
 * its tick's records are released; `toObject()` copies it.
 */
export class DeliveryFailureView extends EventView {
  readonly $eventTypes: (id: number) => EventType | undefined
  readonly $info: EventViewOf<typeof DeliveryFailureInfo.schema>
  readonly $eventViews = new Map<number, EventView>()

  /** @internal Created by the bus's delivery-failure readers. */
  constructor (context: ViewContext, eventTypes: (id: number) => EventType | undefined) {
    super(context)
    this.$eventTypes = eventTypes
    this.$info = DeliveryFailureInfo.createView(context)
  }

  /** Sequence number of the failed event (see {@link DeliveryFailure.sequence}). */
  get sequence (): number {
    return this.offset
  }

  /** Name of the failed event's type, or `#<id>` when this bus does not know the id. */
  get eventType (): string {
    const id = this.eventTypeId
    return this.$eventTypes(id)?.name ?? `#${id}`
  }

  /** tickbus error code of the final error. */
  get code (): ErrorCode {
    return this.$failureBody().code as ErrorCode
  }

  get message (): string {
    return this.$failureBody().message
  }

  /** Kafka protocol error name (such as NOT_ENOUGH_REPLICAS) or the client error's class name. */
  get errorType (): string {
    return this.$failureBody().errorType
  }

  /** Whether sending the event again may succeed. */
  get retriable (): boolean {
    return this.$failureBody().retriable
  }

  /** Send attempts made, the first one included. */
  get attempts (): number {
    return this.$failureBody().attempts
  }

  /**
   * The failed event as a view of its own type, valid as long as this view. Throws
   * TOPOLOGY_MISMATCH when this bus does not know the event type id.
   */
  get event (): EventView & Record<string, unknown> {
    const id = this.eventTypeId
    let view = this.$eventViews.get(id)
    if (view === undefined) {
      const type = this.$eventTypes(id)
      if (type === undefined) {
        throw new TickbusError(ErrorCode.TOPOLOGY_MISMATCH, `Delivery failure at ring offset ${this.$recordOffset} names event type id ${id}, which this bus does not know.`)
      }
      view = type.createView(this.$context) as unknown as EventView
      this.$eventViews.set(id, view)
    }
    return view.$bind(this.$memory, this.$recordOffset, this.$generation) as EventView & Record<string, unknown>
  }

  /** The final error as a TickbusError, with the topic and partition in its context. */
  get error (): TickbusError {
    const body = this.$failureBody()
    return new TickbusError(body.code as ErrorCode, body.message, { retriable: body.retriable, topic: this.topic, partition: this.partition })
  }

  /** Copies the failure and its event out of shared memory. */
  override toObject (): Record<string, unknown> & DeliveryFailure {
    const key = this.key
    return {
      eventType: this.eventType,
      topic: this.topic,
      partition: this.partition,
      sequence: this.sequence,
      key: key === null ? null : key.slice(),
      headers: { ...this.headers },
      event: this.event.toObject(),
      error: this.error,
      errorType: this.errorType,
      attempts: this.attempts,
    }
  }

  /** Binds the failure-body view to this record's failure body and returns it. */
  $failureBody (): EventViewOf<typeof DeliveryFailureInfo.schema> {
    if (this.$checked) this.$assertReadable('failure')
    const memory: RingMemory = this.$memory
    const record = this.$recordOffset
    const length = readRecordLength(memory, record)
    const infoStart = memory.u32[(record + length - FOOTER_BYTES) >> 2]!
    const info = this.$info as unknown as EventView
    info.$bind(memory, record + infoStart - RECORD_HEADER_BYTES, this.$generation)
    return this.$info
  }
}
