/**
 * Typo tolerance: a Latin query word of TYPO_MIN_LETTERS or more letters also matches the words of
 * the catalogue's vocabulary (search_terms) that are one edit away from it. An edit is the insertion,
 * deletion or substitution of one letter, or the transposition of two neighbouring letters (the
 * Damerau form: swapped neighbours are the most common slip on a keyboard, and counting them as two
 * edits would leave `pyhton` unfound).
 */

/**
 * Shortest word, in letters, that gets typo candidates: below it, one edit reaches too many other words.
 * The vocabulary keeps only the terms a candidate can be (search_typo_term, migration 026: Latin
 * letters, at least TYPO_MIN_LETTERS - 1); test/search/search-typos.test.ts holds the two together.
 */
export const TYPO_MIN_LETTERS = 5
/** Most candidates kept per word, most frequent first: a word with many neighbours cannot blow up the query. */
export const MAX_TYPO_CANDIDATES = 8
/**
 * Subtracted from the score of a listing that needs a typo candidate, so that every exact match
 * (score ≥ 0) ranks above every typo match (score < 0) and the order still follows the score.
 */
export const TYPO_PENALTY = 3

/** A word written in Latin letters only (as folded: lower case), counted in code points. */
const LATIN_LETTERS = /^\p{Script=Latin}+$/u
const ALPHABET = [...'abcdefghijklmnopqrstuvwxyz']

/** Whether a (normalised) query word gets typo candidates: Latin letters only, at least TYPO_MIN_LETTERS. */
export function typoEligible(word: string): boolean {
  return LATIN_LETTERS.test(word) && [...word].length >= TYPO_MIN_LETTERS
}

/**
 * Every string one edit away from the word (the word itself excluded), over the letters a–z and the
 * word's own letters. A word of n letters has about 53n + 26 of them.
 */
export function oneEditVariants(word: string): string[] {
  const chars = [...word]
  const letters = [...new Set([...ALPHABET, ...chars])]
  const out = new Set<string>()
  const at = (i: number, j: number) => chars.slice(i, j).join('')
  for (let i = 0; i <= chars.length; i++) {
    const head = at(0, i)
    for (const c of letters) out.add(head + c + at(i, chars.length)) // insertion
    if (i === chars.length) continue
    const tail = at(i + 1, chars.length)
    out.add(head + tail) // deletion
    for (const c of letters) out.add(head + c + tail) // substitution
    if (i + 1 < chars.length) out.add(head + chars[i + 1] + chars[i] + at(i + 2, chars.length)) // transposition
  }
  out.delete(word)
  return [...out]
}

/**
 * Whether two words are exactly one edit apart: the rule of oneEditVariants written as a test (any
 * letter may be inserted or substituted here; the variants draw them from a–z and the word's own).
 */
export function oneEditApart(a: string, b: string): boolean {
  const x = [...a]
  const y = [...b]
  if (a === b || Math.abs(x.length - y.length) > 1) return false
  let i = 0
  while (i < x.length && i < y.length && x[i] === y[i]) i++
  const rest = (u: string[], v: string[]) => u.join('') === v.join('')
  if (x.length === y.length)
    return (
      rest(x.slice(i + 1), y.slice(i + 1)) ||
      (x[i] === y[i + 1] && x[i + 1] === y[i] && rest(x.slice(i + 2), y.slice(i + 2)))
    )
  return x.length > y.length ? rest(x.slice(i + 1), y.slice(i)) : rest(x.slice(i), y.slice(i + 1))
}

/** What the vocabulary says of a query's words that get typo candidates (findTypoCandidates). */
export interface TypoLookup {
  /** Each word's candidates, most frequent first; a word without any is absent. */
  candidates: ReadonlyMap<string, readonly string[]>
  /**
   * The words no listing holds. The vocabulary (search_terms) holds every Latin lexeme of four letters
   * or more of every listing's indexed columns (search_keys_of, migration 026), the pinyin of titles
   * and authors included, with how many listings hold it; a word it does not hold matches nowhere.
   */
  absent: ReadonlySet<string>
}

/** The lookup of a query with no word that gets typo candidates. */
export const NO_TYPOS: TypoLookup = { candidates: new Map(), absent: new Set() }

/**
 * The candidates of each word (by its variants, oneEditVariants) from the terms of the vocabulary found
 * among them (with how many listings hold each): most frequent first (then by text), at most
 * MAX_TYPO_CANDIDATES per word.
 */
export function pickCandidates(
  variantsOf: ReadonlyMap<string, readonly string[]>,
  found: readonly { term: string; listings: number }[],
): Map<string, string[]> {
  const sorted = [...found].sort(
    (a, b) => b.listings - a.listings || (a.term < b.term ? -1 : a.term > b.term ? 1 : 0),
  )
  const out = new Map<string, string[]>()
  for (const [word, ofWord] of variantsOf) {
    const variants = new Set(ofWord)
    const picked = sorted.filter((t) => t.listings > 0 && variants.has(t.term)).slice(0, MAX_TYPO_CANDIDATES)
    if (picked.length > 0)
      out.set(
        word,
        picked.map((t) => t.term),
      )
  }
  return out
}
