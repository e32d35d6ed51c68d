import { MessageChannel } from 'node:worker_threads'

import protobuf from 'protobufjs'
import { describe, expect, it, onTestFinished } from 'vitest'

import { DeliveryFailureView } from '../../src/bus/delivery-failure.js'
import { createEventWriter, type EventWriter } from '../../src/bus/event-writer.js'
import type { ProducerStopReport, ProducerTask } from '../../src/bus/messages.js'
import { createProducerControl, ProducerSlot, readProducerCounters } from '../../src/bus/producer-control.js'
import { ProducerRuntime, type BatchSettings, type PartitionBatch, type ProducerBackend, type SendFailure } from '../../src/bus/producer-runtime.js'
import { SettleTracker } from '../../src/bus/settle-tracker.js'
import { ErrorCode } from '../../src/errors.js'
import { createRingMemory } from '../../src/ring/memory.js'
import { createRingBuffer } from '../../src/ring/ring-buffer.js'
import { NO_RECORD, RingReader } from '../../src/ring/ring-reader.js'
import { defineEvent } from '../../src/schema/define-event.js'
import { t } from '../../src/schema/fields.js'
import { createViewContext } from '../../src/schema/view.js'
import { createTopology } from '../../src/topology/builder.js'
import { protobufDecoder } from '../../src/topology/decoders.js'
import { waitFor } from '../helpers/kafka.js'

const Move = defineEvent('Move', { playerId: t.u32(), name: t.string() })
const topology = createTopology().topic('moves', { partitions: 2 }).bind('moves', Move).build()

/** A backend that records each batch and settles it when the test calls settle(). */
class FakeBackend implements ProducerBackend {
  readonly batches: PartitionBatch[] = []
  readonly #pending: Array<(failure: SendFailure | null) => void> = []
  /** Outcome of every send when set; otherwise sends wait for settle(). */
  outcome: ((batch: PartitionBatch) => SendFailure | null) | undefined
  closed = false

  partitionForKey (_topic: string, key: Buffer, partitions: number): number {
    return key[0]! % partitions
  }

  async send (batch: PartitionBatch): Promise<SendFailure | null> {
    this.batches.push(batch)
    if (this.outcome !== undefined) return this.outcome(batch)
    return await new Promise((resolve) => { this.#pending.push(resolve) })
  }

  /** Settles the oldest waiting send. */
  settle (failure: SendFailure | null = null): void {
    const resolve = this.#pending.shift()
    if (resolve === undefined) throw new Error('No send is waiting')
    resolve(failure)
  }

  get waiting (): number {
    return this.#pending.length
  }

  async close (): Promise<void> {
    this.closed = true
  }
}

interface Harness {
  readonly writer: EventWriter
  readonly backend: FakeBackend
  readonly control: Int32Array
  readonly feedback: RingReader
  readonly task: ProducerTask
  readonly running: Promise<ProducerStopReport>
  flush (): void
  stop (timeoutMs: number): Promise<ProducerStopReport>
}

function start (settings: Partial<BatchSettings> = {}, outboundTopology = topology): Harness {
  const ring = createRingBuffer(64 * 1024)
  const feedbackBuffer = createRingBuffer(64 * 1024)
  const control = createProducerControl()
  const channel = new MessageChannel()
  const task: ProducerTask = {
    kind: 'producer',
    backendModule: 'unused',
    backendConfig: null,
    topology: outboundTopology,
    ring,
    feedback: feedbackBuffer,
    control,
    port: channel.port2,
    attempt: 0,
  }
  const backend = new FakeBackend()
  const runtime = new ProducerRuntime(task, { batchSizeBytes: 16 * 1024, lingerMs: 5, maxInFlightBytes: 1024 * 1024, ...settings }, backend)
  const running = runtime.run()
  let stopped = false
  const stop = async (timeoutMs: number): Promise<ProducerStopReport> => {
    stopped = true
    channel.port1.postMessage({ type: 'stop', timeoutMs })
    return await running
  }
  onTestFinished(async () => {
    if (!stopped) await stop(0)
    channel.port1.close()
  })
  const writer = createEventWriter({ topology: outboundTopology, ring, control })
  return {
    writer,
    backend,
    control: new Int32Array(control),
    feedback: new RingReader(createRingMemory(feedbackBuffer)),
    task,
    running,
    flush: () => {
      writer.publish()
      channel.port1.postMessage({ type: 'flush', sequence: writer.written })
    },
    stop,
  }
}

function failure (overrides: Partial<SendFailure> = {}): SendFailure {
  return { code: ErrorCode.DELIVERY_FAILED, message: 'rejected', errorType: 'TEST_ERROR', retriable: true, attempts: 2, batchTooLarge: false, ...overrides }
}

function sequencesOf (batch: PartitionBatch): number[] {
  return batch.messages.map((message) => message.sequence)
}

describe('ProducerRuntime', () => {
  it('sends a full batch before lingerMs', async () => {
    const { writer, backend } = start({ batchSizeBytes: 100, lingerMs: 60_000 })
    backend.outcome = () => null
    for (let i = 0; i < 12; i++) writer.write(Move, { playerId: i, name: 'n' }, { partition: 0 })
    writer.publish()

    // Each JSON value is 25 or 26 bytes, so every fourth event fills a batch.
    await waitFor(() => backend.batches.length === 3, 5_000, { description: 'three full batches' })
    for (const batch of backend.batches) expect(batch.bytes).toBeGreaterThanOrEqual(100)
    expect(backend.batches.flatMap(sequencesOf)).toEqual([...Array(12).keys()])
  })

  it('keeps one batch per partition in flight', async () => {
    const { writer, backend, control } = start({ batchSizeBytes: 1, lingerMs: 0 })
    for (let i = 0; i < 3; i++) writer.write(Move, { playerId: i, name: 'a' }, { partition: 0 })
    writer.write(Move, { playerId: 9, name: 'b' }, { partition: 1 })
    writer.publish()

    await waitFor(() => backend.batches.length === 2, 5_000, { description: 'one send per partition' })
    expect(backend.batches.map((batch) => batch.partition).sort()).toEqual([0, 1])
    backend.settle()
    backend.settle()
    await waitFor(() => backend.batches.length === 3, 5_000, { description: 'the second batch of partition 0' })
    expect(backend.waiting).toBe(1)
    backend.settle()
    await waitFor(() => backend.batches.length === 4, 5_000, { description: 'the third batch of partition 0' })
    backend.settle()

    const partitionZero = backend.batches.filter((batch) => batch.partition === 0).flatMap(sequencesOf)
    expect(partitionZero).toEqual([0, 1, 2])
    await waitFor(() => Atomics.load(control, ProducerSlot.SETTLED) === 4, 5_000, { description: 'all four settled' })
    expect(readProducerCounters(control)).toMatchObject({ delivered: 4, failed: 0, inFlight: 0, sends: 4 })
  })

  it('writes a failure record per failed event', async () => {
    const { writer, backend, control, feedback } = start()
    backend.outcome = () => failure({ message: 'broker said no' })
    writer.write(Move, { playerId: 5, name: 'lost' }, { key: new Uint8Array([3]), headers: { trace: 't1' } })
    writer.publish()
    await waitFor(() => Atomics.load(control, ProducerSlot.SETTLED) === 1, 5_000, { description: 'the failure settled' })

    feedback.claim()
    const offset = feedback.nextRecord()
    expect(offset).not.toBe(NO_RECORD)
    const context = createViewContext({ topics: ['', 'moves'], devMode: false })
    const view = new DeliveryFailureView(context, (id) => (id === 1 ? Move : undefined)).$bind(feedback.memory, offset, 1)
    expect(view.toObject()).toMatchObject({
      eventType: 'Move',
      topic: 'moves',
      partition: 1,
      sequence: 0,
      headers: { trace: 't1' },
      event: { playerId: 5, name: 'lost' },
      errorType: 'TEST_ERROR',
      attempts: 2,
    })
    expect(view.code).toBe(ErrorCode.DELIVERY_FAILED)
    expect(view.message).toBe('broker said no')
    expect(view.retriable).toBe(true)
    expect([...view.key!]).toEqual([3])
    expect(feedback.nextRecord()).toBe(NO_RECORD)
    expect(readProducerCounters(control)).toMatchObject({ delivered: 0, failed: 1 })
  })

  it('sends a batch too large one by one', async () => {
    const { writer, backend, control, feedback } = start({ lingerMs: 50 })
    backend.outcome = (batch) => {
      if (batch.messages.length > 1) return failure({ batchTooLarge: true, retriable: false })
      return batch.messages[0]!.value.includes('big') ? failure({ errorType: 'MESSAGE_TOO_LARGE', retriable: false }) : null
    }
    writer.write(Move, { playerId: 1, name: 'small' }, { partition: 0 })
    writer.write(Move, { playerId: 2, name: 'big' }, { partition: 0 })
    writer.write(Move, { playerId: 3, name: 'small' }, { partition: 0 })
    writer.publish()
    await waitFor(() => Atomics.load(control, ProducerSlot.SETTLED) === 3, 5_000, { description: 'three settled' })

    expect(backend.batches.map(sequencesOf)).toEqual([[0, 1, 2], [0], [1], [2]])
    expect(readProducerCounters(control)).toMatchObject({ delivered: 2, failed: 1 })
    feedback.claim()
    let failures = 0
    while (feedback.nextRecord() !== NO_RECORD) failures++
    expect(failures).toBe(1)
  })

  it('stops reading at maxInFlightBytes', async () => {
    const { writer, backend, control } = start({ maxInFlightBytes: 1, lingerMs: 0 })
    for (let i = 0; i < 5; i++) writer.write(Move, { playerId: i, name: 'x' }, { partition: 0 })
    writer.publish()

    await waitFor(() => backend.waiting === 1, 5_000, { description: 'the first send' })
    expect(readProducerCounters(control).inFlight).toBe(1)
    expect(writer.freeBytes).toBeLessThan(writer.capacityBytes)
    for (let i = 1; i <= 5; i++) {
      expect(backend.batches[i - 1]!.messages).toHaveLength(1)
      backend.settle()
      if (i < 5) await waitFor(() => backend.waiting === 1, 5_000, { description: `send ${i + 1}` })
    }
    await waitFor(() => Atomics.load(control, ProducerSlot.SETTLED) === 5, 5_000, { description: 'all settled' })
    expect(writer.freeBytes).toBe(writer.capacityBytes)
  })

  it('sends on flush without waiting for lingerMs', async () => {
    const { writer, backend, flush } = start({ lingerMs: 60_000 })
    backend.outcome = () => null
    writer.write(Move, { playerId: 1, name: 'a' })
    writer.write(Move, { playerId: 2, name: 'b' })
    flush()
    await waitFor(() => backend.batches.length > 0, 5_000, { description: 'the flushed batch' })
  })

  it('reports unsettled events when stop times out', async () => {
    const { writer, backend, stop } = start({ lingerMs: 0 })
    for (let i = 0; i < 3; i++) writer.write(Move, { playerId: i, name: 'stuck' }, { partition: 0 })
    writer.publish()
    await waitFor(() => backend.waiting === 1, 5_000, { description: 'the first send' })

    const report = await stop(50)
    expect(report).toEqual({ delivered: 0, failed: 0, unsettled: 3 })
    expect(backend.closed).toBe(true)
  })

  it('reports an event its codec cannot encode', async () => {
    const Wide = defineEvent('Wide', { id: t.u64() })
    const WideProto = protobuf.parse('syntax = "proto3"; message Wide { int64 id = 1; }').root.lookupType('Wide')
    const wideTopology = createTopology().topic('wide', { partitions: 1 }).bind('wide', Wide, { decoder: protobufDecoder(WideProto) }).build()
    const { writer, backend, control, feedback } = start({}, wideTopology)
    backend.outcome = () => null
    writer.write(Wide, { id: 5n })
    writer.write(Wide, { id: 2n ** 64n - 1n })
    writer.publish()
    await waitFor(() => Atomics.load(control, ProducerSlot.SETTLED) === 2, 5_000, { description: 'both events settled' })

    expect(readProducerCounters(control)).toMatchObject({ delivered: 1, failed: 1 })
    feedback.claim()
    const context = createViewContext({ topics: ['', 'wide'], devMode: false })
    const view = new DeliveryFailureView(context, (id) => (id === 1 ? Wide : undefined)).$bind(feedback.memory, feedback.nextRecord(), 1)
    expect(view.code).toBe(ErrorCode.ENCODE_FAILED)
    expect(view.attempts).toBe(0)
    expect(view.retriable).toBe(false)
    expect(view.event.id).toBe(2n ** 64n - 1n)
  })
})

describe('SettleTracker', () => {
  it('moves the watermark over settled prefixes', () => {
    const tracker = new SettleTracker(2)
    for (let sequence = 10; sequence < 20; sequence++) tracker.begin(sequence)
    expect(tracker.watermark).toBe(10)

    expect(tracker.settle(12)).toBe(false)
    expect(tracker.settle(11)).toBe(false)
    expect(tracker.settle(10)).toBe(true)
    expect(tracker.watermark).toBe(13)
    expect(tracker.unsettled).toBe(7)

    for (let sequence = 19; sequence >= 13; sequence--) tracker.settle(sequence)
    expect(tracker.watermark).toBe(20)
    expect(tracker.unsettled).toBe(0)
  })

  it('rejects a gap in sequences', () => {
    const tracker = new SettleTracker()
    tracker.begin(0)
    expect(() => tracker.begin(2)).toThrow(RangeError)
  })
})
