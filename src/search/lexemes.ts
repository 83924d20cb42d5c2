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
  /** Single characters and character pairs of the title — substring search for short queries. */
  titleGrams: string
}

/**
 * The version of what searchColumns computes (folding, segmentation, pinyin). Stored columns built by
 * an older version are rebuilt at start (reindexSearchText, src/repositories/search-text.ts): raise
 * it whenever a change here or in fold.ts, segmenter.ts or pinyin.ts changes the columns of a listing.
 * 1: NFKC and lower case; 2: fold.ts (traditional → simplified, accents) and pinyin of titles and authors.
 */
export const SEARCH_TEXT_VERSION = 2

/** A field's tokens, followed by the pinyin of its Chinese words (titles and authors, see pinyin.ts). */
function withPinyin(seg: Segmenter, text: string | null): string[] {
  const tokens = seg.documentTokens(text)
  return text ? [...tokens, ...pinyinLexemes(normalise(text), tokens)] : tokens
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
    titleGrams: [...titleGrams(l.title)].map(quote).join(' '),
  }
}

/** Letters and digits of a text, normalised, split into runs at everything else. */
function runs(text: string): string[][] {
  return normalise(text)
    .split(/[^\p{L}\p{N}]+/u)
    .filter((r) => r !== '')
    .map((r) => [...r])
}

/** Every character and every pair of neighbouring characters of the title. */
export function titleGrams(title: string): Set<string> {
  const grams = new Set<string>()
  for (const chars of runs(title)) {
    for (let i = 0; i < chars.length; i++) {
      grams.add(chars[i] as string)
      if (i + 1 < chars.length) grams.add(`${chars[i]}${chars[i + 1]}`)
    }
  }
  return grams
}

/** The grams a title must contain to contain the text (pairs, or the single character). */
export function queryGrams(text: string): string[] {
  const out = new Set<string>()
  for (const chars of runs(text)) {
    if (chars.length === 1) out.add(chars[0] as string)
    for (let i = 0; i + 1 < chars.length; i++) out.add(`${chars[i]}${chars[i + 1]}`)
  }
  return [...out]
}
