import * as openccT2cn from 'opencc-js/preset/t2cn'

/**
 * Folding: the one definition of which spellings of a text search treats as the same. Documents (at
 * write time), queries, highlights and the reference scan of the tests all fold with `fold`:
 *
 * - NFKC: full-width Latin letters and digits become half-width (ＡＢＣ１ → ABC1), compatibility forms
 *   their plain letters;
 * - lower case;
 * - Latin (and Greek, Cyrillic) accents dropped: the combining marks of U+0300–U+036F after canonical
 *   decomposition (café → cafe, Ü → u, xīnlíng → xinling); marks of other scripts (Japanese voicing,
 *   Indic vowel signs) are part of their letters and stay;
 * - traditional Chinese characters become simplified (心靈 → 心灵), character by character, from the
 *   character tables of OpenCC (opencc-js): traditional to simplified, Taiwan and Hong Kong variant
 *   forms (裡, 為) through OpenCC's standard traditional ones (裏, 爲).
 *
 * Character by character (not OpenCC's phrase conversion) on purpose: a character folds the same
 * wherever it stands, so a folded text is the concatenation of its folded characters (highlights map
 * folded offsets back to the original text that way) and both sides of a match always agree. Where a
 * phrase table would pick another simplified form (乾隆 stays 乾隆 in OpenCC, folds to 干隆 here),
 * documents and queries still fold alike, so the match is the same.
 */

/** The combining marks dropped after canonical decomposition (accents and tone marks on Latin letters). */
const LATIN_MARKS = /[\u0300-\u036f]/gu
/**
 * Characters that may carry such a mark, composed or not: Latin-1 and Latin Extended letters, the
 * marks themselves, Greek, Cyrillic and Latin Extended Additional. Text without them (Chinese, ASCII)
 * skips the decomposition, the dearer half of folding.
 */
const MAY_HAVE_MARKS = /[\u00c0-\u036f\u0370-\u04ff\u1e00-\u1fff]/u

/** Parses an OpenCC dictionary ("from to1 to2|…", or pairs) and keeps its single-character entries. */
function characterEntries(dict: string | readonly (readonly [string, string])[]): [string, string][] {
  const pairs: [string, string][] =
    typeof dict === 'string'
      ? dict
          .split('|')
          .filter((line) => line !== '')
          .map((line) => {
            const [from = '', to = ''] = line.split(' ')
            return [from, to]
          })
      : dict.map(([from, to]) => [from, to.split(' ')[0] ?? ''])
  return pairs.filter(([from, to]) => [...from].length === 1 && [...to].length === 1)
}

/** One step of the conversion: every character entry of a group of dictionaries (the first wins). */
function characterMap(groups: readonly (readonly (string | readonly (readonly [string, string])[])[])[]) {
  const map = new Map<string, string>()
  for (const group of groups)
    for (const dict of group)
      for (const [from, to] of characterEntries(dict)) if (!map.has(from)) map.set(from, to)
  return map
}

let table: { map: Map<string, string>; bmp: Uint8Array } | undefined
/**
 * Traditional (Taiwan, Hong Kong or OpenCC standard) character → simplified character, built once per
 * process from the library's tables (about 4 000 entries, a few milliseconds), with a flag per
 * character of the Basic Multilingual Plane that has an entry (a text's other characters are passed
 * over without a look-up: a regular expression of 4 000 characters costs 20 times more).
 */
function traditionalToSimplified(): { map: Map<string, string>; bmp: Uint8Array } {
  if (table) return table
  const variants = [characterMap(openccT2cn.from.tw ?? []), characterMap(openccT2cn.from.hk ?? [])]
  const simplify = characterMap(openccT2cn.to.cn ?? [])
  const map = new Map<string, string>()
  const chars = new Set([...simplify.keys(), ...variants.flatMap((v) => [...v.keys()])])
  for (const c of chars) {
    // A regional variant is followed only when its standard form simplifies: 著 (a Taiwan form of
    // 着) and 么 are simplified characters themselves and stay as they are.
    const standard = variants.reduce((x, v) => v.get(x) ?? x, c)
    const simplified = simplify.get(standard) ?? simplify.get(c) ?? c
    if (simplified !== c) map.set(c, simplified)
  }
  const bmp = new Uint8Array(0x10000)
  for (const c of map.keys()) if (c.length === 1) bmp[c.charCodeAt(0)] = 1
  table = { map, bmp }
  return table
}

/** The text with every character that has an entry replaced by its simplified form. */
function simplify(text: string): string {
  const { map, bmp } = traditionalToSimplified()
  let out = ''
  let copied = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    const pair = code >= 0xd800 && code <= 0xdbff && i + 1 < text.length
    const c = pair ? text.slice(i, i + 2) : null
    const to = pair ? map.get(c as string) : bmp[code] ? map.get(text[i] as string) : undefined
    if (to !== undefined) {
      out += text.slice(copied, i) + to
      copied = i + (pair ? 2 : 1)
    }
    if (pair) i++
  }
  return copied === 0 ? text : out + text.slice(copied)
}

/** The folded form of a text (see above): what search compares. */
export function fold(text: string): string {
  let out = text.normalize('NFKC').toLowerCase()
  if (MAY_HAVE_MARKS.test(out)) out = out.normalize('NFD').replace(LATIN_MARKS, '').normalize('NFC')
  return simplify(out)
}
