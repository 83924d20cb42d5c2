/** Latency samples of one kind of call, in milliseconds. */
export class Samples {
  private readonly values: number[] = []
  errors = 0

  add(ms: number): void {
    this.values.push(ms)
  }

  get count(): number {
    return this.values.length
  }

  /** The q-quantile (0–1), nearest-rank. */
  quantile(q: number): number {
    if (this.values.length === 0) return Number.NaN
    const sorted = [...this.values].sort((a, b) => a - b)
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
    return sorted[rank] as number
  }
}

/** The median of some figures (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

export function fmt(ms: number): string {
  return Number.isNaN(ms) ? '-' : ms < 10 ? ms.toFixed(2) : ms.toFixed(1)
}

/** A fixed-width text table. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))]
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')).join('\n')
}
