import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it, onTestFinished } from 'vitest'
import { readSettings, startBroker, type RunningBroker, type StoppedBroker } from '../../scripts/kafka.js'
import { findFreePorts } from '../../scripts/kafka/broker.js'
import { uniqueName, useTestKafka, waitFor } from '../helpers/kafka.js'
import { ConsumerProcess, LoadProducer, missingIds } from './fault-harness.js'

const PARTITIONS = 3
/** Longer than the producer's default retry back-off (5 retries, 2.5 s in all), so that some sends fail. */
const OUTAGE_MS = 5000

describe('broker restart', () => {
  // The test stops and restarts a broker of its own. With KAFKA_BOOTSTRAP_SERVERS set, the
  // launcher starts no broker, so the test is skipped.
  it.skipIf(Boolean(process.env.KAFKA_BOOTSTRAP_SERVERS?.trim()))('reports the outage and loses nothing', async () => {
    const [port, controllerPort] = await findFreePorts(2)
    let broker: RunningBroker | StoppedBroker = await startBroker({
      port: port!,
      controllerPort: controllerPort!,
      logFile: join(readSettings().stateDir, `test-broker-${port}.log`),
    })
    // The broker is thrown away afterwards, so SIGKILL spares the controlled shutdown.
    onTestFinished(async () => {
      const stopped = 'stopKeepingData' in broker ? await broker.stopKeepingData({ signal: 'SIGKILL' }) : broker
      await stopped.removeData()
    })
    const brokers = [broker.bootstrapServers]

    const topic = uniqueName('outage')
    const echoTopic = uniqueName('outage-echo')
    const groupId = uniqueName('outage-group')
    const kafka = useTestKafka({ brokers, retry: { retries: 2, initialRetryTime: 200 } })
    await kafka.createTopic(topic, PARTITIONS)
    const load = new LoadProducer(await kafka.producer(), { topic, partitions: PARTITIONS, eventsPerBatch: 5, intervalMs: 20 })
    const consumer = new ConsumerProcess({
      brokers,
      topic,
      groupId,
      partitions: PARTITIONS,
      sessionTimeoutMs: 6000,
      heartbeatIntervalMs: 1000,
      produce: { topic: echoTopic, partitions: PARTITIONS, eventsPerTick: 2 },
    })
    await waitFor(() => consumer.events.length >= 300, 30_000, { description: '300 events before the outage' })

    const outageStarted = Date.now()
    broker = await (broker as RunningBroker).stopKeepingData()
    const stopMs = Date.now() - outageStarted
    await sleep(OUTAGE_MS)
    const linesDuringOutage = consumer.lines.length
    const restartStarted = Date.now()
    broker = await broker.restart()
    const restartMs = Date.now() - restartStarted

    const acknowledgedAtRestart = load.acknowledged
    await waitFor(() => load.acknowledged >= acknowledgedAtRestart + 200, 30_000, { description: 'the producer to resume' })
    const acknowledged = await load.stop()
    await waitFor(() => new Set(consumer.events.map((event) => event.id)).size >= acknowledged, 30_000, { description: `all ${acknowledged} ids after the restart` })
    const stopped = await consumer.stop()

    // Inbound: the outage was reported while it lasted, first as BROKER_UNREACHABLE, and every
    // report was retriable. Usually that is the only report. When kafkajs gives up on its own
    // restarts because its retries ran out during the outage, the shard fails and the bus
    // restarts it with back-off, and each new consumer reports the outage again.
    const outageErrors = consumer.lines.slice(0, linesDuringOutage).filter((line) => line.type === 'error')
    expect(outageErrors.length).toBeGreaterThan(0)
    expect(outageErrors[0]!.code).toBe('TICKBUS_BROKER_UNREACHABLE')
    for (const error of outageErrors) {
      expect(['TICKBUS_BROKER_UNREACHABLE', 'TICKBUS_WORKER_CRASHED']).toContain(error.code)
      expect(error.retriable).toBe(true)
    }
    expect(consumer.linesOf('reachable').length).toBeGreaterThanOrEqual(1)
    expect(missingIds(new Set(consumer.events.map((event) => event.id)), acknowledged)).toEqual([])

    // Outbound: events the producer could not send were reported as delivery failures during the
    // outage, written again by the process, and every Echo id reached the topic.
    const failures = consumer.linesOf('delivery-failures')
    const failureCodes = new Set(failures.flatMap((line) => line.codes as string[]))
    expect(stopped.producer).toMatchObject({ undelivered: 0, timedOut: false })
    const echoesWritten = stopped.echoesWritten as number
    const echoIds = new Set<number>()
    const reader = await kafka.consumer({ groupId: uniqueName('echo-reader') })
    await reader.subscribe({ topics: [echoTopic], fromBeginning: true })
    await reader.run({ eachMessage: async ({ message }) => { echoIds.add((JSON.parse(String(message.value)) as { id: number }).id) } })
    await waitFor(() => echoIds.size >= echoesWritten, 30_000, { description: `all ${echoesWritten} Echo ids in ${echoTopic}` })
    expect(missingIds(echoIds, echoesWritten)).toEqual([])

    console.log({
      stopMs,
      restartMs,
      inbound: { acknowledged, handedOut: consumer.events.length, failedSends: load.failedSends },
      outbound: { echoesWritten, failedEvents: failures.reduce((sum, line) => sum + (line.ids as number[]).length, 0), failureCodes: [...failureCodes], producer: stopped.producer },
      errors: consumer.linesOf('error').map((line) => `${line.code} (+${(line.receivedAt as number) - outageStarted} ms): ${line.message as string}`),
      reachable: consumer.linesOf('reachable'),
    })
  }, 60_000)
})
