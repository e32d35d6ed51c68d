import { existsSync } from 'node:fs'
import { readFile, rename, writeFile } from 'node:fs/promises'

/**
 * Columns of perf-results.csv, in order. perf/README.md describes each. Rows written under an
 * older header are migrated when the file is next written. Each value moves to the column of the
 * same name, and new columns stay empty. Old columns that are no longer written are kept at the end.
 */
export const CSV_COLUMNS = [
  'timestamp',
  'commit',
  'mode',
  'scenario',
  'events',
  'payload_bytes',
  'partitions',
  'workers',
  'send_rate_per_sec',
  'receive_rate_per_sec',
  'send_rate_delta_per_sec',
  'receive_rate_delta_per_sec',
  'latency_p50_ms',
  'latency_p99_ms',
  'tick_p50_ms',
  'tick_p99_ms',
  'tick_max_ms',
  'main_thread_ns_per_event',
  'peak_rss_bytes',
  'rss_start_bytes',
  'rss_end_bytes',
  'baseline',
  'baseline_value',
  'ratio_metric',
  'ratio_to_baseline',
  'kcat_rate_per_sec',
  'ratio_to_kcat',
  'repetitions',
] as const
export type CsvColumn = (typeof CSV_COLUMNS)[number]

/** One result row; a missing or NaN value is written as an empty field. */
export type CsvRow = Partial<Record<CsvColumn, string | number>>

/** Parses RFC 4180 CSV text (quoted fields may contain commas, quotes and line breaks). */
export function parseCsv (text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"'
        i++
      } else if (char === '"') {
        quoted = false
      } else {
        field += char
      }
    } else if (char === '"') {
      quoted = true
    } else if (char === ',') {
      row.push(field)
      field = ''
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[i + 1] === '\n') i++
      row.push(field)
      rows.push(row)
      row = []
      field = ''
    } else {
      field += char
    }
  }
  if (quoted) throw new Error('Invalid CSV: a quoted field is not closed before the end of the file.')
  if (field !== '' || row.length > 0) {
    row.push(field)
    rows.push(row)
  }
  return rows
}

function formatField (value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value
}

function formatValue (value: string | number | undefined): string {
  if (value === undefined) return ''
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : ''
  return value
}

/** The rows of a results file as objects keyed by column name, with its header. */
export interface CsvTable {
  readonly header: string[]
  readonly rows: Array<Record<string, string>>
}

/** Reads a results file; a missing or empty file is an empty table with the current header. */
export async function readResults (path: string): Promise<CsvTable> {
  if (!existsSync(path)) return { header: [...CSV_COLUMNS], rows: [] }
  const parsed = parseCsv(await readFile(path, 'utf8')).filter((row) => !(row.length === 1 && row[0] === ''))
  if (parsed.length === 0) return { header: [...CSV_COLUMNS], rows: [] }
  const header = parsed[0]!
  const rows = parsed.slice(1).map((fields, index) => {
    if (fields.length > header.length) {
      throw new Error(`Invalid ${path}: line ${index + 2} has ${fields.length} fields but the header has ${header.length}. Fix the file by hand; it is left unchanged.`)
    }
    const row: Record<string, string> = {}
    header.forEach((column, i) => { row[column] = fields[i] ?? '' })
    return row
  })
  return { header, rows }
}

/**
 * Appends rows to a results file, after migrating its existing rows to the current header (see
 * CSV_COLUMNS). Writes a temporary file next to it and renames it over the old one, so an
 * interrupted write leaves the old file whole.
 */
export async function appendResults (path: string, newRows: readonly CsvRow[]): Promise<{ migrated: boolean }> {
  const existing = await readResults(path)
  const header: string[] = [...CSV_COLUMNS]
  for (const column of existing.header) if (!header.includes(column)) header.push(column)
  const migrated = existing.rows.length > 0 && existing.header.join(',') !== header.join(',')

  const lines = [header.map(formatField).join(',')]
  for (const row of existing.rows) lines.push(header.map((column) => formatField(row[column] ?? '')).join(','))
  for (const row of newRows) lines.push(header.map((column) => formatField(formatValue(row[column as CsvColumn]))).join(','))

  const temporary = `${path}.${process.pid}.tmp`
  await writeFile(temporary, `${lines.join('\n')}\n`)
  await rename(temporary, path)
  return { migrated }
}

/**
 * Fills send_rate_delta_per_sec and receive_rate_delta_per_sec of each new row: the difference to
 * the latest earlier row with the same scenario, workers and mode (in the file or among the new
 * rows before it). Left empty when there is no such row or either rate is missing.
 */
export function fillDeltas (history: ReadonlyArray<Record<string, string>>, newRows: CsvRow[]): void {
  const latest = new Map<string, { send: number, receive: number }>()
  const key = (scenario: unknown, workers: unknown, mode: unknown): string => `${String(scenario)}|${String(workers)}|${String(mode)}`
  const toNumber = (value: unknown): number => (value === undefined || value === '' ? Number.NaN : Number(value))
  for (const row of history) {
    latest.set(key(row.scenario, row.workers, row.mode), { send: toNumber(row.send_rate_per_sec), receive: toNumber(row.receive_rate_per_sec) })
  }
  for (const row of newRows) {
    const rowKey = key(row.scenario, row.workers, row.mode)
    const previous = latest.get(rowKey)
    const send = toNumber(row.send_rate_per_sec)
    const receive = toNumber(row.receive_rate_per_sec)
    if (previous !== undefined) {
      row.send_rate_delta_per_sec = Math.round(send - previous.send)
      row.receive_rate_delta_per_sec = Math.round(receive - previous.receive)
    }
    latest.set(rowKey, { send, receive })
  }
}
