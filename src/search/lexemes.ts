import { pinyinLexemes } from './pinyin.ts'
import { normalise, type Segmenter } from './segmenter.ts'

/**
 * Builds tsvector and tsquery values as literals from ready-made tokens. The literal syntax only
 * quotes lexemes (no text-search parser or dictionary touches them), so Chinese words arrive intact
 * and no user input can form query operators: every lexeme is quoted and escaped here.
 */

/** A lexeme as a quoted literal: quotes and backslashes doubled. */
export function quote(lexeme: string): string {
  return `'${lexeme.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`
}

/** tsvector weight labels: A title, B author and tags, C book_intro, D content. */
export type Weight = 'A' | 'B' | 'C' | 'D'

/** Positions above this are stored as this by PostgreSQL anyway. */
const MAX_POSITION = 16_383
/** Enough positions per lexeme for cover-density ranking. */
const POSITIONS_PER_LEXEME = 8
/** Bounds the stored vector (PostgreSQL refuses a tsvector above 1 MB). */
const MAX_LEXEMES = 20_000

/** A weighted tsvector literal from fields given in order; positions run on across fields. */
export function tsvectorLiteral(fields: readonly { weight: Weight; tokens: readonly string[] }[]): string {
  const entries = new Map<string, string[]>()
  let pos = 0
  for (const { weight, tokens } of fields) {
    for (const token of tokens) {
      pos = Math.min(pos + 1, MAX_POSITION)
      let list = entries.get(token)
      if (!list) {
        if (entries.size >= MAX_LEXEMES) continue
        list = []
        entries.set(token, list)
      }
      if (list.length < POSITIONS_PER_LEXEME) list.push(`${pos}${weight}`)
    }
    // A gap between fields, so that phrase-like covers do not span two fields.
    pos = Math.min(pos + 8, MAX_POSITION)
  }
  return [...entries].map(([lexeme, ps]) => `${quote(lexeme)}:${ps.join(',')}`).join(' ')
}

/** The fields of a listing that search reads. */
export interface SearchableText {
  title: string
  author: string | null
  tags: readonly string[]
  bookIntro: string | null
  content: string | null
}

/** What a listing row stores for search (see migration 003_search.sql). */
export interface SearchColumns {
  /** title A, author B, tags B, book_intro C, content D — matched and ranked; title and author with their pinyin. */
  searchVec: string
  /** author A, tags B — only to tell author and tag matches apart when a scope names just one. */
  authorTagsVec: string
  /** Single characters and character pairs (with positions) of the title — substring search for short queries. */
  titleGrams: string
}

/**
 * The version of what searchColumns computes (folding, segmentation, pinyin). Stored columns built by
 * an older version are rebuilt at start (reindexSearchText, src/repositories/search-text.ts): raise
 * it whenever a change here or in fold.ts, segmenter.ts or pinyin.ts changes the columns of a listing.
 * 1: NFKC and lower case; 2: fold.ts (traditional → simplified, accents) and pinyin of titles and authors;
 * 3: pinyin writes ü as v (绿色 lvse, no longer luse: 路色's spelling).
 */
export const SEARCH_TEXT_VERSION = 3

/** A field's tokens, followed by the pinyin of its Chinese words (titles and authors, see pinyin.ts). */
function withPinyin(seg: Segmenter, text: string | null): string[] {
  const tokens = seg.documentTokens(text)
  return [...tokens, ...pinyinLexemes(tokens)]
}

export function searchColumns(seg: Segmenter, l: SearchableText): SearchColumns {
  const title = withPinyin(seg, l.title)
  const author = withPinyin(seg, l.author)
  const tags = l.tags.flatMap((t) => seg.documentTokens(t))
  return {
    searchVec: tsvectorLiteral([
      { weight: 'A', tokens: title },
      { weight: 'B', tokens: author },
      { weight: 'B', tokens: tags },
      { weight: 'C', tokens: seg.documentTokens(l.bookIntro) },
      { weight: 'D', tokens: seg.documentTokens(l.content) },
    ]),
    authorTagsVec: tsvectorLiteral([
      { weight: 'A', tokens: author },
      { weight: 'B', tokens: tags },
    ]),
    titleGrams: titleGramsLiteral(l.title),
  }
}

/** Letters and digits of a text, normalised, split into runs at everything else. */
function runs(text: string): string[][] {
  return normalise(text)
    .split(/[^\p{L}\p{N}]+/u)
    .filter((r) => r !== '')
    .map((r) => [...r])
}

/** PostgreSQL keeps at most this many positions of a lexeme. */
const MAX_GRAM_POSITIONS = 256

/**
 * The title's grams as a tsvector literal: every character, and every pair of neighbouring characters
 * at the position of its first character (runs of letters and digits one position apart at least, so
 * that pairs of different runs are never neighbours). With the positions, a phrase of pairs
 * (gramsQuery) holds exactly when the folded title contains the text.
 */
export function titleGramsLiteral(title: string): string {
  const pairs = new Map<string, number[]>()
  const singles = new Set<string>()
  let pos = 0
  for (const chars of runs(title)) {
    for (let i = 0; i < chars.length; i++) {
      pos = Math.min(pos + 1, MAX_POSITION)
      singles.add(chars[i] as string)
      if (i + 1 >= chars.length) continue
      const pair = `${chars[i]}${chars[i + 1]}`
      const at = pairs.get(pair) ?? []
      pairs.set(pair, at)
      if (at.length < MAX_GRAM_POSITIONS && at[at.length - 1] !== pos) at.push(pos)
    }
    pos = Math.min(pos + 1, MAX_POSITION)
  }
  return [
    ...[...singles].map(quote),
    ...[...pairs].map(([pair, at]) => `${quote(pair)}:${at.join(',')}`),
  ].join(' ')
}

/**
 * The tsquery a title's grams match when the folded title contains the text: per run of letters and
 * digits of the text, its single character, or its pairs as a phrase (ab <-> bc <-> cd: neighbouring
 * pairs at neighbouring positions); runs are ANDed. Null when the text has no letter or digit.
 */
export function gramsQuery(text: string): string | null {
  const parts = runs(text).map((chars) =>
    chars.length === 1
      ? quote(chars[0] as string)
      : chars
          .slice(1)
          .map((c, i) => quote(`${chars[i]}${c}`))
          .join(' <-> '),
  )
  return parts.length === 0 ? null : parts.join(' & ')
}
