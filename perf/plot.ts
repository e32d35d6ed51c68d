/**
 * Draws the receive rate of every scenario over time from perf-results.csv as an SVG line chart,
 * one line per scenario and worker count, with a logarithmic rate axis. Fixed-rate scenarios are
 * left out.
 *
 *   npm run perf:plot                               full-mode rows of perf-results.csv -> perf/perf-history.svg
 *   npm run perf:plot -- --mode quick --out FILE    quick-mode rows, another output file
 */
import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { readResults } from './csv.js'

const WIDTH = 1000
const HEIGHT = 560
const MARGIN = { top: 48, right: 300, bottom: 64, left: 80 }
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#637939', '#8c6d31', '#843c39', '#7b4173', '#3182bd']

interface Point {
  readonly time: number
  readonly rate: number
  readonly commit: string
}

const { values } = parseArgs({
  options: {
    csv: { type: 'string', default: fileURLToPath(new URL('../perf-results.csv', import.meta.url)) },
    out: { type: 'string', default: fileURLToPath(new URL('./perf-history.svg', import.meta.url)) },
    mode: { type: 'string', default: 'full' },
  },
})
if (values.mode !== 'full' && values.mode !== 'quick' && values.mode !== 'all') {
  throw new Error(`Invalid --mode ${values.mode}: expected full, quick or all.`)
}

/** Scenarios that produce at a fixed rate, so their receive rate equals that rate and shows nothing about throughput. */
const FIXED_RATE_SCENARIOS = new Set(['e2e-latency', 'soak'])

const table = await readResults(values.csv)
const series = new Map<string, Point[]>()
for (const row of table.rows) {
  if (values.mode !== 'all' && row.mode !== values.mode) continue
  if (FIXED_RATE_SCENARIOS.has(row.scenario ?? '')) continue
  const rate = Number(row.receive_rate_per_sec)
  const time = Date.parse(row.timestamp ?? '')
  if (row.receive_rate_per_sec === '' || !(rate > 0) || Number.isNaN(time)) continue
  const name = `${row.scenario} w${row.workers}`
  const points = series.get(name) ?? []
  points.push({ time, rate, commit: row.commit ?? '' })
  series.set(name, points)
}
if (series.size === 0) {
  throw new Error(`No ${values.mode === 'all' ? '' : `${values.mode}-mode `}rows with a receive rate in ${values.csv}; run \`npm run perf\` first, or pass --mode all.`)
}

const svg = renderChart([...series].sort(([a], [b]) => a.localeCompare(b)), values.mode)
await writeFile(values.out, svg)
console.log(`wrote ${values.out}: ${series.size} series, ${[...series.values()].reduce((sum, points) => sum + points.length, 0)} points`)

function renderChart (entries: ReadonlyArray<readonly [string, Point[]]>, mode: string): string {
  const points = entries.flatMap(([, list]) => list)
  let minTime = Math.min(...points.map((point) => point.time))
  let maxTime = Math.max(...points.map((point) => point.time))
  if (minTime === maxTime) {
    minTime -= 12 * 3600_000
    maxTime += 12 * 3600_000
  }
  const minExponent = Math.floor(Math.log10(Math.min(...points.map((point) => point.rate))))
  const maxExponent = Math.ceil(Math.log10(Math.max(...points.map((point) => point.rate))))
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom
  const x = (time: number): number => MARGIN.left + ((time - minTime) / (maxTime - minTime)) * plotWidth
  const y = (rate: number): number => MARGIN.top + plotHeight - ((Math.log10(rate) - minExponent) / Math.max(1, maxExponent - minExponent)) * plotHeight

  const parts: string[] = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`)
  parts.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`)
  parts.push(`<text x="${MARGIN.left}" y="24" font-size="16">tickbus receive rate per scenario (${escapeXml(mode)} mode, events/s, log scale)</text>`)

  // Rate grid: one line per power of ten, lighter lines at 2x and 5x.
  for (let exponent = minExponent; exponent <= maxExponent; exponent++) {
    for (const factor of [1, 2, 5]) {
      const rate = factor * 10 ** exponent
      if (Math.log10(rate) > maxExponent) continue
      const lineY = y(rate).toFixed(1)
      parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${lineY}" y2="${lineY}" stroke="${factor === 1 ? '#bbb' : '#eee'}"/>`)
      parts.push(`<text x="${MARGIN.left - 8}" y="${lineY}" text-anchor="end" dominant-baseline="middle" fill="#555">${formatRate(rate)}</text>`)
    }
  }

  // Time axis: five labelled dates.
  for (let i = 0; i <= 4; i++) {
    const time = minTime + ((maxTime - minTime) * i) / 4
    const lineX = x(time).toFixed(1)
    parts.push(`<line x1="${lineX}" x2="${lineX}" y1="${MARGIN.top}" y2="${MARGIN.top + plotHeight}" stroke="#eee"/>`)
    parts.push(`<text x="${lineX}" y="${MARGIN.top + plotHeight + 20}" text-anchor="middle" fill="#555">${new Date(time).toISOString().slice(0, 16).replace('T', ' ')}</text>`)
  }
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#888"/>`)
  parts.push(`<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 16}" text-anchor="middle" fill="#555">run time (UTC)</text>`)

  entries.forEach(([name, list], index) => {
    const color = PALETTE[index % PALETTE.length]!
    const sorted = [...list].sort((a, b) => a.time - b.time)
    if (sorted.length > 1) {
      const path = sorted.map((point) => `${x(point.time).toFixed(1)},${y(point.rate).toFixed(1)}`).join(' ')
      parts.push(`<polyline points="${path}" fill="none" stroke="${color}" stroke-width="2"/>`)
    }
    for (const point of sorted) {
      parts.push(`<circle cx="${x(point.time).toFixed(1)}" cy="${y(point.rate).toFixed(1)}" r="4" fill="${color}"><title>${escapeXml(`${name}: ${formatRate(point.rate)} at ${point.commit}`)}</title></circle>`)
    }
    const legendY = MARGIN.top + 8 + index * 20
    const legendX = MARGIN.left + plotWidth + 20
    parts.push(`<line x1="${legendX}" x2="${legendX + 24}" y1="${legendY}" y2="${legendY}" stroke="${color}" stroke-width="3"/>`)
    parts.push(`<text x="${legendX + 32}" y="${legendY}" dominant-baseline="middle">${escapeXml(name)}: ${formatRate(sorted[sorted.length - 1]!.rate)}</text>`)
  })
  parts.push('</svg>')
  return `${parts.join('\n')}\n`
}

function formatRate (rate: number): string {
  if (rate >= 1e6) return `${rate / 1e6 >= 10 ? Math.round(rate / 1e6) : (rate / 1e6).toPrecision(2)}M`
  if (rate >= 1e3) return `${rate / 1e3 >= 10 ? Math.round(rate / 1e3) : (rate / 1e3).toPrecision(2)}k`
  return String(Math.round(rate))
}

function escapeXml (text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')
}
