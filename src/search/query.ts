import { gramsQuery, quote, type Weight } from './lexemes.ts'
import { queryPinyinWord, withoutToneNumbers } from './pinyin.ts'
import { normalise, type Segmenter } from './segmenter.ts'
import { NO_TYPOS, type TypoLookup } from './typos.ts'

/** The fields a search can be limited to, and the search_vec weight each one is stored under. */
export const SCOPE_FIELDS = ['title', 'author', 'tags', 'book_intro', 'content'] as const
export type ScopeField = (typeof SCOPE_FIELDS)[number]
const WEIGHT: Record<ScopeField, Weight> = {
  title: 'A',
  author: 'B',
  tags: 'B',
  book_intro: 'C',
  content: 'D',
}

/** Longest query the search looks at, in words (the rest is ignored). */
export const MAX_QUERY_WORDS = 16
/** A query of at most this many characters (spaces aside) also matches titles containing it. */
export const SHORT_QUERY_CHARS = 3

/** How a keyword query becomes SQL conditions; every query string is a tsquery literal of quoted lexemes. */
export interface TextQuery {
  /** The query's words as matched (highlights mark them in a hit's fields). */
  terms: readonly Word[]
  /** All words, each restricted to the scope's weights, against search_vec; null: nothing to look up. */
  words: string | null
  /**
   * When the scope names author or tags but not both, weight B (author and tags) is too coarse: the
   * words must then also match the exact fields, i.e. this unweighted query against
   * ts_filter(search_vec, others) || ts_filter(author_tags_vec, authorOrTags).
   */
  split: { plain: string; others: string[]; authorOrTags: 'a' | 'b' } | null
  /** The same words restricted to the title (weight A), for ranking title matches first. */
  inTitle: string | null
  /** … and to author and tags (weight B), ranked next. */
  inAuthorTags: string | null
  /** Short or unsegmentable query: titles containing this normalised text also match. */
  substring: { text: string; grams: string } | null
  /**
   * How each word adds to the rank (the one ranking rule, docs/search.md): the word restricted to the
   * title (level 2) or else to author and tags (level 1), each null when out of scope.
   */
  levels: { title: string | null; authorTags: string | null }[]
  /** The same query answered from search_bitmaps, when bitmaps decide it exactly (else null). */
  bitmaps: BitmapQuery | null
  /** When some word has typo candidates (src/search/typos.ts), the query widened to them; else null. */
  typos: TypoQuery | null
}

/**
 * A query some of whose words also match their typo candidates. This TextQuery's own conditions are
 * the exact match; a listing that matches only the widened query is a typo match and ranks below
 * every exact match (TYPO_PENALTY).
 */
export interface TypoQuery {
  /** The same query with each word widened to its candidates (`(pyhton | python)`), answered by the tsvector statement. */
  widened: TextQuery
  /** Every candidate of every word, as one tsquery: a typo match holds at least one of them. */
  candidates: string
  /**
   * When one word alone has candidates, and just one, and no parts: the query with that word replaced
   * by its candidate. If nothing matches exactly, the typo matches are exactly its matches, ranked as
   * it ranks them (the word is nowhere in scope), so its own faster plan answers them.
   */
  substituted: TextQuery | null
  /**
   * A word of the query (without parts) is in no listing (TypoLookup.absent): since every word must
   * match, nothing matches exactly, and the typo matches are all the matches.
   */
  noExactMatch: boolean
}

/**
 * A query in the terms of search_bitmaps (migrations 007 and 010): which bitmaps of which lexemes make
 * a match, the tiers and each word's level.
 */
export interface BitmapQuery {
  words: readonly Word[]
  /** Every word must meet each condition: be, itself or all its parts, in a bitmap of one of its kinds. */
  match: string[][]
  /** Title in scope: words of kind 'A' rank in the title tier and level. */
  title: boolean
  /** Author or tags in scope: words of kind 'B' rank in the author/tag tier and level. */
  authorTags: boolean
  /** The title gram (kind 'g', a pair of characters) that also matches, for a query of two characters. */
  gram: string | null
}

/** The most words a query answered from bitmaps has (its levels add up in 3^words ways). */
export const MAX_BITMAP_WORDS = 3

/**
 * The bitmap form of a query, when it has one: up to MAX_BITMAP_WORDS words, a scope of every field
 * or of title, tags and (with tags) author, and a substring rule only for one pair of characters.
 */
function bitmapQuery(
  words: readonly Word[],
  scope: ReadonlySet<ScopeField>,
  substring: TextQuery['substring'],
): BitmapQuery | null {
  if (words.length > MAX_BITMAP_WORDS) return null
  let gram: string | null = null
  if (substring) {
    if ([...substring.text].length !== 2 || substring.grams !== quote(substring.text)) return null
    gram = substring.text
  } else if (words.length === 0) return null
  const title = scope.has('title')
  const authorTags = scope.has('author') || scope.has('tags')
  let match: string[][]
  if (scope.size === SCOPE_FIELDS.length) match = [['w']]
  else if (scope.has('book_intro') || scope.has('content') || (scope.has('author') && !scope.has('tags')))
    return null
  else {
    const weights = [...(title ? ['A'] : []), ...(authorTags ? ['B'] : [])]
    // Tags without author: weight B also holds author words, so the words must be tag words too.
    match = scope.has('author')
      ? [weights]
      : [weights, [...(title ? ['A'] : []), ...(authorTags ? ['k'] : [])]]
  }
  return { words, match, title, authorTags, gram }
}

/** Parses the scope parameter: a comma list of SCOPE_FIELDS; undefined when a name is unknown. */
export function parseScope(raw: string | undefined): Set<ScopeField> | undefined {
  if (raw === undefined || raw.trim() === '') return new Set(SCOPE_FIELDS)
  const out = new Set<ScopeField>()
  for (const part of raw.split(',')) {
    const name = part.trim()
    if (!(SCOPE_FIELDS as readonly string[]).includes(name)) return undefined
    out.add(name as ScopeField)
  }
  return out
}

/** True when the given parts, found inside word, cover every one of its characters. */
function covers(word: string, parts: readonly string[]): boolean {
  const covered = new Array<boolean>(word.length).fill(false)
  for (const p of parts) {
    let at = word.indexOf(p)
    while (at >= 0) {
      covered.fill(true, at, at + p.length)
      at = word.indexOf(p, at + 1)
    }
  }
  return covered.every(Boolean)
}

const lexeme = (w: string, weights: string) => (weights === 'ABCD' ? quote(w) : `${quote(w)}:${weights}`)

/**
 * A query word and, when jieba's search mode splits it into shorter dictionary words covering all of
 * it, those parts (documents store the search-mode parts of long words, so a query 人民共和国 finds a
 * title 中华人民共和国史 through 人民 & 共和国); null when the word stands alone.
 */
export interface Word {
  text: string
  parts: string[] | null
  /** Words of the vocabulary one edit away that also match it (only in a TypoQuery's widened query). */
  typos?: readonly string[]
}

function queryWord(seg: Segmenter, text: string): Word {
  const parts = seg.subWords(text)
  return { text, parts: parts.length > 0 && covers(text, parts) ? parts : null }
}

/** One query word: the word itself, or all of its parts, or (widened) one of its typo candidates. */
function wordQuery(word: Word, weights: string): string {
  const alternatives = [
    lexeme(word.text, weights),
    ...(word.parts ? [`(${word.parts.map((p) => lexeme(p, weights)).join(' & ')})`] : []),
    ...(word.typos ?? []).map((t) => lexeme(t, weights)),
  ]
  return alternatives.length === 1 ? (alternatives[0] as string) : `(${alternatives.join(' | ')})`
}

function allWords(words: readonly Word[], weights: string): string | null {
  if (words.length === 0 || weights === '') return null
  return words.map((w) => wordQuery(w, weights)).join(' & ')
}

/** The words of a query as the search matches them (typo candidates are looked up for these). */
export function queryWords(seg: Segmenter, q: string): Word[] {
  const typed = [...new Set(seg.queryWords(q))].slice(0, MAX_QUERY_WORDS)
  // A query in pinyin (xin ling, meilixinling) is one word: titles and authors store their words'
  // pinyin (xinling, see pinyin.ts), matched by the whole or by its words.
  const pinyinWord = queryPinyinWord(typed)
  if (pinyinWord) return [pinyinWord]
  return typed.map((w) => {
    // A word that reads as pinyin with tone numbers (xin1ling2) also matches without them, as its
    // one part; it still matches as typed, which an id that merely looks like it (e3ce5) needs.
    const toneless = withoutToneNumbers(w)
    return toneless === w ? queryWord(seg, w) : { text: w, parts: [toneless] }
  })
}

/**
 * How a keyword query is matched: exactly, and, when the lookup (findTypoCandidates) gives some word
 * typo candidates, also widened to them (`typos`).
 */
export function textQuery(
  seg: Segmenter,
  q: string,
  scope: ReadonlySet<ScopeField>,
  lookup: TypoLookup = NO_TYPOS,
): TextQuery {
  const { candidates, absent } = lookup
  const words = queryWords(seg, q)
  const exact = exactQuery(words, q, scope)
  const all = words.flatMap((w) => candidates.get(w.text) ?? [])
  if (all.length === 0) return exact
  const widened = exactQuery(
    words.map((w) => ({ ...w, typos: candidates.get(w.text) ?? [] })),
    q,
    scope,
  )
  const typoed = words.filter((w) => (candidates.get(w.text) ?? []).length > 0)
  const [only] = typoed
  const single = typoed.length === 1 && all.length === 1 && only !== undefined && !only.parts
  return {
    ...exact,
    typos: {
      widened,
      candidates: [...new Set(all)].map(quote).join(' | '),
      substituted: single
        ? exactQuery(
            words.map((w) => (w === only ? { text: all[0] as string, parts: null } : w)),
            q,
            scope,
          )
        : null,
      noExactMatch: words.some((w) => w.parts === null && absent.has(w.text)),
    },
  }
}

function exactQuery(words: readonly Word[], q: string, scope: ReadonlySet<ScopeField>): TextQuery {
  const weights = [...new Set([...scope].map((f) => WEIGHT[f]))].sort().join('')
  const author = scope.has('author')
  const tags = scope.has('tags')
  let split: TextQuery['split'] = null
  if (author !== tags && words.length > 0) {
    split = {
      plain: allWords(words, 'ABCD') as string,
      others: [...weights].filter((w) => w !== 'B').map((w) => w.toLowerCase()),
      authorOrTags: author ? 'a' : 'b',
    }
  }
  const compact = normalise(q).replace(/\s+/gu, '')
  const short = [...compact].length <= SHORT_QUERY_CHARS
  const unsegmentable = words.length > 1 && words.every((w) => [...w.text].length === 1)
  let substring: TextQuery['substring'] = null
  if (scope.has('title') && !/\s/u.test(normalise(q).trim()) && (short || unsegmentable)) {
    const grams = gramsQuery(compact)
    if (grams !== null) substring = { text: compact, grams }
  }
  return {
    terms: words,
    words: allWords(words, weights),
    split,
    inTitle: scope.has('title') ? allWords(words, 'A') : null,
    inAuthorTags: author || tags ? allWords(words, 'B') : null,
    substring,
    levels: words.map((w) => ({
      title: scope.has('title') ? wordQuery(w, 'A') : null,
      authorTags: author || tags ? wordQuery(w, 'B') : null,
    })),
    bitmaps: bitmapQuery(words, scope, substring),
    typos: null,
  }
}
