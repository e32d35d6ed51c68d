/**
 * End-to-end performance scenarios of tickbus against a real Kafka broker: ingest throughput of
 * several payload families with 1 to 4 consumer workers, tick times under full ingest, and
 * end-to-end latency and RSS at a fixed rate. Every tickbus figure is printed beside baselines
 * measured in the same run (a plain kafkajs consumer on the main thread, and kcat's raw consume
 * rate), and each scenario appends one row per worker count to perf-results.csv. The producer
 * scenario compares bus.writer() with a plain kafkajs producer on the main thread.
 *
 *   npm run perf                   full run (3 repetitions, median kept)
 *   npm run perf -- --quick        smoke run of a minute or two
 *   npm run perf -- --help         every option
 *
 * perf/README.md describes the scenarios, how each figure is measured, and the CSV columns.
 * Uses KAFKA_BOOTSTRAP_SERVERS when set; otherwise starts a local broker (see scripts/kafka.ts).
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { acquireBroker } from './scripts/kafka.js'
import { appendResults, fillDeltas, readResults, type CsvRow } from './perf/csv.js'
import type { DataSetKind } from './perf/data-sets.js'
import { createAdminKafka } from './perf/kafka-setup.js'
import { kcatAvailable } from './perf/kcat.js'
import { parseHarnessOptions, USAGE } from './perf/options.js'
import { Progress } from './perf/progress.js'
import { SCENARIOS, type HarnessContext } from './perf/scenarios.js'

const ROOT = fileURLToPath(new URL('.', import.meta.url))
const CSV_PATH = fileURLToPath(new URL('./perf-results.csv', import.meta.url))

/** Commit of the checkout, with `-dirty` when src/ or workers/ differ from it (they are what dist/ is built from). */
function describeCommit (): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
    const changes = execFileSync('git', ['status', '--porcelain', '--', 'src', 'workers'], { cwd: ROOT, encoding: 'utf8' }).trim()
    return changes === '' ? commit : `${commit}-dirty`
  } catch {
    return 'unknown'
  }
}

let options
try {
  options = parseHarnessOptions(process.argv.slice(2), process.env, CSV_PATH)
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`)
  process.exit(2)
}
if (options === null) process.exit(0)

if (!existsSync(new URL('./dist/src/index.js', import.meta.url))) {
  process.stderr.write('dist/src/index.js is missing: the scenarios run the compiled package and its worker files. Run `npm run build` first, or start the harness with `npm run perf`.\n')
  process.exit(2)
}

const scenarios = SCENARIOS.filter((scenario) => options.only.length === 0 || options.only.some((name) => scenario.name.includes(name)))
if (scenarios.length === 0) {
  process.stderr.write(`No scenario matches --only ${options.only.join(', ')}. Scenarios: ${SCENARIOS.map((scenario) => scenario.name).join(', ')}.\n`)
  process.exit(2)
}

const kcat = kcatAvailable()
const produced = new Set<DataSetKind>()
let totalSteps = 0
for (const scenario of scenarios) {
  totalSteps += scenario.steps({ plan: options.plan, kcatAvailable: kcat }, produced)
  for (const kind of scenario.dataSets) produced.add(kind)
}
const progress = new Progress(totalSteps)
const broker = await acquireBroker(process.env, (message) => { progress.log(`[kafka] ${message}`) })
process.once('SIGINT', () => {
  progress.log('interrupted: stopping the broker this run started, recording nothing')
  void broker.release().finally(() => process.exit(130))
})

const brokers = broker.bootstrapServers.split(',').map((server) => server.trim())
const kafka = createAdminKafka(brokers)
const admin = kafka.admin()
const commit = describeCommit()
const context: HarnessContext = {
  plan: options.plan,
  brokers,
  bootstrapServers: broker.bootstrapServers,
  runId: `perf-${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`,
  kafka,
  admin,
  progress,
  kcatAvailable: kcat,
  profileDirectory: options.profileDirectory,
  baseRow: { timestamp: new Date().toISOString(), commit, mode: options.plan.mode },
  rows: [] as CsvRow[],
  createdTopics: [],
  dataSets: new Map(),
  idleTickP99Ms: Number.NaN,
}

progress.print(`tickbus performance run (${options.plan.mode}) at ${commit} on ${broker.description}; ` +
  `${options.plan.repetitions} repetition${options.plan.repetitions === 1 ? '' : 's'}, ${options.plan.partitions} partitions per topic`)
if (!kcat) progress.print('kcat is not on PATH, so the kcat ceiling is not measured (Debian/Ubuntu: apt-get install kcat).')

const failures: string[] = []
try {
  await admin.connect()
  for (const scenario of scenarios) {
    try {
      await scenario.run(context)
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      failures.push(`${scenario.name}: ${message}`)
      progress.log(`scenario ${scenario.name} failed: ${message}`)
    }
  }
} finally {
  if (context.createdTopics.length > 0) {
    await admin.deleteTopics({ topics: context.createdTopics }).catch((error: unknown) => {
      progress.log(`could not delete this run's topics (${context.createdTopics.length}): ${error instanceof Error ? error.message : String(error)}`)
    })
  }
  await admin.disconnect()
  await broker.release()
}
progress.done()

if (options.csvPath === null) {
  progress.print(`${context.rows.length} result rows not recorded (--no-record, or CI=true without --csv).`)
} else if (context.rows.length > 0) {
  const history = await readResults(options.csvPath)
  fillDeltas(history.rows, context.rows)
  const { migrated } = await appendResults(options.csvPath, context.rows)
  progress.print(`appended ${context.rows.length} rows to ${options.csvPath}${migrated ? ' (earlier rows migrated to the current columns)' : ''}`)
}

if (failures.length > 0) {
  progress.print(`${failures.length} scenario${failures.length === 1 ? '' : 's'} failed:\n${failures.map((failure) => `  ${failure}`).join('\n')}`)
  process.exitCode = 1
}
