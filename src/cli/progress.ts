/**
 * A progress line on stderr: a redrawn bar on a terminal, a plain line every few seconds otherwise
 * (logs, CI).
 */
export class Progress {
  private readonly start = Date.now()
  private lastPrint = 0

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  update(done: number, extra = '', force = false): void {
    const now = Date.now()
    const tty = this.out.isTTY === true
    if (!force && now - this.lastPrint < (tty ? 100 : 2000)) return
    this.lastPrint = now
    const secs = (now - this.start) / 1000
    const rate = secs > 0 ? done / secs : 0
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 1
    const eta = rate > 0 ? (this.total - done) / rate : 0
    const width = 30
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.')
    const line = `${this.label} [${bar}] ${done}/${this.total} ${(frac * 100).toFixed(1)}% ${rate.toFixed(0)}/s ETA ${eta.toFixed(0)}s ${extra}`
    if (tty) this.out.write(`\r${line}\x1b[K`)
    else this.out.write(`${line}\n`)
  }

  done(done: number, extra = ''): void {
    this.update(done, extra, true)
    if (this.out.isTTY) this.out.write('\n')
  }
}
