/**
 * Layout of the producer's control buffer: a small SharedArrayBuffer of Int32 slots beside the
 * outbound ring (main thread → producer worker) and the feedback ring (producer worker → main
 * thread). The producer worker writes every slot; the main thread only reads them.
 *
 *   slot byte  name              meaning
 *   0          WAIT_EPOCH        a wait counter shifted left by 2, ORed with the WaitState bits:
 *                                set while the worker sleeps in Atomics.waitAsync on the outbound
 *                                ring's PUBLISHED slot, clear while it runs
 *   64         SETTLED           sequence number below which every event is settled (delivered or
 *                                reported as failed in the feedback ring); wraps at 2^32
 *   128        DELIVERED         events the broker acknowledged (with acks=0: sent)
 *   132        FAILED            events reported as delivery failures
 *   136        RETRIES           send attempts repeated after a retriable error
 *   140        IN_FLIGHT_EVENTS  events read from the ring and not settled yet
 *   144        IN_FLIGHT_BYTES   worker memory those events hold (encoded value, key, headers and
 *                                the copy of the ring record kept for a failure report)
 *   148        SENDS             produce calls that succeeded, one per partition batch
 *   192        (end)
 *
 * WAIT_EPOCH sits on its own cache line because the main thread loads it on every write, while
 * the worker updates the counters after every send.
 *
 * Every event written into the outbound ring carries a sequence number in its header's offset
 * field: 0 for the first event the writer wrote, then +1 per event. Sequence numbers are the
 * order in which the worker reads events, and SETTLED compares with them as wrapping uint32.
 */

/** Int32 slot indexes (byte offset / 4). */
export const ProducerSlot = {
  WAIT_EPOCH: 0,
  SETTLED: 64 / 4,
  DELIVERED: 128 / 4,
  FAILED: 132 / 4,
  RETRIES: 136 / 4,
  IN_FLIGHT_EVENTS: 140 / 4,
  IN_FLIGHT_BYTES: 144 / 4,
  SENDS: 148 / 4,
} as const

/** Low bits of WAIT_EPOCH. */
export const WaitState = {
  /** The worker sleeps and wants a notify once records are published. */
  SLEEPING: 1,
  /**
   * With SLEEPING: the worker has nothing to send, so the first new record should wake it. Without
   * this bit a sleeping worker lingers over a batch and wakes at its deadline by itself.
   */
  IDLE: 3,
} as const

/** Size of the producer's control buffer in bytes. */
export const PRODUCER_CONTROL_BYTES = 192

/** Allocates a zeroed control buffer: no event settled, the worker not waiting. */
export function createProducerControl (): SharedArrayBuffer {
  return new SharedArrayBuffer(PRODUCER_CONTROL_BYTES)
}

/** Producer counters read from the control buffer, for statistics and metrics. */
export interface ProducerCounters {
  /** Events acknowledged by the broker (with acks=0: sent), since the bus started. */
  delivered: number
  /** Events reported as delivery failures, since the bus started. */
  failed: number
  /** Send attempts repeated after a retriable error, since the bus started. */
  retries: number
  /** Events the worker has read from the outbound ring and not settled yet. */
  inFlight: number
  /** Bytes of worker memory those events hold. */
  inFlightBytes: number
  /** Successful produce calls, one per partition batch. */
  sends: number
}

/**
 * Reads the counters. Any thread; allocates the result object. Each value may be stale by the
 * time the caller uses it; none of the loads orders memory.
 */
export function readProducerCounters (control: Int32Array): ProducerCounters {
  return {
    delivered: Atomics.load(control, ProducerSlot.DELIVERED) >>> 0,
    failed: Atomics.load(control, ProducerSlot.FAILED) >>> 0,
    retries: Atomics.load(control, ProducerSlot.RETRIES) >>> 0,
    inFlight: Atomics.load(control, ProducerSlot.IN_FLIGHT_EVENTS) >>> 0,
    inFlightBytes: Atomics.load(control, ProducerSlot.IN_FLIGHT_BYTES) >>> 0,
    sends: Atomics.load(control, ProducerSlot.SENDS) >>> 0,
  }
}
