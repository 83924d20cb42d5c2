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
 *
 * ü is stored as v (绿色 → lvse, 女人 → nvren, 掠夺 → lveduo), as pinyin input methods type it, so
 * that lü and lu stay two syllables (绿线 lvxian, 路线 luxian). Only after l and n is ü a letter of its
 * own: after j, q, x and y pinyin writes it u (去 qu, 雪 xue), and so do the library and the index. A
 * query reaches the stored spelling however it writes ü: v, ü with or without a tone mark, u: (the
 * dictionaries' spelling, umlautAsV), yu (the passports' lyu, nyu) or, where no syllable with u exists,
 * u (lue, nue; TYPED_U).
 */

const ONLY_HAN = /^\p{Script=Han}+$/u
/** The longest pinyin lexeme kept. */
const MAX_PINYIN_CHARS = 64

/** The library's pinyin of a text of Chinese characters: syllables without tones, ü written v. */
const toneless = (han: string) => pinyin(han, { toneType: 'none', type: 'array', v: true })

/** The pinyin of a text of Chinese characters, toneless and folded, syllables joined. */
function joined(han: string): string {
  return fold(toneless(han).join('')).replace(/[^a-z]/g, '')
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

/**
 * Other typed spellings of the syllables with ü → their stored spelling: lue and nue (no syllable
 * with u is written so, and many type them that way) and the passports' yu (lyu, nyu). lu and nu are
 * not among them: they are syllables of their own (路, 奴).
 */
const TYPED_U: ReadonlyMap<string, string> = new Map([
  ['lue', 'lve'],
  ['nue', 'nve'],
  ['lyu', 'lv'],
  ['nyu', 'nv'],
])

let syllables: Set<string> | undefined
/**
 * Every toneless pinyin syllable, as the library reads the CJK Unified Ideographs (about 550, ü
 * written v), and the other spellings of TYPED_U. Built on first use, about 130 ms once per process.
 */
function pinyinSyllables(): Set<string> {
  if (syllables) return syllables
  const out = new Set<string>(TYPED_U.keys())
  for (let c = 0x4e00; c <= 0x9fff; c++)
    for (const s of toneless(String.fromCodePoint(c))) {
      const f = fold(s)
      if (/^[a-z]+$/.test(f)) out.add(f)
    }
  syllables = out
  return out
}

/** A syllable as it is stored (lue → lve). */
const stored = (syllable: string) => TYPED_U.get(syllable) ?? syllable

/** Longest syllable, in letters (zhuang, shuang). */
const MAX_SYLLABLE = 6

/** What a syllable costs in a split: one, a little more for another spelling (lu e before lue). */
const cost = (syllable: string) => (TYPED_U.has(syllable) ? 1 + 1 / 128 : 1)

/**
 * The letters split into the fewest whole syllables (as typed; on a tie, the fewest of TYPED_U's
 * spellings); null when they cannot be split.
 */
export function syllablesOf(letters: string): string[] | null {
  if (!/^[a-z]+$/.test(letters)) return null
  const known = pinyinSyllables()
  // from[i]: where the last syllable of the best split of letters[0, i) starts (-1: no split).
  const count = new Array<number>(letters.length + 1).fill(Number.POSITIVE_INFINITY)
  const from = new Array<number>(letters.length + 1).fill(-1)
  count[0] = 0
  for (let i = 1; i <= letters.length; i++)
    for (let n = 1; n <= Math.min(MAX_SYLLABLE, i); n++) {
      const syllable = letters.slice(i - n, i)
      const before = count[i - n] ?? Number.POSITIVE_INFINITY
      if (known.has(syllable) && before + cost(syllable) < (count[i] ?? 0)) {
        count[i] = before + cost(syllable)
        from[i] = i - n
      }
    }
  if (!Number.isFinite(count[letters.length])) return null
  const out: string[] = []
  for (let i = letters.length; i > 0; i = from[i] ?? 0) out.unshift(letters.slice(from[i] ?? 0, i))
  return out
}

/**
 * A query word written in pinyin with tone numbers (xin1ling2, xin1 ling) without them, and in the
 * stored spelling of ü (lue4duo2, lueduo → lveduo): letters and digits 1–5 where every digit ends a
 * run of whole syllables, two syllables or more. Any other word (mp3, a4, 2024, luxian) is returned
 * as it is.
 */
export function withoutToneNumbers(word: string): string {
  if (!/^(?:[a-z]+[1-5]?)+$/.test(word)) return word
  const runs = word.split(/[1-5]/).filter((r) => r !== '')
  const split = runs.map(syllablesOf)
  if (split.some((s) => s === null) || split.reduce((n, s) => n + (s?.length ?? 0), 0) < 2) return word
  return split.map((s) => s?.map(stored).join('')).join('')
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
 * words as typed (meili xinling). Tone numbers are dropped and ü is spelt as stored (lue duo →
 * lveduo). Null for anything else: a word that is not whole syllables, or a single word of fewer
 * than four syllables (it stays as typed).
 */
export function queryPinyinWord(words: readonly string[]): { text: string; parts: string[] | null } | null {
  if (words.length === 0 || !words.every((w) => /^(?:[a-z]+[1-5]?)+$/.test(w))) return null
  const split = words.map((w) =>
    w
      .split(/[1-5]/)
      .filter((r) => r !== '')
      .flatMap((r) => syllablesOf(r) ?? [null]),
  )
  if (split.some((w) => w.includes(null))) return null
  const spelt = split.map((w) => (w as string[]).map(stored))
  const typed = spelt.map((w) => w.join(''))
  const text = typed.join('')
  if (text.length > MAX_PINYIN_CHARS) return null
  const syllables = spelt.flat()
  if (words.length === 1 && syllables.length < 4) return null
  // Words as typed unless they are one word or all single syllables: a mix (he long time) may well
  // be English, and keeps its words.
  const bySyllable = words.length === 1 || syllables.length === words.length
  const parts = bySyllable ? twoByTwo(syllables) : typed
  return { text, parts: parts.length > 1 ? parts : words.length > 1 ? typed : null }
}

/** ü as typed after l or n: the letter, with or without a tone mark, composed or not, or u: (lu:4). */
const L_N_UMLAUT = /([ln])(?:u\u0308[\u0300-\u036f]*|u:)/giu
/** A run of Latin letters, their marks, digits and colons: one typed word for umlautAsV. */
const LATIN_RUN = /[\p{Script=Latin}\p{M}\p{N}:]+/gu

/**
 * A query with every word that spells pinyin with ü after l or n (lüse, Lǜsè, nü3ren2, lu:4se4)
 * rewritten with v, the stored spelling, before the query is folded (folding would make ü a u, and
 * lüse the letters of 路色). Only a word of whole syllables is rewritten: other words with ü (Müller,
 * Lüneburg) fold as always. Such a word is read as pinyin even where it is also another language's
 * (Lüge); a Latin text that spells pinyin with ü (Lü Buwei) is stored folded, and found typed with u.
 */
export function umlautAsV(query: string): string {
  if (!/[ln](?:u\u0308|u:)/iu.test(query.normalize('NFD'))) return query
  return query.normalize('NFD').replace(LATIN_RUN, (run) => {
    const withV = run.replace(L_N_UMLAUT, '$1v')
    if (withV === run) return run
    const letters = fold(withV)
    return letters.split(/[1-5]/).every((r) => r === '' || syllablesOf(r) !== null) && /[a-z]/.test(letters)
      ? withV
      : run
  })
}
