import { pinyin } from 'pinyin-pro'
import { normalise } from './segmenter.ts'

/**
 * Keys of the search box's suggestions (migration 012): a title, author or tag is completed from the
 * start of its folded form (as search folds text: NFKC, lower case) or, when it holds Chinese, of its
 * pinyin written in full without tones or spaces (美丽心灵 → meilixinling). A typed prefix is looked
 * up in the same two forms.
 */

export const SUGGEST_KINDS = ['title', 'author', 'tag'] as const
export type SuggestKind = (typeof SUGGEST_KINDS)[number]
/** The kind letters of suggestion_texts and suggestion_keys. */
export const KIND_LETTER: Record<SuggestKind, string> = { title: 't', author: 'a', tag: 'g' }

/** Keys are the first this many characters (code points) of a text's forms: enough to type. */
export const KEY_CHARS = 64

const HAN = /\p{Script=Han}/u
const head = (s: string) => [...s].slice(0, KEY_CHARS).join('')
/** Latin letters without accents or tone marks (ǎ → a, ü → u). */
const bareLatin = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase()

/** The folded form of a text: what a prefix typed as it is written must start. */
export const foldedKey = (text: string) => head(normalise(text))

/** A text's pinyin, in full, without tones, spaces or punctuation; null when it holds no Chinese. */
export function pinyinKey(text: string): string | null {
  if (!HAN.test(text)) return null
  const syllables = pinyin(normalise(text), { toneType: 'none', type: 'array', nonZh: 'consecutive' })
  const key = bareLatin(syllables.join('')).replace(/[^a-z0-9]/g, '')
  return key === '' ? null : head(key)
}

/** The most keys a text has (suggestionKeys: its folded form and its pinyin). */
export const MAX_KEYS_PER_TEXT = 2

/** Every key of a text (one or two). */
export function suggestionKeys(text: string): string[] {
  const keys = [foldedKey(text)]
  const p = pinyinKey(text)
  if (p !== null && p !== keys[0]) keys.push(p)
  return keys.filter((k) => k !== '')
}

/**
 * The prefixes a typed query is looked up by: as written (folded), and, when it is Latin, as pinyin
 * (spaces, tone marks and tone numbers dropped: `mei3 li` → meili; ü typed as v spelt u, as the keys
 * spell it: `lvse` → luse). Empty when nothing is left.
 */
export function queryPrefixes(q: string): string[] {
  const out = new Set<string>()
  const folded = head(normalise(q).trimStart())
  if (folded.trim() !== '') out.add(folded)
  const latin = bareLatin(normalise(q))
  if (/^[a-z0-9\s'’-]+$/.test(latin)) {
    const pinyinPrefix = head(latin.replace(/[^a-z]/g, '').replace(/([ln])v/g, '$1u'))
    if (pinyinPrefix !== '') out.add(pinyinPrefix)
  }
  return [...out]
}
