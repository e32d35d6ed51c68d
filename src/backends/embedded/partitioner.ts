/**
 * Keyed partitioning of the embedded broker: a record with a key goes to partition
 * `(murmur2(key) & 0x7fffffff) % partitionCount`, the rule of Kafka's Java client default
 * partitioner and of kafkajs 2.x `Partitioners.DefaultPartitioner`. A key therefore lands on
 * the same partition number in the embedded backend as on a Kafka topic with the same partition
 * count when a Java or kafkajs producer sends it.
 */

const SEED = 0x9747b28c
const MULTIPLIER = 0x5bd1e995
const SHIFT = 24

/** MurmurHash2, 32-bit, as Kafka's `Utils.murmur2` computes it; returns a signed int32. */
export function murmur2 (data: Uint8Array): number {
  const length = data.length
  let hash = (SEED ^ length) | 0
  const wholeWords = length & ~3

  for (let i = 0; i < wholeWords; i += 4) {
    // Little-endian 32-bit word.
    let word = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)
    word = Math.imul(word, MULTIPLIER)
    word ^= word >>> SHIFT
    word = Math.imul(word, MULTIPLIER)
    hash = Math.imul(hash, MULTIPLIER)
    hash ^= word
  }

  const tail = length & 3
  if (tail > 0) {
    if (tail === 3) hash ^= data[wholeWords + 2]! << 16
    if (tail >= 2) hash ^= data[wholeWords + 1]! << 8
    hash ^= data[wholeWords]!
    hash = Math.imul(hash, MULTIPLIER)
  }

  hash ^= hash >>> 13
  hash = Math.imul(hash, MULTIPLIER)
  hash ^= hash >>> 15
  return hash | 0
}

/** Partition of a keyed record: the murmur2 hash of the key bytes, made positive, modulo the count. */
export function partitionForKey (key: Uint8Array, partitionCount: number): number {
  return (murmur2(key) & 0x7fffffff) % partitionCount
}
