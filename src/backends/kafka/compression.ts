import { createRequire } from 'node:module'

import kafkajs from 'kafkajs'

// kafkajs is CommonJS, and Node.js does not detect CompressionCodecs as a named export.
const { CompressionCodecs, CompressionTypes } = kafkajs

/** A kafkajs compression codec factory, the type of the values in CompressionCodecs. */
type CodecFactory = (typeof CompressionCodecs)[typeof CompressionTypes.Snappy]

/**
 * Registers the snappy codec of kafkajs-snappy (pure JavaScript, by the kafkajs authors) in this
 * thread's kafkajs, which ships GZIP only: producers can then compress with snappy and consumers
 * read snappy record batches. kafkajs keeps its codecs in one module-level object per thread, so
 * every thread that runs the Kafka worker half calls this once, through producer.ts.
 */
export function registerCompressionCodecs (): void {
  // kafkajs-snappy is CommonJS and has no type declarations.
  const require = createRequire(import.meta.url)
  CompressionCodecs[CompressionTypes.Snappy] = require('kafkajs-snappy') as CodecFactory
}
