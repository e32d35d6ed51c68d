import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CSV_COLUMNS, appendResults, fillDeltas, parseCsv, readResults, type CsvRow } from '../../perf/csv.js'

let directory: string
let path: string

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'tickbus-perf-csv-'))
  path = join(directory, 'perf-results.csv')
})

afterEach(async () => {
  await rm(directory, { recursive: true, force: true })
})

describe('perf results CSV', () => {
  it('creates the file with the current header', async () => {
    await appendResults(path, [{ scenario: 'ingest-json-small', workers: 2, receive_rate_per_sec: 1000 }])
    const rows = parseCsv(await readFile(path, 'utf8'))
    expect(rows[0]).toEqual([...CSV_COLUMNS])
    expect(rows).toHaveLength(2)
    expect(rows[1]![CSV_COLUMNS.indexOf('receive_rate_per_sec')]).toBe('1000')
  })

  it('migrates rows written under an older header', async () => {
    await writeFile(path, 'timestamp,scenario,receive_rate_per_sec,retired_column\n2020-01-01T00:00:00Z,ingest-json-small,500,"a, quoted ""value"""\n')
    const { migrated } = await appendResults(path, [{ timestamp: '2020-01-02T00:00:00Z', scenario: 'ingest-json-small', receive_rate_per_sec: 600 }])
    expect(migrated).toBe(true)

    const table = await readResults(path)
    expect(table.header.slice(0, CSV_COLUMNS.length)).toEqual([...CSV_COLUMNS])
    expect(table.header.at(-1)).toBe('retired_column')
    expect(table.rows).toHaveLength(2)
    expect(table.rows[0]!.receive_rate_per_sec).toBe('500')
    expect(table.rows[0]!.retired_column).toBe('a, quoted "value"')
    expect(table.rows[0]!.workers).toBe('')
    expect(table.rows[1]!.receive_rate_per_sec).toBe('600')
    expect(table.rows[1]!.retired_column).toBe('')
  })

  it('keeps the file when a row is malformed', async () => {
    const text = 'timestamp,scenario\n2020-01-01T00:00:00Z,a,unexpected\n'
    await writeFile(path, text)
    await expect(appendResults(path, [{ scenario: 'b' }])).rejects.toThrow(/line 2 has 3 fields/)
    expect(await readFile(path, 'utf8')).toBe(text)
  })

  it('writes NaN and missing values as empty fields', async () => {
    await appendResults(path, [{ scenario: 'tick-idle', receive_rate_per_sec: Number.NaN }])
    const table = await readResults(path)
    expect(table.rows[0]!.receive_rate_per_sec).toBe('')
    expect(table.rows[0]!.latency_p99_ms).toBe('')
  })

  it('computes deltas per scenario, workers and mode', () => {
    const history = [
      { scenario: 'ingest-json-small', workers: '1', mode: 'full', send_rate_per_sec: '100', receive_rate_per_sec: '1000' },
      { scenario: 'ingest-json-small', workers: '2', mode: 'full', send_rate_per_sec: '100', receive_rate_per_sec: '5000' },
      { scenario: 'ingest-json-small', workers: '1', mode: 'quick', send_rate_per_sec: '100', receive_rate_per_sec: '9000' },
    ]
    const rows: CsvRow[] = [
      { scenario: 'ingest-json-small', workers: 1, mode: 'full', send_rate_per_sec: 150, receive_rate_per_sec: 1200 },
      { scenario: 'ingest-protobuf', workers: 1, mode: 'full', send_rate_per_sec: 150, receive_rate_per_sec: 1200 },
    ]
    fillDeltas(history, rows)
    expect(rows[0]!.send_rate_delta_per_sec).toBe(50)
    expect(rows[0]!.receive_rate_delta_per_sec).toBe(200)
    expect(rows[1]!.receive_rate_delta_per_sec).toBeUndefined()
  })
})
