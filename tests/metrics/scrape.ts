/** One sample line of the Prometheus text format. */
export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** Parses the sample lines of a Prometheus text-format body; comment lines are skipped. */
export function parseMetrics (text: string): Sample[] {
  const result: Sample[] = []
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue
    const match = SAMPLE_LINE.exec(line)
    if (match === null) throw new Error(`Invalid sample line in the metrics body: ${JSON.stringify(line)}`)
    const labels: Record<string, string> = {}
    for (const label of (match[2] ?? '').matchAll(LABEL)) labels[label[1]!] = label[2]!.replace(/\\(.)/g, (_all, char: string) => (char === 'n' ? '\n' : char))
    result.push({ name: match[1]!, labels, value: Number(match[3]) })
  }
  return result
}

/** GETs `url` and returns its samples; throws when the status is not 200. */
export async function scrape (url: string): Promise<Sample[]> {
  const response = await fetch(url)
  const body = await response.text()
  if (response.status !== 200) throw new Error(`GET ${url} returned ${response.status}: ${body}`)
  return parseMetrics(body)
}

/** Samples named `name` whose labels include every entry of `labels`. */
export function select (samples: readonly Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
}

/** Sum of the values of select(samples, name, labels). */
export function total (samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  return select(samples, name, labels).reduce((sum, sample) => sum + sample.value, 0)
}
