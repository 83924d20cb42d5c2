import { pinyin } from 'pinyin-pro'
import { fold } from './fold.ts'

/**
 * Pinyin in the main search: titles and authors are also stored as the pinyin of their Chinese words,
 * written in full without tones (美丽心灵 → meili, xinling), as lexemes of the field's own weight; a
 * query typed in pinyin matches them as ordinary words. Only words of two or more characters get a
 * pinyin lexeme: single syllables (long, man, he, fan) are everyday English words, and a one-syllable
 * lexeme would make them match every title holding one of the dozens of characters read that way.
 * Nor is a whole title's pinyin stored: nearly every title would add a term of its own, and each term
 * costs a bitmap row of 1 kB per block and kind (migration 010); a query written without spaces
 * (meilixinling) is split into words of two syllables instead (queryPinyinWord).
 */

const ONLY_HAN = /^\p{Script=Han}+$/u
/** The longest pinyin lexeme kept. */
const MAX_PINYIN_CHARS = 64

/** The pinyin of a text of Chinese characters, toneless and folded (ü → u), syllables joined. */
function joined(han: string): string {
  return fold(pinyin(han, { toneType: 'none', type: 'array' }).join('')).replace(/[^a-z]/g, '')
}

/** The pinyin lexemes of a title or author: the pinyin of each of its words of two or more Chinese characters. */
export function pinyinLexemes(tokens: readonly string[]): string[] {
  const out = new Set<string>()
  for (const t of tokens) {
    if (!ONLY_HAN.test(t) || [...t].length < 2) continue
    const p = joined(t)
    if (p !== '' && p.length <= MAX_PINYIN_CHARS) out.add(p)
  }
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

/** The letters split into the fewest whole syllables; null when they cannot be split. */
export function syllablesOf(letters: string): string[] | null {
  if (!/^[a-z]+$/.test(letters)) return null
  const known = pinyinSyllables()
  // from[i]: where the last syllable of the best split of letters[0, i) starts (-1: no split).
  const count = new Array<number>(letters.length + 1).fill(Number.POSITIVE_INFINITY)
  const from = new Array<number>(letters.length + 1).fill(-1)
  count[0] = 0
  for (let i = 1; i <= letters.length; i++)
    for (let n = 1; n <= Math.min(MAX_SYLLABLE, i); n++) {
      const before = count[i - n] ?? Number.POSITIVE_INFINITY
      if (before + 1 < (count[i] ?? 0) && known.has(letters.slice(i - n, i))) {
        count[i] = before + 1
        from[i] = i - n
      }
    }
  if (!Number.isFinite(count[letters.length])) return null
  const out: string[] = []
  for (let i = letters.length; i > 0; i = from[i] ?? 0) out.unshift(letters.slice(from[i] ?? 0, i))
  return out
}

const syllableCount = (letters: string) => syllablesOf(letters)?.length ?? 0

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

/** Syllables in words of two (an odd one out joins the last word): most Chinese words have two. */
function twoByTwo(syllables: readonly string[]): string[] {
  if (syllables.length < 2) return [...syllables]
  const out: string[] = []
  for (let i = 0; i + 1 < syllables.length; i += 2) out.push(`${syllables[i]}${syllables[i + 1]}`)
  if (syllables.length % 2 === 1) out[out.length - 1] += syllables[syllables.length - 1] ?? ''
  return out
}

/**
 * A query written in pinyin, as one word the search matches: the whole pinyin joined (xin ling →
 * xinling, the lexeme of 心灵) or else all of its parts — its syllables two by two when it is one
 * word or every word is one syllable (meilixinling, mei li xin ling → meili, xinling), otherwise the
 * words as typed (meili xinling). Tone numbers are dropped. Null for anything else: a word that is not whole
 * syllables, or a single word of fewer than four syllables (it stays as typed).
 */
export function queryPinyinWord(words: readonly string[]): { text: string; parts: string[] | null } | null {
  if (words.length === 0 || !words.every((w) => /^(?:[a-z]+[1-5]?)+$/.test(w))) return null
  const typed = words.map((w) => w.replace(/[1-5]/g, ''))
  const text = typed.join('')
  const split = words.map((w) =>
    w
      .split(/[1-5]/)
      .filter((r) => r !== '')
      .map(syllablesOf),
  )
  if (text.length > MAX_PINYIN_CHARS || split.some((w) => w.some((s) => s === null))) return null
  const syllables = split.flat(2) as string[]
  if (words.length === 1 && syllables.length < 4) return null
  // Words as typed unless they are one word or all single syllables: a mix (he long time) may well
  // be English, and keeps its words.
  const bySyllable = words.length === 1 || syllables.length === words.length
  const parts = bySyllable ? twoByTwo(syllables) : typed
  return { text, parts: parts.length > 1 ? parts : words.length > 1 ? typed : null }
}
