import type { Admin, Kafka } from 'kafkajs'
import { runProducer, runRateProducer, startConsumer } from './children.js'
import type { CsvRow } from './csv.js'
import { DATA_SET_KINDS, DataSetKind, meanPayloadBytes } from './data-sets.js'
import { createTopic, preProduce } from './kafka-setup.js'
import { measureKcat } from './kcat.js'
import type { RunPlan } from './options.js'
import type { Progress } from './progress.js'
import { ConsumerImplementation, ConsumerMode, ProducerImplementation, type ConsumerJob, type ConsumerResult, type ProducerResult } from './protocol.js'
import { formatBytes, formatMs, formatNs, formatRate, formatRatio, formatTable } from './report.js'
import { median } from './stats.js'

/** Everything a scenario needs from the harness run. */
export interface HarnessContext {
  readonly plan: RunPlan
  readonly brokers: readonly string[]
  readonly bootstrapServers: string
  /** Prefix of every topic and group name of this run. */
  readonly runId: string
  readonly kafka: Kafka
  readonly admin: Admin
  readonly progress: Progress
  readonly kcatAvailable: boolean
  readonly profileDirectory: string | undefined
  /** Columns every row of this run shares (timestamp, commit, mode). */
  readonly baseRow: CsvRow
  readonly rows: CsvRow[]
  readonly createdTopics: string[]
  /** Pre-produced data sets of this run, by kind. */
  readonly dataSets: Map<DataSetKind, DataSet>
  /** Idle frame-time p99 of this run, in ms, once the idle scenario ran. */
  idleTickP99Ms: number
}

export interface DataSet {
  readonly topic: string
  readonly events: number
  readonly payloadBytes: number
  /** Pre-production rate of the plain kafkajs producer (sendBatch), events per second. */
  readonly sendRatePerSec: number
}

export interface Scenario {
  readonly name: string
  /** Summary of the measurement, printed above the scenario's table. */
  readonly description: string
  /** Data sets the scenario reads, produced by the first scenario that needs each. */
  readonly dataSets: readonly DataSetKind[]
  /** Progress steps the scenario takes, given the data sets already produced. */
  steps (context: Pick<HarnessContext, 'plan' | 'kcatAvailable'>, produced: ReadonlySet<DataSetKind>): number
  run (context: HarnessContext): Promise<void>
}

/** Baseline consumer name per data set, as written to the CSV's `baseline` column. */
const BASELINE_NAMES: Readonly<Record<DataSetKind, string>> = {
  [DataSetKind.JSON_SMALL]: 'kafkajs-main-json',
  [DataSetKind.PROTOBUF]: 'kafkajs-main-protobufjs',
  [DataSetKind.JSON_LARGE]: 'kafkajs-main-json',
  [DataSetKind.MIXED]: 'kafkajs-main-header-dispatch',
}

const BASELINE_LABELS: Readonly<Record<DataSetKind, string>> = {
  [DataSetKind.JSON_SMALL]: 'kafkajs, main thread, JSON.parse',
  [DataSetKind.PROTOBUF]: 'kafkajs, main thread, protobufjs decode',
  [DataSetKind.JSON_LARGE]: 'kafkajs, main thread, JSON.parse',
  [DataSetKind.MIXED]: 'kafkajs, main thread, header then JSON.parse/protobufjs',
}

function workersLabel (workers: number): string {
  return `tickbus, ${workers} worker${workers === 1 ? '' : 's'}`
}

/** Time a consumer gets to read `events` events before its measurement fails, in ms. */
function consumerTimeoutMs (events: number, payloadBytes: number): number {
  return 120_000 + Math.ceil(events / 2_000) * 1_000 + Math.ceil((events * payloadBytes) / (5 * 1024 * 1024)) * 1_000
}

function consumerJob (context: HarnessContext, fields: Pick<ConsumerJob, 'implementation' | 'mode' | 'dataSet' | 'topic' | 'groupId' | 'workers' | 'events'> & Partial<ConsumerJob>): ConsumerJob {
  return {
    brokers: context.brokers,
    partitions: context.plan.partitions,
    warmupFraction: context.plan.warmupFraction,
    idleMs: 0,
    warmupMs: 0,
    recordLatency: false,
    ringCapacityBytes: undefined,
    timeoutMs: consumerTimeoutMs(fields.events, 10_000),
    ...fields,
  }
}

/** Runs one consumer measurement as a progress step and logs its warnings. */
async function runConsumerStep (context: HarnessContext, label: string, job: ConsumerJob): Promise<ConsumerResult> {
  const { progress } = context
  progress.startStep(label)
  const started = startConsumer(job, (done, total) => { progress.update(done, total, job.events === 0 ? 'ms' : 'events') }, context.profileDirectory)
  const result = await started.result
  for (const warning of result.warnings) progress.log(`  warning from ${label}: ${warning}`)
  progress.finishStep(summarize(result))
  return result
}

function summarize (result: ConsumerResult): string {
  const parts: string[] = []
  if (Number.isFinite(result.receiveRatePerSec)) parts.push(formatRate(result.receiveRatePerSec))
  if (result.frame !== null) parts.push(`frame p99 ${formatMs(result.frame.p99)}`)
  if (result.latency !== null) parts.push(`latency p99 ${formatMs(result.latency.p99)}`)
  parts.push(`peak RSS ${formatBytes(result.rss.peakBytes)}`)
  return parts.join(', ')
}

/** Creates and fills the topic of a data set once per run. */
async function ensureDataSet (context: HarnessContext, kind: DataSetKind): Promise<DataSet> {
  const existing = context.dataSets.get(kind)
  if (existing !== undefined) return existing
  const { plan, progress } = context
  const events = plan.ingest.events[kind]
  const topic = `${context.runId}-${kind}`
  await createTopic(context.admin, topic, plan.partitions)
  context.createdTopics.push(topic)
  progress.startStep(`pre-produce ${kind}`)
  const report = await preProduce(context.kafka, kind, topic, plan.partitions, events, (sent) => { progress.update(sent, events) })
  progress.finishStep(`${events} events of ${report.payloadBytes} B at ${formatRate(report.ratePerSec)} (kafkajs sendBatch)`)
  const dataSet: DataSet = { topic, events, payloadBytes: report.payloadBytes, sendRatePerSec: report.ratePerSec }
  context.dataSets.set(kind, dataSet)
  return dataSet
}

function medianOf (results: readonly ConsumerResult[], pick: (result: ConsumerResult) => number | undefined): number {
  return median(results.map((result) => pick(result) ?? Number.NaN))
}

function maxOf (results: readonly ConsumerResult[], pick: (result: ConsumerResult) => number): number {
  const values = results.map(pick).filter((value) => Number.isFinite(value))
  return values.length === 0 ? Number.NaN : Math.max(...values)
}

function rounded (value: number, digits: number): number {
  const scale = 10 ** digits
  return Math.round(value * scale) / scale
}

/** Builds the CSV columns that every consumer row fills from the medians of its repetitions. */
function consumerColumns (results: readonly ConsumerResult[]): CsvRow {
  return {
    receive_rate_per_sec: Math.round(medianOf(results, (result) => result.receiveRatePerSec)),
    latency_p50_ms: rounded(medianOf(results, (result) => result.latency?.p50), 3),
    latency_p99_ms: rounded(medianOf(results, (result) => result.latency?.p99), 3),
    tick_p50_ms: rounded(medianOf(results, (result) => result.frame?.p50), 3),
    tick_p99_ms: rounded(medianOf(results, (result) => result.frame?.p99), 3),
    tick_max_ms: rounded(medianOf(results, (result) => result.frame?.max), 3),
    main_thread_ns_per_event: rounded(medianOf(results, (result) => result.mainThreadNsPerEvent), 1),
    peak_rss_bytes: maxOf(results, (result) => result.rss.peakBytes),
    rss_start_bytes: Math.round(medianOf(results, (result) => result.rss.startBytes)),
    rss_end_bytes: Math.round(medianOf(results, (result) => result.rss.endBytes)),
    repetitions: results.length,
  }
}

function ratesOf (results: readonly ConsumerResult[]): string {
  return results.map((result) => formatRate(result.receiveRatePerSec)).join(' ')
}

function ingestScenario (kind: DataSetKind): Scenario {
  return {
    name: `ingest-${kind}`,
    dataSets: [kind],
    description: `consume a pre-produced ${kind} topic from offset 0 with a fresh group, at full speed`,
    steps: ({ plan, kcatAvailable }, produced) => (produced.has(kind) ? 0 : 1) + plan.repetitions * (1 + (kcatAvailable ? 1 : 0) + plan.ingest.workerCounts.length),
    run: async (context) => {
      const { plan } = context
      const dataSet = await ensureDataSet(context, kind)
      const baseline: ConsumerResult[] = []
      const kcatRates: number[] = []
      const tickbus = new Map<number, ConsumerResult[]>(plan.ingest.workerCounts.map((workers) => [workers, []]))
      const timeoutMs = consumerTimeoutMs(dataSet.events, dataSet.payloadBytes)

      // Repetitions interleave the consumers, so that a slow stretch of the machine hits all alike.
      for (let repetition = 1; repetition <= plan.repetitions; repetition++) {
        const suffix = `rep ${repetition}/${plan.repetitions}`
        baseline.push(await runConsumerStep(context, `ingest-${kind} ${BASELINE_LABELS[kind]} ${suffix}`, consumerJob(context, {
          implementation: ConsumerImplementation.KAFKAJS, mode: ConsumerMode.THROUGHPUT, dataSet: kind, topic: dataSet.topic,
          groupId: `${dataSet.topic}-kafkajs-${repetition}`, workers: 1, events: dataSet.events, timeoutMs,
        })))
        if (context.kcatAvailable) {
          context.progress.startStep(`ingest-${kind} kcat ${suffix}`)
          const result = await measureKcat(context.bootstrapServers, dataSet.topic, dataSet.events, plan.warmupFraction, timeoutMs, (done) => { context.progress.update(done, dataSet.events) })
          kcatRates.push(result.receiveRatePerSec)
          context.progress.finishStep(formatRate(result.receiveRatePerSec))
        }
        for (const workers of plan.ingest.workerCounts) {
          tickbus.get(workers)!.push(await runConsumerStep(context, `ingest-${kind} ${workersLabel(workers)} ${suffix}`, consumerJob(context, {
            implementation: ConsumerImplementation.TICKBUS, mode: ConsumerMode.THROUGHPUT, dataSet: kind, topic: dataSet.topic,
            groupId: `${dataSet.topic}-tickbus-w${workers}-${repetition}`, workers, events: dataSet.events, timeoutMs,
          })))
        }
      }

      const baselineRate = medianOf(baseline, (result) => result.receiveRatePerSec)
      const kcatRate = median(kcatRates)
      const table: string[][] = []
      if (context.kcatAvailable) table.push(['kcat (librdkafka, no decoding)', formatRate(kcatRate), formatRatio(kcatRate / baselineRate), '1.00x', '-', '-', '-', '-', '-', kcatRates.map(formatRate).join(' ')])
      table.push([
        BASELINE_LABELS[kind], formatRate(baselineRate), '1.00x', formatRatio(baselineRate / kcatRate), formatNs(medianOf(baseline, (result) => result.mainThreadNsPerEvent)), '-',
        formatBytes(maxOf(baseline, (result) => result.rss.peakBytes)), `${medianOf(baseline, (result) => result.windowStartFraction).toFixed(2)}`, '0', ratesOf(baseline),
      ])
      for (const [workers, results] of tickbus) {
        const rate = medianOf(results, (result) => result.receiveRatePerSec)
        table.push([
          workersLabel(workers), formatRate(rate), formatRatio(rate / baselineRate), formatRatio(rate / kcatRate),
          formatNs(medianOf(results, (result) => result.mainThreadNsPerEvent)), formatMs(medianOf(results, (result) => result.frame?.p99)),
          formatBytes(maxOf(results, (result) => result.rss.peakBytes)), `${medianOf(results, (result) => result.windowStartFraction).toFixed(2)}`,
          String(medianOf(results, (result) => result.duplicateEvents)), ratesOf(results),
        ])
        context.rows.push({
          ...context.baseRow,
          scenario: `ingest-${kind}`,
          events: dataSet.events,
          payload_bytes: dataSet.payloadBytes,
          partitions: plan.partitions,
          workers,
          send_rate_per_sec: Math.round(dataSet.sendRatePerSec),
          ...consumerColumns(results),
          baseline: BASELINE_NAMES[kind],
          baseline_value: Math.round(baselineRate),
          ratio_metric: 'receive_rate',
          ratio_to_baseline: rounded(rate / baselineRate, 3),
          kcat_rate_per_sec: Math.round(kcatRate),
          ratio_to_kcat: rounded(rate / kcatRate, 3),
        })
      }
      printScenario(context, `ingest-${kind}`,
        `${dataSet.events} events of ${dataSet.payloadBytes} B over ${plan.partitions} partitions; median of ${plan.repetitions}; window from ${Math.round(plan.warmupFraction * 100)}% read (and all shards joined) to the last event`,
        ['consumer', 'receive rate', 'vs kafkajs', 'vs kcat', 'main ns/event', 'frame p99', 'peak RSS', 'window from', 'duplicates', 'each repetition'], table)
    },
  }
}

const tickIdleScenario: Scenario = {
  name: 'tick-idle',
  dataSets: [],
  description: 'a 60 Hz tick with fixed work while the bus consumes an empty topic',
  steps: ({ plan }) => plan.repetitions,
  run: async (context) => {
    const { plan } = context
    const topic = `${context.runId}-idle`
    await createTopic(context.admin, topic, plan.partitions)
    context.createdTopics.push(topic)
    const results: ConsumerResult[] = []
    for (let repetition = 1; repetition <= plan.repetitions; repetition++) {
      results.push(await runConsumerStep(context, `tick-idle ${workersLabel(1)} rep ${repetition}/${plan.repetitions}`, consumerJob(context, {
        implementation: ConsumerImplementation.TICKBUS, mode: ConsumerMode.TICK, dataSet: DataSetKind.JSON_SMALL, topic,
        groupId: `${topic}-${repetition}`, workers: 1, events: 0, idleMs: plan.tick.idleMs, warmupMs: plan.tick.warmupMs,
      })))
    }
    context.idleTickP99Ms = medianOf(results, (result) => result.frame?.p99)
    context.rows.push({ ...context.baseRow, scenario: 'tick-idle', events: 0, partitions: plan.partitions, workers: 1, ...consumerColumns(results), receive_rate_per_sec: '' })
    printScenario(context, 'tick-idle', `${plan.tick.idleMs / 1000} s of 60 Hz ticks with fixed work, after ${plan.tick.warmupMs / 1000} s of warm-up; median of ${plan.repetitions}`,
      ['consumer', 'frame p50', 'frame p99', 'frame max', 'work p99', 'lateness p99', 'skipped ticks'],
      [[workersLabel(1), ...frameCells(results)]])
  },
}

function frameCells (results: readonly ConsumerResult[]): string[] {
  return [
    formatMs(medianOf(results, (result) => result.frame?.p50)),
    formatMs(medianOf(results, (result) => result.frame?.p99)),
    formatMs(medianOf(results, (result) => result.frame?.max)),
    formatMs(medianOf(results, (result) => result.tickWork?.p99)),
    formatMs(medianOf(results, (result) => result.tickLateness?.p99)),
    String(medianOf(results, (result) => result.skippedTicks)),
  ]
}

const tickFullIngestScenario: Scenario = {
  name: 'tick-full-ingest',
  dataSets: [DataSetKind.JSON_SMALL],
  description: 'a 60 Hz tick with fixed work while the consumer drains the pre-produced json-small topic at full speed',
  steps: ({ plan }, produced) => (produced.has(DataSetKind.JSON_SMALL) ? 0 : 1) + plan.repetitions * (1 + plan.tick.workerCounts.length),
  run: async (context) => {
    const { plan } = context
    const dataSet = await ensureDataSet(context, DataSetKind.JSON_SMALL)
    const timeoutMs = consumerTimeoutMs(dataSet.events, dataSet.payloadBytes)
    const baseline: ConsumerResult[] = []
    const tickbus = new Map<number, ConsumerResult[]>(plan.tick.workerCounts.map((workers) => [workers, []]))
    for (let repetition = 1; repetition <= plan.repetitions; repetition++) {
      const suffix = `rep ${repetition}/${plan.repetitions}`
      baseline.push(await runConsumerStep(context, `tick-full-ingest ${BASELINE_LABELS[DataSetKind.JSON_SMALL]} ${suffix}`, consumerJob(context, {
        implementation: ConsumerImplementation.KAFKAJS, mode: ConsumerMode.TICK, dataSet: DataSetKind.JSON_SMALL, topic: dataSet.topic,
        groupId: `${dataSet.topic}-tick-kafkajs-${repetition}`, workers: 1, events: dataSet.events, timeoutMs,
      })))
      for (const workers of plan.tick.workerCounts) {
        tickbus.get(workers)!.push(await runConsumerStep(context, `tick-full-ingest ${workersLabel(workers)} ${suffix}`, consumerJob(context, {
          implementation: ConsumerImplementation.TICKBUS, mode: ConsumerMode.TICK, dataSet: DataSetKind.JSON_SMALL, topic: dataSet.topic,
          groupId: `${dataSet.topic}-tick-tickbus-w${workers}-${repetition}`, workers, events: dataSet.events, timeoutMs,
        })))
      }
    }

    const baselineP99 = medianOf(baseline, (result) => result.frame?.p99)
    const table: string[][] = []
    const idle = context.idleTickP99Ms
    const idleCell = (p99: number): string => (Number.isFinite(idle) ? `${p99 - idle >= 0 ? '+' : ''}${formatMs(p99 - idle)}` : '-')
    table.push([BASELINE_LABELS[DataSetKind.JSON_SMALL], formatRate(medianOf(baseline, (result) => result.receiveRatePerSec)), ...frameCells(baseline), idleCell(baselineP99), '1.00x'])
    for (const [workers, results] of tickbus) {
      const p99 = medianOf(results, (result) => result.frame?.p99)
      table.push([workersLabel(workers), formatRate(medianOf(results, (result) => result.receiveRatePerSec)), ...frameCells(results), idleCell(p99), formatRatio(p99 / baselineP99)])
      context.rows.push({
        ...context.baseRow,
        scenario: 'tick-full-ingest',
        events: dataSet.events,
        payload_bytes: dataSet.payloadBytes,
        partitions: plan.partitions,
        workers,
        send_rate_per_sec: Math.round(dataSet.sendRatePerSec),
        ...consumerColumns(results),
        baseline: BASELINE_NAMES[DataSetKind.JSON_SMALL],
        baseline_value: rounded(baselineP99, 3),
        ratio_metric: 'tick_p99_ms',
        ratio_to_baseline: rounded(p99 / baselineP99, 3),
      })
    }
    printScenario(context, 'tick-full-ingest',
      `${dataSet.events} json-small events drained at full speed under a 60 Hz tick with fixed work; frame = lateness + tick work; median of ${plan.repetitions}`,
      ['consumer', 'receive rate', 'frame p50', 'frame p99', 'frame max', 'work p99', 'lateness p99', 'skipped ticks', 'p99 vs idle', 'p99 vs kafkajs'], table)
  },
}

const produceScenario: Scenario = {
  name: 'produce-json-small',
  dataSets: [],
  description: 'send keyed PerfMove events as JSON from a 60 Hz tick until the broker acknowledged all of them',
  steps: ({ plan }) => plan.repetitions * 2,
  run: async (context) => {
    const { plan, progress } = context
    const { events, maxEventsPerTick } = plan.produce
    const results = new Map<ProducerImplementation, ProducerResult[]>([[ProducerImplementation.KAFKAJS, []], [ProducerImplementation.TICKBUS, []]])
    const labels: Readonly<Record<ProducerImplementation, string>> = {
      [ProducerImplementation.KAFKAJS]: 'kafkajs producer, main thread, JSON.stringify',
      [ProducerImplementation.TICKBUS]: 'tickbus writer, 1 producer worker',
    }
    for (let repetition = 1; repetition <= plan.repetitions; repetition++) {
      for (const [implementation, list] of results) {
        const topic = `${context.runId}-produce-${implementation}-${repetition}`
        await createTopic(context.admin, topic, plan.partitions)
        context.createdTopics.push(topic)
        const label = `produce-json-small ${labels[implementation]} rep ${repetition}/${plan.repetitions}`
        progress.startStep(label)
        const result = await runProducer({
          implementation, brokers: context.brokers, topic, partitions: plan.partitions, events, maxEventsPerTick,
          warmupFraction: plan.warmupFraction, timeoutMs: consumerTimeoutMs(events, 200),
        }, (done, total) => { progress.update(done, total) }, context.profileDirectory)
        for (const warning of result.warnings) progress.log(`  warning from ${label}: ${warning}`)
        progress.finishStep(`${formatRate(result.sendRatePerSec)}, frame p99 ${formatMs(result.frame.p99)}, peak RSS ${formatBytes(result.rss.peakBytes)}`)
        list.push(result)
      }
    }

    const medianOfProducer = (list: readonly ProducerResult[], pick: (result: ProducerResult) => number): number => median(list.map(pick))
    const baseline = results.get(ProducerImplementation.KAFKAJS)!
    const tickbus = results.get(ProducerImplementation.TICKBUS)!
    const baselineRate = medianOfProducer(baseline, (result) => result.sendRatePerSec)
    const rate = medianOfProducer(tickbus, (result) => result.sendRatePerSec)
    context.rows.push({
      ...context.baseRow,
      scenario: 'produce-json-small',
      events,
      payload_bytes: medianOfProducer(tickbus, (result) => result.payloadBytes),
      partitions: plan.partitions,
      workers: 1,
      send_rate_per_sec: Math.round(rate),
      tick_p50_ms: rounded(medianOfProducer(tickbus, (result) => result.frame.p50), 3),
      tick_p99_ms: rounded(medianOfProducer(tickbus, (result) => result.frame.p99), 3),
      tick_max_ms: rounded(medianOfProducer(tickbus, (result) => result.frame.max), 3),
      main_thread_ns_per_event: rounded(medianOfProducer(tickbus, (result) => result.mainThreadNsPerEvent), 1),
      peak_rss_bytes: Math.max(...tickbus.map((result) => result.rss.peakBytes)),
      rss_start_bytes: Math.round(medianOfProducer(tickbus, (result) => result.rss.startBytes)),
      rss_end_bytes: Math.round(medianOfProducer(tickbus, (result) => result.rss.endBytes)),
      baseline: 'kafkajs-main-producer',
      baseline_value: Math.round(baselineRate),
      ratio_metric: 'send_rate',
      ratio_to_baseline: rounded(rate / baselineRate, 3),
      repetitions: tickbus.length,
    })
    const row = (implementation: ProducerImplementation, list: readonly ProducerResult[]): string[] => {
      const sendRate = medianOfProducer(list, (result) => result.sendRatePerSec)
      return [
        labels[implementation], formatRate(sendRate), formatRatio(sendRate / baselineRate),
        formatNs(medianOfProducer(list, (result) => result.mainThreadNsPerEvent)),
        formatMs(medianOfProducer(list, (result) => result.frame.p50)), formatMs(medianOfProducer(list, (result) => result.frame.p99)),
        formatMs(medianOfProducer(list, (result) => result.frame.max)), String(medianOfProducer(list, (result) => result.rejectedWrites)),
        formatBytes(Math.max(...list.map((result) => result.rss.peakBytes))), list.map((result) => formatRate(result.sendRatePerSec)).join(' '),
      ]
    }
    printScenario(context, 'produce-json-small',
      `${events} events of about ${medianOfProducer(tickbus, (result) => result.payloadBytes)} B, at most ${maxEventsPerTick} per 60 Hz tick, acks=all, no compression; ` +
      `rate from ${Math.round(plan.warmupFraction * 100)}% acknowledged to the last acknowledgement; median of ${plan.repetitions}`,
      ['producer', 'send rate', 'vs kafkajs', 'main ns/event', 'frame p50', 'frame p99', 'frame max', 'full-ring writes', 'peak RSS', 'each repetition'],
      [row(ProducerImplementation.KAFKAJS, baseline), row(ProducerImplementation.TICKBUS, tickbus)])
  },
}

/** Runs one fixed-rate measurement: the consumer joins first, then the producer process starts. */
async function runFixedRate (context: HarnessContext, label: string, implementation: ConsumerImplementation, topic: string, eventsPerSec: number, durationSec: number): Promise<{ result: ConsumerResult, sendRatePerSec: number }> {
  const { plan, progress } = context
  const events = eventsPerSec * durationSec
  await createTopic(context.admin, topic, plan.partitions)
  context.createdTopics.push(topic)
  progress.startStep(label)
  const consumer = startConsumer(consumerJob(context, {
    implementation, mode: ConsumerMode.TICK, dataSet: DataSetKind.JSON_SMALL, topic, groupId: `${topic}-group`, workers: 1, events,
    warmupMs: plan.latency.warmupMs, recordLatency: true, timeoutMs: durationSec * 1000 + 120_000,
  }), (done, total) => { progress.update(done, total) }, context.profileDirectory)
  await consumer.ready
  const producing = runRateProducer({ brokers: context.brokers, dataSet: DataSetKind.JSON_SMALL, topic, partitions: plan.partitions, eventsPerSec, events }, durationSec * 1000 + 120_000, () => {})
  const [result, sendRatePerSec] = await Promise.all([consumer.result, producing])
  for (const warning of result.warnings) progress.log(`  warning from ${label}: ${warning}`)
  progress.finishStep(`${summarize(result)}, sent at ${formatRate(sendRatePerSec)}`)
  return { result, sendRatePerSec }
}

const latencyScenario: Scenario = {
  name: 'e2e-latency',
  dataSets: [],
  description: 'produce json-small at a fixed rate from another process; latency from sentAt to the tick that reads the event',
  steps: ({ plan }) => plan.repetitions * 2,
  run: async (context) => {
    const { plan } = context
    const { eventsPerSec, durationSec } = plan.latency
    const baseline: ConsumerResult[] = []
    const tickbus: ConsumerResult[] = []
    const sendRates: number[] = []
    for (let repetition = 1; repetition <= plan.repetitions; repetition++) {
      const suffix = `rep ${repetition}/${plan.repetitions}`
      const kafkajsRun = await runFixedRate(context, `e2e-latency ${BASELINE_LABELS[DataSetKind.JSON_SMALL]} ${suffix}`, ConsumerImplementation.KAFKAJS, `${context.runId}-latency-kafkajs-${repetition}`, eventsPerSec, durationSec)
      baseline.push(kafkajsRun.result)
      const tickbusRun = await runFixedRate(context, `e2e-latency ${workersLabel(1)} ${suffix}`, ConsumerImplementation.TICKBUS, `${context.runId}-latency-tickbus-${repetition}`, eventsPerSec, durationSec)
      tickbus.push(tickbusRun.result)
      sendRates.push(tickbusRun.sendRatePerSec)
    }
    const baselineP99 = medianOf(baseline, (result) => result.latency?.p99)
    const p99 = medianOf(tickbus, (result) => result.latency?.p99)
    context.rows.push({
      ...context.baseRow,
      scenario: 'e2e-latency',
      events: eventsPerSec * durationSec,
      payload_bytes: meanPayloadBytes(DataSetKind.JSON_SMALL),
      partitions: plan.partitions,
      workers: 1,
      send_rate_per_sec: Math.round(median(sendRates)),
      ...consumerColumns(tickbus),
      baseline: BASELINE_NAMES[DataSetKind.JSON_SMALL],
      baseline_value: rounded(baselineP99, 3),
      ratio_metric: 'latency_p99_ms',
      ratio_to_baseline: rounded(p99 / baselineP99, 3),
    })
    const row = (label: string, results: readonly ConsumerResult[]): string[] => [
      label,
      formatMs(medianOf(results, (result) => result.latency?.p50)),
      formatMs(medianOf(results, (result) => result.latency?.p99)),
      formatRate(medianOf(results, (result) => result.receiveRatePerSec)),
      formatMs(medianOf(results, (result) => result.frame?.p99)),
      formatMs(medianOf(results, (result) => result.frame?.max)),
      formatNs(medianOf(results, (result) => result.mainThreadNsPerEvent)),
      `${formatBytes(medianOf(results, (result) => result.rss.startBytes))} -> ${formatBytes(medianOf(results, (result) => result.rss.endBytes))}`,
    ]
    printScenario(context, 'e2e-latency',
      `${eventsPerSec} events/s for ${durationSec} s (first ${plan.latency.warmupMs / 1000} s left out); latency includes the wait for the next 60 Hz tick; median of ${plan.repetitions}`,
      ['consumer', 'latency p50', 'latency p99', 'receive rate', 'frame p99', 'frame max', 'main ns/event', 'RSS start -> end'],
      [row(BASELINE_LABELS[DataSetKind.JSON_SMALL], baseline), row(workersLabel(1), tickbus)])
  },
}

const soakScenario: Scenario = {
  name: 'soak',
  dataSets: [],
  description: 'one long fixed-rate run of tickbus with 1 worker, sampling RSS to show whether it stays flat',
  steps: ({ plan }) => (plan.soak === null ? 0 : 1),
  run: async (context) => {
    const soak = context.plan.soak
    if (soak === null) return
    const { result, sendRatePerSec } = await runFixedRate(context, `soak ${workersLabel(1)} ${soak.durationSec} s`, ConsumerImplementation.TICKBUS, `${context.runId}-soak`, soak.eventsPerSec, soak.durationSec)
    context.rows.push({
      ...context.baseRow,
      scenario: 'soak',
      events: soak.eventsPerSec * soak.durationSec,
      payload_bytes: meanPayloadBytes(DataSetKind.JSON_SMALL),
      partitions: context.plan.partitions,
      workers: 1,
      send_rate_per_sec: Math.round(sendRatePerSec),
      ...consumerColumns([result]),
    })
    const samples = result.rss.samples
    const every = Math.max(1, Math.floor(samples.length / 12))
    const table = samples.filter((_, index) => index % every === 0 || index === samples.length - 1).map(([seconds, bytes]) => [`${seconds.toFixed(0)} s`, formatBytes(bytes)])
    printScenario(context, 'soak',
      `${soak.eventsPerSec} events/s for ${soak.durationSec} s; RSS start ${formatBytes(result.rss.startBytes)}, end ${formatBytes(result.rss.endBytes)}, peak ${formatBytes(result.rss.peakBytes)}, ` +
      `slope over the second half ${formatBytes(result.rss.slopeBytesPerMinute)}/min; latency p99 ${formatMs(result.latency?.p99 ?? Number.NaN)}, frame p99 ${formatMs(result.frame?.p99 ?? Number.NaN)}`,
      ['time in window', 'RSS'], table)
  },
}

function printScenario (context: HarnessContext, name: string, detail: string, header: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  context.progress.print(`\n## ${name}\n${detail}\n\n${formatTable(header, rows)}\n`)
}

/** Every scenario, in the order the harness runs them. */
export const SCENARIOS: readonly Scenario[] = [
  ...DATA_SET_KINDS.map(ingestScenario),
  tickIdleScenario,
  tickFullIngestScenario,
  produceScenario,
  latencyScenario,
  soakScenario,
]
