/**
 * Progress of the harness on stderr. On a terminal it is one line, redrawn in place, with a bar
 * for the whole run and the current step's own progress. Otherwise each step start and end is a
 * plain line, so that CI logs stay readable.
 */
export class Progress {
  readonly #stream: NodeJS.WriteStream
  readonly #interactive: boolean
  readonly #started = performance.now()
  readonly #totalSteps: number
  #step = 0
  #label = ''
  #stepFraction = 0
  #detail = ''
  #lastDraw = 0

  constructor (totalSteps: number, stream: NodeJS.WriteStream = process.stderr) {
    this.#totalSteps = totalSteps
    this.#stream = stream
    this.#interactive = stream.isTTY === true
  }

  startStep (label: string): void {
    this.#step++
    this.#label = label
    this.#stepFraction = 0
    this.#detail = ''
    if (this.#interactive) this.#draw(true)
    else this.#stream.write(`[${this.#step}/${this.#totalSteps}] ${label}\n`)
  }

  /** Reports `done` of `total` units of the current step, such as events read. */
  update (done: number, total: number, unit = 'events'): void {
    this.#stepFraction = total > 0 ? Math.min(1, done / total) : 0
    this.#detail = `${formatCount(done)}/${formatCount(total)} ${unit}`
    if (this.#interactive) this.#draw(false)
  }

  finishStep (summary: string): void {
    this.#stepFraction = 1
    this.log(`[${this.#step}/${this.#totalSteps}] ${this.#label}: ${summary}`)
  }

  /** Prints a line above the bar. */
  log (line: string): void {
    if (this.#interactive) this.#stream.write('\r\x1b[K')
    this.#stream.write(`${line}\n`)
    if (this.#interactive) this.#draw(true)
  }

  /** Writes `text` to stdout, with the bar cleared from the terminal while it is written. */
  print (text: string): void {
    if (this.#interactive) this.#stream.write('\r\x1b[K')
    process.stdout.write(`${text}\n`)
    if (this.#interactive) this.#draw(true)
  }

  done (): void {
    if (this.#interactive) this.#stream.write('\r\x1b[K')
    this.#stream.write(`finished ${this.#step} steps in ${formatDuration(performance.now() - this.#started)}\n`)
  }

  #draw (force: boolean): void {
    const now = performance.now()
    if (!force && now - this.#lastDraw < 100) return
    this.#lastDraw = now
    const width = 24
    const overall = Math.min(1, (this.#step - 1 + this.#stepFraction) / Math.max(1, this.#totalSteps))
    const filled = Math.round(overall * width)
    const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`
    const text = `[${bar}] ${this.#step}/${this.#totalSteps} ${formatDuration(now - this.#started)} ${this.#label}${this.#detail === '' ? '' : `: ${this.#detail}`}`
    const columns = this.#stream.columns ?? 120
    this.#stream.write(`\r\x1b[K${text.length > columns - 1 ? text.slice(0, columns - 1) : text}`)
  }
}

function formatCount (value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`
  if (value >= 1e4) return `${Math.round(value / 1e3)}k`
  return String(Math.round(value))
}

function formatDuration (ms: number): string {
  const seconds = Math.round(ms / 1000)
  return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`
}
