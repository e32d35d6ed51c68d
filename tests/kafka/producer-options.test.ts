import { Kafka } from 'kafkajs'
import { describe, expect, it, vi } from 'vitest'

import { kafkaBackend } from '../../src/backends/kafka/kafka-backend.js'
import { resolveProducerOptions } from '../../src/backends/kafka/producer-options.js'
import { ErrorCode } from '../../src/errors.js'
import { createTopology } from '../../src/topology/builder.js'
import { startInProcessProducer } from '../helpers/producer.js'

describe('producer options', () => {
  it('fills in defaults', () => {
    expect(resolveProducerOptions(undefined)).toEqual({
      acks: -1,
      compression: 'none',
      idempotent: false,
      batchSizeBytes: 16_384,
      lingerMs: 5,
      retries: 5,
      retryBackoffMs: 100,
      retryBackoffMaxMs: 1000,
      requestTimeoutMs: 30_000,
      maxInFlightRequests: 5,
      maxInFlightBytes: 32 * 1024 * 1024,
    })
  })

  it('maps acks "all" to -1', () => {
    expect(resolveProducerOptions({ acks: 'all' }).acks).toBe(-1)
    expect(resolveProducerOptions({ acks: 0 }).acks).toBe(0)
    expect(resolveProducerOptions({ acks: 1 }).acks).toBe(1)
  })

  it('rejects invalid values naming the option', () => {
    const cases: Array<{ options: unknown, path: string, parts: string[] }> = [
      { options: { acks: 2 }, path: 'kafka.producer.acks', parts: ['must be 0, 1, -1 or "all"', 'received 2'] },
      { options: { compression: 'lz4' }, path: 'kafka.producer.compression', parts: ['"none", "gzip" or "snappy"', '"lz4"'] },
      { options: { idempotent: 'yes' }, path: 'kafka.producer.idempotent', parts: ['must be a boolean'] },
      { options: { idempotent: true, acks: 1 }, path: 'kafka.producer.acks', parts: ['must be "all" (or -1) when idempotent is true'] },
      { options: { batchSizeBytes: 0 }, path: 'kafka.producer.batchSizeBytes', parts: ['positive integer'] },
      { options: { batchSizeBytes: 2 * 1024 * 1024 }, path: 'kafka.producer.batchSizeBytes', parts: ['at most 1048576'] },
      { options: { lingerMs: -1 }, path: 'kafka.producer.lingerMs', parts: ['non-negative integer'] },
      { options: { retries: 1.5 }, path: 'kafka.producer.retries', parts: ['non-negative integer'] },
      { options: { retryBackoffMs: 500, retryBackoffMaxMs: 100 }, path: 'kafka.producer.retryBackoffMaxMs', parts: ['at least retryBackoffMs (500)'] },
      { options: { requestTimeoutMs: 0 }, path: 'kafka.producer.requestTimeoutMs', parts: ['positive integer'] },
      { options: { maxInFlightRequests: 0 }, path: 'kafka.producer.maxInFlightRequests', parts: ['positive integer'] },
      { options: { maxInFlightBytes: 2 ** 31 }, path: 'kafka.producer.maxInFlightBytes', parts: ['below 2 GiB'] },
      { options: { lingerMS: 5 }, path: 'kafka.producer.lingerMS', parts: ['is not a known option', 'lingerMs'] },
      { options: 'fast', path: 'kafka.producer', parts: ['must be an object'] },
    ]
    for (const testCase of cases) {
      let caught: unknown
      try {
        resolveProducerOptions(testCase.options)
      } catch (error) {
        caught = error
      }
      expect(caught, testCase.path).toMatchObject({ code: ErrorCode.INVALID_OPTION, option: testCase.path })
      for (const part of testCase.parts) expect((caught as Error).message, testCase.path).toContain(part)
    }
  })

  it('reaches the worker config through kafkaBackend()', () => {
    const backend = kafkaBackend({ brokers: ['127.0.0.1:9092'], producer: { compression: 'gzip', lingerMs: 0 } })
    expect(backend.workerConfig).toMatchObject({ producer: { compression: 'gzip', lingerMs: 0, acks: -1 } })
    expect(() => kafkaBackend({ brokers: ['127.0.0.1:9092'], producer: { acks: 'some' as never } })).toThrow(/kafka\.producer\.acks/)
  })

  it('configures the kafkajs producer', () => {
    const producerSpy = vi.spyOn(Kafka.prototype, 'producer')
    try {
      startInProcessProducer({
        topology: createTopology().topic('unused', { partitions: 1 }).build(),
        kafka: { brokers: ['127.0.0.1:9'], producer: { idempotent: true, maxInFlightRequests: 1, retryBackoffMs: 40, retryBackoffMaxMs: 400 } },
      })
      // The producer is created when the task starts; it connects only when the first event comes.
      expect(producerSpy).toHaveBeenCalledTimes(1)
      expect(producerSpy.mock.calls[0]![0]).toEqual({
        allowAutoTopicCreation: false,
        idempotent: true,
        maxInFlightRequests: 1,
        retry: { retries: 1, initialRetryTime: 40, maxRetryTime: 400 },
      })
    } finally {
      producerSpy.mockRestore()
    }
  })
})
