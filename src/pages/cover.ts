import { createHash } from 'node:crypto'
import { escapeHtml } from './html.ts'

const PALETTE = [
  ['#1f4e5f', '#f2c14e'],
  ['#5b2a86', '#f4d6cc'],
  ['#2e6f40', '#f5f1e3'],
  ['#8c2f39', '#fbe9d0'],
  ['#274c77', '#e7ecef'],
  ['#6b4226', '#f6e7c1'],
  ['#3d405b', '#f2cc8f'],
  ['#0b6e4f', '#fffbe6'],
] as const

/** Splits a title into at most `lines` lines of about `width` columns (a CJK character counts 2). */
function wrap(text: string, width: number, lines: number): string[] {
  const out: string[] = []
  let line = ''
  let cols = 0
  for (const ch of text) {
    const w = /[\u2e80-\uffff]/.test(ch) ? 2 : 1
    if (cols + w > width && line) {
      out.push(line.trimEnd())
      if (out.length === lines) return [...out.slice(0, -1), `${out[lines - 1]}…`]
      line = ''
      cols = 0
    }
    if (line || ch !== ' ') {
      line += ch
      cols += w
    }
  }
  if (line) out.push(line)
  return out
}

/**
 * A book cover drawn from its title and author, for listings without a picture: colours from a hash
 * of the id, so each book keeps its own. The text is escaped (an <img> cannot run a script anyway).
 */
export function coverSvg(id: string, title: string, author: string | null): string {
  const h = createHash('sha256').update(id).digest()
  const [bg, fg] = PALETTE[(h[0] ?? 0) % PALETTE.length] ?? PALETTE[0]
  const lines = wrap(title, 14, 4)
  const text = lines
    .map((l, i) => `<text x="18" y="${58 + i * 26}" font-size="20" font-weight="700">${escapeHtml(l)}</text>`)
    .join('')
  const by = author
    ? `<text x="18" y="250" font-size="13" opacity=".85">${escapeHtml(wrap(author, 22, 1)[0] ?? '')}</text>`
    : ''
  return `<svg xmlns="http://www.w3.org/2000/svg" width="180" height="270" viewBox="0 0 180 270"><rect width="180" height="270" fill="${bg}"/><rect x="0" y="0" width="8" height="270" fill="${fg}" opacity=".5"/><rect x="18" y="24" width="40" height="4" fill="${fg}"/><g fill="${fg}" font-family="sans-serif">${text}${by}</g></svg>`
}
