import type { Word } from './query.ts'
import { normalise } from './segmenter.ts'

/**
 * Highlights of a hit: where the query's words are in its title, and a short excerpt of the best
 * matching other field with the words marked. Everything is plain text and offsets; a client escapes
 * the text and wraps the marked ranges itself.
 */

/** A range [start, end) of UTF-16 code units (as JavaScript counts string positions). */
export type Mark = [number, number]

/** The fields besides the title that an excerpt may come from, best first on a tie. */
export const SNIPPET_FIELDS = ['author', 'tags', 'book_intro', 'content'] as const
export type SnippetField = (typeof SNIPPET_FIELDS)[number]

export interface Snippet {
  field: SnippetField
  text: string
  marks: Mark[]
}

export interface Highlights {
  title: Mark[]
  snippet: Snippet | null
}

/** Longest excerpt, in UTF-16 code units, ellipses included. */
export const SNIPPET_CHARS = 120
const ELLIPSIS = '…'

/** A query word as the search matches it, with the parts that also match it. */
export type HighlightWord = Pick<Word, 'text' | 'typos'> & { parts: readonly string[] | null }

/** The texts a hit is highlighted in; tags are joined with ", " into one text. */
export interface HighlightSource {
  title: string
  author: string | null
  tags: readonly string[]
  book_intro: string | null
  content: string | null
}

/** A letter or digit of a script that writes spaces between words: a match must not cut into such a word. */
const SPACED_WORD_CHAR =
  /^(?![\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}])[\p{L}\p{N}]$/u
/** A combining mark: it is normalised together with the character before it. */
const MARK = /^\p{M}$/u

let markTable: Uint8Array | undefined
/** 1 for each combining mark of the Basic Multilingual Plane, built once per process (65 536 tests, a few ms). */
function bmpMarks(): Uint8Array {
  if (markTable) return markTable
  markTable = new Uint8Array(0x10000)
  for (let c = 0; c < 0x10000; c++)
    if (c < 0xd800 || c > 0xdfff) markTable[c] = MARK.test(String.fromCharCode(c)) ? 1 : 0
  return markTable
}

/**
 * Each BMP character normalised on its own, filled in as characters are met. Allocated whole: an
 * array written at scattered indexes from empty would turn into a hash table.
 */
const foldedChar: (string | undefined)[] = new Array(0x10000)

/** Code units of the code point starting at `i`: 2 for a surrogate pair, else 1 (a lone surrogate too). */
function unitsAt(text: string, i: number): number {
  const c = text.charCodeAt(i)
  if (c < 0xd800 || c > 0xdbff || i + 1 >= text.length) return 1
  const d = text.charCodeAt(i + 1)
  return d >= 0xdc00 && d <= 0xdfff ? 2 : 1
}

/** Whether the code point at `i`, `width` code units long, is a combining mark. */
function isMarkAt(text: string, i: number, width: number, marks: Uint8Array): boolean {
  return width === 1 ? marks[text.charCodeAt(i)] === 1 : MARK.test(text.slice(i, i + 2))
}

/**
 * Scratch space of normaliseWithOffsets, grown as needed and reused (the call is synchronous): the
 * normalised text's code units, and for each the original offset it came from.
 */
let foldedUnits = new Uint16Array(1024)
let originOffsets = new Uint32Array(1024)

/** Converts code units to a string a slice at a time (an argument list has a length limit). */
function unitsToString(from: Uint16Array): string {
  let out = ''
  for (let at = 0; at < from.length; at += 8192)
    out += String.fromCharCode.apply(null, from.subarray(at, at + 8192) as unknown as number[])
  return out
}

/**
 * The text normalised as the index normalises it (NFKC, lower case), with, for each code unit of the
 * normalised text, the offset in the original text of the character it came from. Each character is
 * normalised with the combining marks that follow it, so a mark's ends always fall between original
 * characters. A character without marks (nearly all of them) is normalised once per process and
 * looked up after: a hit's content is up to EXCERPT_SOURCE_CHARS characters (search/hits.ts), twenty hits a page.
 * `origin` is scratch space, valid until the next call.
 */
export function normaliseWithOffsets(text: string): { folded: string; origin: Uint32Array } {
  const marks = bmpMarks()
  let length = 0
  const put = (unit: number, from: number) => {
    if (length === foldedUnits.length) {
      const units = new Uint16Array(length * 2)
      units.set(foldedUnits)
      foldedUnits = units
      const origins = new Uint32Array(length * 2)
      origins.set(originOffsets)
      originOffsets = origins
    }
    foldedUnits[length] = unit
    originOffsets[length++] = from
  }
  for (let i = 0; i < text.length; ) {
    let end = i + unitsAt(text, i)
    while (end < text.length) {
      const width = unitsAt(text, end)
      if (!isMarkAt(text, end, width, marks)) break
      end += width
    }
    let piece: string
    if (end === i + 1) {
      const c = text.charCodeAt(i)
      piece = foldedChar[c] ??= normalise(text[i] as string)
    } else piece = normalise(text.slice(i, end))
    for (let k = 0; k < piece.length; k++) put(piece.charCodeAt(k), i)
    i = end
  }
  put(0, text.length)
  return {
    folded: unitsToString(foldedUnits.subarray(0, length - 1)),
    origin: originOffsets.subarray(0, length),
  }
}

/** The character (code point) just before / at a position of a string, or '' at its ends. */
function charBefore(s: string, at: number): string {
  if (at === 0) return ''
  const pair = at >= 2 && /[\uD800-\uDBFF]/.test(s[at - 2] ?? '') && /[\uDC00-\uDFFF]/.test(s[at - 1] ?? '')
  return s.slice(pair ? at - 2 : at - 1, at)
}
const charAt = (s: string, at: number) => (at >= s.length ? '' : String.fromCodePoint(s.codePointAt(at) ?? 0))

/** Whether the word found at [start, end) of the folded text stands alone (no word of a spaced script continues it). */
function standsAlone(folded: string, start: number, end: number): boolean {
  const first = charAt(folded, start)
  const last = charBefore(folded, end)
  if (SPACED_WORD_CHAR.test(first) && SPACED_WORD_CHAR.test(charBefore(folded, start))) return false
  if (SPACED_WORD_CHAR.test(last) && SPACED_WORD_CHAR.test(charAt(folded, end))) return false
  return true
}

/** Every standalone occurrence of a (folded) word in the folded text, as folded ranges. */
function occurrences(folded: string, word: string): Mark[] {
  const out: Mark[] = []
  if (word === '') return out
  for (let at = folded.indexOf(word); at >= 0; at = folded.indexOf(word, at + 1))
    if (standsAlone(folded, at, at + word.length)) out.push([at, at + word.length])
  return out
}

/** Sorted ranges with overlapping ones merged (neighbouring words stay two marks). */
function merge(marks: Mark[]): Mark[] {
  const sorted = [...marks].sort((a, b) => a[0] - b[0] || a[1] - b[1])
  const out: Mark[] = []
  for (const [s, e] of sorted) {
    const last = out[out.length - 1]
    if (last && s < last[1]) last[1] = Math.max(last[1], e)
    else out.push([s, e])
  }
  return out
}

/**
 * Where the words are in a text: each word's occurrences, or, where the word itself does not occur,
 * its parts' (a document matches a long word through its parts), else its typo candidates'. Also how many of the words were found.
 */
export function findMarks(
  text: string,
  words: readonly HighlightWord[],
  substring: string | null = null,
): { marks: Mark[]; found: number } {
  const { folded, origin } = normaliseWithOffsets(text)
  const marks: Mark[] = []
  let found = 0
  // A short query also matches inside title words (query.ts, the substring rule): mark it there too.
  if (substring)
    for (let at = folded.indexOf(substring); at >= 0; at = folded.indexOf(substring, at + 1))
      marks.push([at, at + substring.length])
  for (const w of words) {
    let hits = occurrences(folded, w.text)
    if (hits.length === 0 && w.parts) hits = w.parts.flatMap((p) => occurrences(folded, p))
    // A typo match holds a candidate instead: mark the candidate as found.
    if (hits.length === 0 && w.typos) hits = w.typos.flatMap((t) => occurrences(folded, t))
    if (hits.length > 0) found++
    marks.push(...hits)
  }
  // Back to the original text: a folded range starts at its first unit's character and ends where
  // the character after its last unit starts.
  const mapped = marks.map(([s, e]): Mark => [origin[s] ?? 0, nextOrigin(origin, e - 1)])
  return { marks: merge(mapped), found }
}

/** The original offset just past the character the folded unit at `i` came from. */
function nextOrigin(origin: Uint32Array, i: number): number {
  const at = origin[i] ?? 0
  for (let j = i + 1; j < origin.length; j++) if ((origin[j] ?? 0) > at) return origin[j] ?? at
  return origin[origin.length - 1] ?? at
}

/** Whether a position falls inside a surrogate pair (between its halves). */
const splitsPair = (s: string, at: number) =>
  at > 0 && at < s.length && /[\uD800-\uDBFF]/.test(s[at - 1] ?? '') && /[\uDC00-\uDFFF]/.test(s[at] ?? '')

/**
 * An excerpt of at most SNIPPET_CHARS code units centred on the first mark, with "…" where it was
 * cut, line breaks and tabs shown as spaces, and the marks moved into it (a mark cut by the window
 * is shortened to what the excerpt shows).
 */
export function excerpt(text: string, marks: readonly Mark[]): { text: string; marks: Mark[] } {
  const flat = text.replace(/[\t\n\r\f\v]/g, ' ')
  if (flat.length <= SNIPPET_CHARS) return { text: flat, marks: [...marks] }
  const first = marks[0] ?? [0, 0]
  // Centred on the first mark, with an ellipsis at each cut end: both ends cut leave SNIPPET_CHARS - 2.
  const room = SNIPPET_CHARS - ELLIPSIS.length
  let start = Math.round((first[0] + first[1]) / 2 - (SNIPPET_CHARS - 2 * ELLIPSIS.length) / 2)
  let end: number
  if (start <= 0) {
    start = 0
    end = room
  } else if (start + room >= flat.length) {
    end = flat.length
    start = end - room
  } else end = start + SNIPPET_CHARS - 2 * ELLIPSIS.length
  if (splitsPair(flat, start)) start++
  if (splitsPair(flat, end)) end--
  const head = start > 0 ? ELLIPSIS : ''
  const tail = end < flat.length ? ELLIPSIS : ''
  const shift = head.length - start
  const inside = marks
    .map(([s, e]): Mark => [Math.max(s, start), Math.min(e, end)])
    .filter(([s, e]) => s < e)
    .map(([s, e]): Mark => [s + shift, e + shift])
  return { text: head + flat.slice(start, end) + tail, marks: inside }
}

/** The text of a snippet field of a hit (tags joined), or null when it has none. */
function fieldText(source: HighlightSource, field: SnippetField): string | null {
  if (field === 'tags') return source.tags.length > 0 ? source.tags.join(', ') : null
  const text = source[field]
  return text === null || text === '' ? null : text
}

/**
 * A hit's highlights for the query's words: the title's marks, and the excerpt of the other field
 * that holds the most of the words (on a tie, the earlier of SNIPPET_FIELDS); null when none does.
 */
export function highlight(
  source: HighlightSource,
  words: readonly HighlightWord[],
  titleSubstring: string | null = null,
): Highlights {
  const title = words.length > 0 || titleSubstring ? findMarks(source.title, words, titleSubstring).marks : []
  let best: { field: SnippetField; text: string; marks: Mark[]; found: number } | null = null
  if (words.length > 0)
    for (const field of SNIPPET_FIELDS) {
      const text = fieldText(source, field)
      if (text === null) continue
      const { marks, found } = findMarks(text, words)
      if (found > 0 && (best === null || found > best.found)) best = { field, text, marks, found }
      // A later field can only tie with one holding every word (content, the longest, often goes unread).
      if (best?.found === words.length) break
    }
  if (best === null) return { title, snippet: null }
  return { title, snippet: { field: best.field, ...excerpt(best.text, best.marks) } }
}
