import type { ApiHit } from '../api/catalog.ts'
import { type Html, html } from './html.ts'

/**
 * A text with its marked ranges (UTF-16 offsets, as search highlights give them) wrapped in <mark>:
 * every piece of the text goes through the escaping template, so no markup from the data survives.
 */
export function marked(text: string, marks: readonly (readonly number[])[]): Html {
  const pieces: Html[] = []
  let at = 0
  for (const [start = 0, end = 0] of marks) {
    if (start < at || end <= start || end > text.length) continue
    pieces.push(html`${text.slice(at, start)}<mark>${text.slice(start, end)}</mark>`)
    at = end
  }
  return html`${pieces}${text.slice(at)}`
}

/** A hit's title with the query's words marked. */
export const markedTitle = (b: ApiHit): Html => marked(b.title, b.highlights?.title ?? [])

/** A hit's excerpt with the query's words marked, or nothing. */
export function snippetOf(b: ApiHit): Html | '' {
  const s = b.highlights?.snippet
  return s ? html`<span class="snippet">${marked(s.text, s.marks)}</span>` : ''
}
