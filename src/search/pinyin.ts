import { pinyin } from 'pinyin-pro'
import { fold } from './fold.ts'

/**
 * Pinyin in the main search: titles and authors are also stored as the pinyin of their Chinese words,
 * written in full without tones (美丽心灵 → meili, xinling, meilixinling), as lexemes of the field's
 * own weight; a query typed in pinyin matches them as ordinary words. Only words of two or more
 * characters get a pinyin lexeme (and each run of Chinese characters as a whole): single syllables
 * (long, man, he, fan) are everyday English words, and a one-syllable lexeme would make them match
 * every title holding one of the dozens of characters read that way.
 */

const HAN_RUN = /\p{Script=Han}+/gu
const ONLY_HAN = /^\p{Script=Han}+$/u
/** The longest pinyin lexeme kept (the joined pinyin of a long run of characters is cut off there). */
const MAX_PINYIN_CHARS = 64

/** The pinyin of a text of Chinese characters, toneless and folded (ü → u), syllables joined. */
function joined(han: string): string {
  return fold(pinyin(han, { toneType: 'none', type: 'array' }).join('')).replace(/[^a-z]/g, '')
}

/**
 * The pinyin lexemes of a title or author: the pinyin of each of its (folded, segmented) words of two
 * or more Chinese characters, and of each run of two or more Chinese characters of the folded text.
 */
export function pinyinLexemes(folded: string, tokens: readonly string[]): string[] {
  const out = new Set<string>()
  const add = (han: string) => {
    if ([...han].length < 2) return
    const p = joined(han)
    if (p !== '' && p.length <= MAX_PINYIN_CHARS) out.add(p)
  }
  for (const t of tokens) if (ONLY_HAN.test(t)) add(t)
  for (const m of folded.matchAll(HAN_RUN)) add(m[0])
  return [...out]
}

let syllables: Set<string> | undefined
/**
 * Every toneless pinyin syllable, as the library reads the CJK Unified Ideographs (about 550,
 * ü folded to u). Built on first use, about 130 ms once per process.
 */
function pinyinSyllables(): Set<string> {
  if (syllables) return syllables
  const out = new Set<string>()
  for (let c = 0x4e00; c <= 0x9fff; c++)
    for (const s of pinyin(String.fromCodePoint(c), { toneType: 'none', type: 'array' })) {
      const f = fold(s)
      if (/^[a-z]+$/.test(f)) out.add(f)
    }
  syllables = out
  return out
}

/** Longest syllable, in letters (zhuang, shuang). */
const MAX_SYLLABLE = 6

/** How many syllables the letters split into, written in full; 0 when they cannot be split. */
export function syllableCount(letters: string): number {
  if (!/^[a-z]+$/.test(letters)) return 0
  const known = pinyinSyllables()
  // best[i]: the fewest syllables covering letters[0, i); Infinity when none does.
  const best = new Array<number>(letters.length + 1).fill(Number.POSITIVE_INFINITY)
  best[0] = 0
  for (let i = 1; i <= letters.length; i++)
    for (let n = 1; n <= Math.min(MAX_SYLLABLE, i); n++) {
      const before = best[i - n] ?? Number.POSITIVE_INFINITY
      if (before + 1 < (best[i] ?? 0) && known.has(letters.slice(i - n, i))) best[i] = before + 1
    }
  const count = best[letters.length] ?? Number.POSITIVE_INFINITY
  return Number.isFinite(count) ? count : 0
}

/**
 * A query word written in pinyin with tone numbers (xin1ling2, xin1 ling) without them: letters and
 * digits 1–5 where every digit ends a run of whole syllables and there are two syllables or more.
 * Any other word (mp3, a4, 2024) is returned as it is.
 */
export function withoutToneNumbers(word: string): string {
  if (!/^(?:[a-z]+[1-5])+[a-z]*$/.test(word)) return word
  const runs = word.split(/[1-5]/).filter((r) => r !== '')
  const counts = runs.map(syllableCount)
  if (counts.some((c) => c === 0) || counts.reduce((a, b) => a + b, 0) < 2) return word
  return runs.join('')
}

/**
 * Several query words that are all pinyin (xin ling, meili xinling, xin1 ling2), joined into the one
 * word a title or author word's pinyin is stored as (xinling), tone numbers dropped; null for anything
 * else (a word that is not whole syllables, a single word, or a join longer than any stored pinyin).
 */
export function joinedPinyinWord(words: readonly string[]): string | null {
  if (words.length < 2 || !words.every((w) => /^(?:[a-z]+[1-5]?)+$/.test(w))) return null
  const runs = words.flatMap((w) => w.split(/[1-5]/).filter((r) => r !== ''))
  const all = runs.join('')
  if (all.length > MAX_PINYIN_CHARS || !runs.every((r) => syllableCount(r) > 0)) return null
  return all
}
