import { setTimeout as sleep } from 'node:timers/promises'
import { onTestFinished } from 'vitest'
import { createBus, kafkaBackend, type Bus, type BusOptions, type KafkaBackendOptions } from 'tickbus'
import { brokerList } from './kafka.js'

/**
 * Starts a bus on this run's broker and stops it when the test finishes, passed or failed.
 * `kafka` options are merged over the broker list.
 */
export async function startKafkaBus (options: Omit<BusOptions, 'backend'> & { kafka?: Partial<KafkaBackendOptions> }): Promise<Bus> {
  const { kafka, ...busOptions } = options
  const bus = await createBus({
    ...busOptions,
    backend: kafkaBackend({ brokers: brokerList(), ...kafka }),
  })
  onTestFinished(async () => { await bus.stop(5_000) })
  return bus
}

/**
 * Calls bus.tick() about every `intervalMs` and then `onTick`, until `done()` returns true.
 * Rejects after `timeoutMs` with `description` in the message.
 */
export async function tickUntil (bus: Bus, onTick: () => void, done: () => boolean, timeoutMs: number, description: string, intervalMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    bus.tick()
    onTick()
    if (done()) return
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${description}`)
    await sleep(intervalMs)
  }
}
