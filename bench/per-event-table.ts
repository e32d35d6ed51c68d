import type { Bench } from 'tinybench'

/**
 * Prints one row per task of a finished tinybench run: mean ns per event (each task iteration
 * handles `eventsPerIteration` events), its 95% relative margin of error, and the ratio to the
 * first task's mean. Throws when a task did not complete, with the task's error as the cause.
 */
export function printPerEventTable (bench: Bench, eventsPerIteration: number): void {
  const rows: Record<string, string>[] = []
  let baselineNs = 0
  for (const task of bench.tasks) {
    const result = task.result
    if (result.state !== 'completed') {
      const cause = result.state === 'errored' ? result.error : undefined
      throw new Error(`Benchmark task "${task.name}" did not complete: ${result.state}.`, { cause })
    }
    const nsPerEvent = (result.latency.mean * 1e6) / eventsPerIteration
    if (baselineNs === 0) baselineNs = nsPerEvent
    rows.push({
      task: task.name,
      'ns/event': nsPerEvent.toFixed(1),
      '±%': result.latency.rme.toFixed(1),
      'x first row': (nsPerEvent / baselineNs).toFixed(2),
    })
  }
  if (bench.name !== undefined) console.log(bench.name)
  console.table(rows)
}
