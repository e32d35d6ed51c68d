import { Worker, type WorkerOptions } from 'node:worker_threads'

// Resolved here with the ESM conditions, because the CommonJS build of this entry fails to
// register when imported from ESM (tsx 4.23.15: it looks for esm/api/esm/index.mjs). The eval'd
// worker code would resolve a bare name from the working directory instead of this package.
const tsxApiUrl = import.meta.resolve('tsx/esm/api')

/**
 * Starts a worker thread that runs the TypeScript module at `entry` through tsx, for tests and
 * benchmarks. On Node.js 20 `execArgv: ['--import', 'tsx']` does not reach a worker's entry module
 * (it fails with ERR_UNKNOWN_FILE_EXTENSION), so a small eval'd bootstrap registers tsx's ESM hooks
 * inside the worker and then imports the entry. `workerData` and the other options pass through.
 */
export function startTsWorker (entry: URL, options: Omit<WorkerOptions, 'eval'> = {}): Worker {
  const bootstrap =
    `import(${JSON.stringify(tsxApiUrl)})` +
    `.then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}) })`
  return new Worker(bootstrap, { ...options, eval: true })
}
