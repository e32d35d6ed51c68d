import { MessagePort } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'

import { BrokerClient } from '../../src/backends/embedded/broker-client.js'
import { embeddedBackend } from '../../src/backends/embedded/embedded-backend.js'
import { ErrorCode } from '../../src/errors.js'
import { noopLogger } from '../../src/logger.js'
import { defineEvent } from '../../src/schema/define-event.js'
import { t } from '../../src/schema/fields.js'
import { createTopology } from '../../src/topology/builder.js'

const Move = defineEvent('Move', { playerId: t.u32() })

describe('embeddedBackend options', () => {
  it('rejects unknown and invalid options by path', () => {
    expect(() => embeddedBackend({ brokers: ['x:1'] } as never)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION, option: 'embedded.brokers' }))
    expect(() => embeddedBackend({ retention: { maxRecordsPerPartition: 0 } })).toThrow(expect.objectContaining({ option: 'embedded.retention.maxRecordsPerPartition' }))
    expect(() => embeddedBackend({ retention: { maxAgeMs: -1 } })).toThrow(expect.objectContaining({ option: 'embedded.retention.maxAgeMs' }))
    expect(() => embeddedBackend({ fetch: { maxWaitMs: 1.5 } })).toThrow(expect.objectContaining({ option: 'embedded.fetch.maxWaitMs' }))
    expect(() => embeddedBackend({ fetch: { maxBytes: 0 } })).toThrow(expect.objectContaining({ option: 'embedded.fetch.maxBytes' }))
    expect(() => embeddedBackend({ producer: { lingerMs: -1 } })).toThrow(expect.objectContaining({ option: 'embedded.producer.lingerMs' }))
    expect(() => embeddedBackend({ producer: { acks: 1 } } as never)).toThrow(expect.objectContaining({ option: 'embedded.producer.acks' }))
  })

  it('fills in fetch defaults', () => {
    expect(embeddedBackend().workerConfig).toEqual({
      fetch: { maxRecords: 500, maxBytes: 1024 * 1024, maxWaitMs: 500 },
      producer: { batchSizeBytes: 16 * 1024, lingerMs: 5, maxInFlightBytes: 32 * 1024 * 1024 },
    })
  })
})

describe('EmbeddedBackend', () => {
  it('creates the topology\'s topics once', async () => {
    const backend = embeddedBackend()
    const topology = createTopology()
      .topic('moves', { partitions: 3 })
      .topic('dead', { partitions: 1 })
      .routing('moves', { deadLetterTopic: 'dead' })
      .bind('moves', Move)
      .group('server', { topics: ['moves'] })
      .build()

    expect(await backend.start(topology, noopLogger)).toEqual({ created: ['moves', 'dead'], warnings: [] })
    expect(await backend.start(topology, noopLogger)).toEqual({ created: [], warnings: [] })
    expect(backend.topicOffsets('moves').map((entry) => entry.endOffset)).toEqual([0, 0, 0])
  })

  it('warns about a partition count that differs', async () => {
    const backend = embeddedBackend()
    backend.createTopic('moves', { partitions: 2 })
    const topology = createTopology().topic('moves', { partitions: 4 }).bind('moves', Move).group('server', { topics: ['moves'] }).build()

    const report = await backend.start(topology, noopLogger)

    expect(report.created).toEqual([])
    expect(report.warnings).toEqual([expect.stringContaining('moves has 2 partitions in the embedded broker, but the topology declares 4')])
    expect(backend.topicOffsets('moves')).toHaveLength(2)
  })

  it('applies a topic\'s retention.ms', async () => {
    const backend = embeddedBackend()
    const topology = createTopology()
      .topic('short', { partitions: 1, configs: { 'retention.ms': 1000 } })
      .topic('bad', { partitions: 1, configs: { 'retention.ms': 'soon' } })
      .bind('short', Move)
      .group('server', { topics: ['short'] })
      .build()

    const report = await backend.start(topology, noopLogger)
    backend.produce('short', { value: 'old', timestamp: Date.now() - 5000 })
    backend.produce('short', { value: 'new' })

    expect(report.warnings).toEqual([expect.stringContaining('Topic bad has retention.ms "soon"')])
    // The old record expired when the new one was appended.
    expect(backend.topicOffsets('short')).toEqual([{ partition: 0, logStartOffset: 1, endOffset: 2 }])
  })

  it('stores produced strings as UTF-8 and copies byte arrays', () => {
    const backend = embeddedBackend()
    backend.createTopic('moves', { partitions: 4 })
    const bytes = new Uint8Array([1, 2, 3])

    const first = backend.produce('moves', { key: 'p1', value: bytes, headers: { kind: 'move', tags: ['a', null] }, timestamp: 42 })
    bytes[0] = 9
    const second = backend.produce('moves', { key: Buffer.from('p1'), value: 'é' })

    expect(first).toEqual({ topic: 'moves', partition: first.partition, offset: 0, timestamp: 42 })
    expect(second.partition).toBe(first.partition)
    expect(second.offset).toBe(1)
  })

  it('stores payloads in exact-size buffers', async () => {
    const backend = embeddedBackend({ fetch: { maxWaitMs: 0 } })
    backend.createTopic('moves', { partitions: 1 })
    backend.produce('moves', { key: 'k', value: 'small', headers: { h: 'v' } })
    backend.produce('moves', { value: Buffer.from('pooled') })
    const { port } = backend.taskResources().config as { port: MessagePort }
    const client = new BrokerClient(port)

    await client.join('g', ['moves'], 'earliest', 0)
    const reply = await client.fetch([{ topic: 'moves', partition: 0, offset: 0 }], { maxRecords: 10, maxBytes: 1024, maxWaitMs: 0 })
    client.close()

    const [first, second] = reply.batches[0]!.records
    expect(first!.value!.buffer.byteLength).toBe(5)
    expect(first!.key!.buffer.byteLength).toBe(1)
    expect(first!.headers[0]![1]!.buffer.byteLength).toBe(1)
    expect(second!.value!.buffer.byteLength).toBe(6)
  })

  it('rejects invalid records', () => {
    const backend = embeddedBackend()
    backend.createTopic('moves', { partitions: 1 })

    expect(() => backend.produce('moves', { value: 42 } as never)).toThrow(expect.objectContaining({ option: 'record.value' }))
    expect(() => backend.produce('moves', {} as never)).toThrow(expect.objectContaining({ option: 'record.value' }))
    expect(() => backend.produce('moves', { value: 'x', headers: { h: 1 } } as never)).toThrow(expect.objectContaining({ option: 'record.headers.h' }))
    expect(() => backend.produce('missing', { value: 'x' })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION, option: 'produce(topic)' }))
    expect(() => backend.topicOffsets('missing')).toThrow(expect.objectContaining({ option: 'topicOffsets(topic)' }))
  })

  it('gives each task its own transferable broker port', () => {
    const backend = embeddedBackend()

    const first = backend.taskResources()
    const second = backend.taskResources()

    const port = (first.config as { port: unknown }).port
    expect(port).toBeInstanceOf(MessagePort)
    expect(first.transferList).toEqual([port])
    expect(port).not.toBe((second.config as { port: unknown }).port)
    expect(first.config).toMatchObject(backend.workerConfig as object)
    for (const resources of [first, second]) (resources.config as { port: MessagePort }).port.close()
  })
})
