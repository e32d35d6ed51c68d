import { Partitioners, type PartitionMetadata } from 'kafkajs'
import { describe, expect, it } from 'vitest'

import { murmur2, partitionForKey } from '../../src/backends/embedded/partitioner.js'

function partitionMetadata (count: number): PartitionMetadata[] {
  return Array.from({ length: count }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }))
}

describe('embedded partitioner', () => {
  it('matches kafkajs DefaultPartitioner for keyed records', () => {
    const kafkajs = Partitioners.DefaultPartitioner()
    for (const count of [1, 2, 3, 4, 7, 12, 64]) {
      const metadata = partitionMetadata(count)
      for (let i = 0; i < 500; i++) {
        // Keys of every length from 0 to 20 bytes, so each tail length of the hash is covered.
        const key = Buffer.from(`player-${i}`.padEnd(i % 21, '#').slice(0, i % 21))
        const expected = kafkajs({ topic: 'moves', partitionMetadata: metadata, message: { key, value: null } })
        expect(partitionForKey(key, count), `key ${JSON.stringify(key.toString())}, ${count} partitions`).toBe(expected)
      }
    }
  })

  it('hashes bytes above 0x7f as unsigned', () => {
    const key = new Uint8Array([0xff, 0x80, 0x81, 0xfe, 0x90])
    const kafkajs = Partitioners.DefaultPartitioner()
    expect(partitionForKey(key, 13)).toBe(kafkajs({ topic: 't', partitionMetadata: partitionMetadata(13), message: { key: Buffer.from(key), value: null } }))
  })

  it('returns a signed 32-bit hash', () => {
    for (let i = 0; i < 100; i++) {
      const hash = murmur2(Buffer.from(`k${i}`))
      expect(hash | 0).toBe(hash)
    }
  })
})
