import { createServer, type Server, type Socket } from 'node:net'
import type { Piscina } from 'piscina'
import { onTestFinished } from 'vitest'

import { kafkaBackend } from '../../src/backends/kafka/kafka-backend.js'
import type { KafkaBackendOptions } from '../../src/backends/kafka/options.js'
import { runProducer } from '../../src/backends/kafka/producer.js'
import type { DeliveryFailure } from '../../src/bus/delivery-failure.js'
import type { ProducerTask } from '../../src/bus/messages.js'
import { OutboundChannel, type OutboundOptions, type ProducerStopResult } from '../../src/bus/outbound-channel.js'
import type { TickbusError } from '../../src/errors.js'
import { noopLogger } from '../../src/logger.js'
import { createViewContext } from '../../src/schema/view.js'
import type { Topology } from '../../src/topology/types.js'

/** An outbound channel whose producer runs in the test's own thread, with a tick of its own. */
export interface InProcessProducer {
  readonly channel: OutboundChannel
  /** Errors the channel reported (RING_FULL, crashes), in arrival order. */
  readonly errors: TickbusError[]
  /** Stops the channel; use it instead of channel.stop() so the test's cleanup does not stop it again. */
  stop (timeoutMs: number): Promise<ProducerStopResult>
  /** Advances the channel by one tick and returns the delivery failures it handed out, copied. */
  tick (): DeliveryFailure[]
}

/**
 * Starts an outbound channel with the Kafka producer running in-process, for brokers that
 * createBus() cannot start against (a closed port, a silent server) and topics the bus would
 * create. Stops it when the test finishes.
 */
export function startInProcessProducer (options: { topology: Topology, kafka: KafkaBackendOptions, outbound?: OutboundOptions }): InProcessProducer {
  const context = createViewContext({ topics: ['', ...options.topology.topics.map((topic) => topic.name)], devMode: true })
  const errors: TickbusError[] = []
  const channel = new OutboundChannel({
    topology: options.topology,
    backend: kafkaBackend(options.kafka),
    context,
    lifetimeTicks: 1,
    logger: noopLogger,
    options: options.outbound,
    restartDelayMs: 100,
    maxRestartDelayMs: 1000,
    onError: (error) => { errors.push(error) },
  })
  const pool = { run: async (task: ProducerTask) => await runProducer(task) } as unknown as Piscina
  channel.start(pool)
  let stopped = false
  onTestFinished(async () => {
    if (!stopped) await channel.stop(2_000)
  })

  const failures = channel.failures()
  let generation = 0
  return {
    channel,
    async stop (timeoutMs) {
      stopped = true
      return await channel.stop(timeoutMs)
    },
    errors,
    tick () {
      generation++
      context.releasedGeneration = generation - 1
      channel.beginTick(generation)
      return [...failures].map((failure) => failure.toObject())
    },
  }
}

/**
 * Starts a TCP server on loopback that accepts connections and never responds, so every Kafka
 * request to it times out. Closes it when the test finishes. Resolves with its `host:port`.
 */
export async function startSilentServer (): Promise<string> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  onTestFinished(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('The silent server has no TCP address')
  return `127.0.0.1:${address.port}`
}

/** Returns `host:port` of a loopback port that nothing listens on: it was bound once and released. */
export async function findClosedPort (): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('The probe server has no TCP address')
  return `127.0.0.1:${address.port}`
}
