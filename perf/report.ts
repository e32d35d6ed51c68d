/** Formatting of the figures the harness prints to stdout. */

export function formatRate (perSec: number): string {
  if (!Number.isFinite(perSec)) return '-'
  if (perSec >= 1e6) return `${(perSec / 1e6).toFixed(2)}M/s`
  if (perSec >= 1e3) return `${(perSec / 1e3).toFixed(1)}k/s`
  return `${perSec.toFixed(0)}/s`
}

export function formatMs (ms: number): string {
  return Number.isFinite(ms) ? `${ms.toFixed(2)} ms` : '-'
}

export function formatRatio (ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : '-'
}

export function formatBytes (bytes: number): string {
  if (!Number.isFinite(bytes)) return '-'
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`
}

export function formatNs (ns: number): string {
  return Number.isFinite(ns) ? `${ns.toFixed(0)} ns` : '-'
}

/** Renders rows as a plain-text table with a header line and right-aligned columns after the first. */
export function formatTable (header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)))
  const line = (cells: readonly string[]): string => cells
    .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
    .join('  ')
    .trimEnd()
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n')
}
