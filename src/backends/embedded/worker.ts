/**
 * Worker half of the embedded backend, imported by tickbus's worker entry points on worker threads.
 */
export { runConsumerShard } from './consumer-shard.js'

// TODO: export runProducer(task: ProducerTask) once the bus runs a producer task. Its broker
// port arrives the same way as a shard's (Backend.taskResources with kind 'producer'), and the
// broker already serves `produce` requests (protocol.ts).
