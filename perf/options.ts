import { parseArgs } from 'node:util'
import { DataSetKind } from './data-sets.js'

/** Sizes and counts of one harness run; `quick` and `full` are the two presets. */
export interface RunPlan {
  readonly mode: 'quick' | 'full'
  readonly repetitions: number
  readonly partitions: number
  /** Share of a pre-produced data set read before the measured window opens. */
  readonly warmupFraction: number
  readonly ingest: {
    readonly workerCounts: readonly number[]
    readonly events: Readonly<Record<DataSetKind, number>>
  }
  readonly tick: {
    readonly workerCounts: readonly number[]
    /** Measured idle ticking, after the warm-up, in ms. */
    readonly idleMs: number
    readonly warmupMs: number
  }
  readonly latency: {
    readonly eventsPerSec: number
    readonly durationSec: number
    readonly warmupMs: number
  }
  readonly produce: {
    readonly events: number
    /** Events one tick hands to the producer at most. */
    readonly maxEventsPerTick: number
  }
  /** A single long fixed-rate run that shows whether RSS stays flat; null skips it. */
  readonly soak: { readonly eventsPerSec: number, readonly durationSec: number } | null
}

const QUICK: RunPlan = {
  mode: 'quick',
  repetitions: 1,
  partitions: 8,
  warmupFraction: 0.1,
  ingest: {
    workerCounts: [1, 2],
    events: { [DataSetKind.JSON_SMALL]: 150_000, [DataSetKind.PROTOBUF]: 150_000, [DataSetKind.JSON_LARGE]: 4_000, [DataSetKind.MIXED]: 150_000 },
  },
  tick: { workerCounts: [1], idleMs: 4_000, warmupMs: 1_000 },
  latency: { eventsPerSec: 20_000, durationSec: 8, warmupMs: 2_000 },
  produce: { events: 100_000, maxEventsPerTick: 10_000 },
  soak: null,
}

const FULL: RunPlan = {
  mode: 'full',
  repetitions: 3,
  partitions: 8,
  warmupFraction: 0.1,
  ingest: {
    workerCounts: [1, 2, 4],
    // Sized so that the fastest decoding consumer (kafkajs with protobufjs, about 2.5M events/s
    // on the 2-core machine these were chosen on) still reads for more than a second.
    events: { [DataSetKind.JSON_SMALL]: 2_000_000, [DataSetKind.PROTOBUF]: 4_000_000, [DataSetKind.JSON_LARGE]: 50_000, [DataSetKind.MIXED]: 2_500_000 },
  },
  tick: { workerCounts: [1, 2], idleMs: 15_000, warmupMs: 2_000 },
  latency: { eventsPerSec: 20_000, durationSec: 30, warmupMs: 3_000 },
  produce: { events: 1_000_000, maxEventsPerTick: 10_000 },
  soak: { eventsPerSec: 20_000, durationSec: 180 },
}

export interface HarnessOptions {
  readonly plan: RunPlan
  /** Results file to append to, or null when nothing is recorded. */
  readonly csvPath: string | null
  /** Scenario names to run (substring match); empty runs all. */
  readonly only: readonly string[]
  /** Folder for `node --cpu-prof` profiles of the consumer processes, or undefined. */
  readonly profileDirectory: string | undefined
}

export const USAGE = `Usage: npm run perf -- [options]

Runs the end-to-end performance scenarios against a local Kafka broker (started here) or the
broker in KAFKA_BOOTSTRAP_SERVERS, prints each figure beside its baseline, and appends one row
per scenario to perf-results.csv.

Options:
  --quick             smoke run: fewer events, 1 repetition, 1 and 2 workers, no soak (about 2 min)
  --repetitions N     repetitions per measurement; the median is kept (default: 3, quick: 1)
  --only NAME         run only scenarios whose name contains NAME; may be repeated
  --csv PATH          append rows to PATH instead of perf-results.csv
  --no-record         append no rows anywhere
  --profile DIR       write node --cpu-prof profiles of every consumer process (all threads) to DIR
  -h, --help          print this text

When CI=true and neither --csv nor --no-record is given, nothing is recorded, so CI runs never
add rows to the committed perf-results.csv.`

/** Parses the command line; returns null after printing the usage for --help. */
export function parseHarnessOptions (argv: readonly string[], env: NodeJS.ProcessEnv, defaultCsvPath: string): HarnessOptions | null {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      repetitions: { type: 'string' },
      only: { type: 'string', multiple: true, default: [] },
      csv: { type: 'string' },
      'no-record': { type: 'boolean', default: false },
      profile: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  })
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return null
  }

  let plan = values.quick ? QUICK : FULL
  if (values.repetitions !== undefined) {
    const repetitions = Number(values.repetitions)
    if (!Number.isSafeInteger(repetitions) || repetitions < 1) throw new Error(`Invalid --repetitions ${values.repetitions}: expected a positive integer.`)
    plan = { ...plan, repetitions }
  }
  if (values.csv !== undefined && values['no-record']) throw new Error('Invalid options: --csv and --no-record exclude each other; pass one of them.')

  let csvPath: string | null = defaultCsvPath
  if (values['no-record']) csvPath = null
  else if (values.csv !== undefined) csvPath = values.csv
  else if (env.CI === 'true') csvPath = null

  return { plan, csvPath, only: values.only, profileDirectory: values.profile }
}
