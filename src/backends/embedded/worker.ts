/**
 * Worker half of the embedded backend, imported by tickbus's worker entry points on worker threads.
 */
export { runConsumerShard } from './consumer-shard.js'
export { runProducer } from './producer.js'
