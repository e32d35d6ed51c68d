import { readdir } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'

/*
 * Runs the benchmark files bench/*.bench.ts in name order, or only the files whose name contains
 * the first command-line argument:
 *
 *   npm run bench               every bench file
 *   npm run bench -- handoff    bench/ring-handoff.bench.ts only
 *
 * Convention for bench files: all work happens in top-level code, which prints its own table and
 * finishes before the module's top-level await settles, so a file also runs on its own with
 * `npx tsx bench/NAME.bench.ts`. Helpers and worker entry points use other suffixes.
 */

const benchDirectory = fileURLToPath(new URL('.', import.meta.url))
const filter = process.argv[2] ?? ''
const files = (await readdir(benchDirectory))
  .filter((name) => name.endsWith('.bench.ts') && name.includes(filter))
  .sort()

if (files.length === 0) {
  console.error(`No bench file in ${benchDirectory} matches ${JSON.stringify(filter)}. Pass part of a *.bench.ts file name, or nothing to run them all.`)
  process.exitCode = 1
}

for (const file of files) {
  console.log(`\n## ${file}\n`)
  await import(pathToFileURL(benchDirectory + file).href)
}
