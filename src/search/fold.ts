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
/** Characters a table may change: CJK ideographs and their extensions, compatibility forms included. */
const HAN = /\p{Script=Han}/u
const NOT_ASCII = /[^\p{ASCII}]/u

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

let table: Map<string, string> | undefined
/**
 * Traditional (Taiwan, Hong Kong or OpenCC standard) character → simplified character, built once per
 * process from the library's tables (about 4 000 entries, a few milliseconds).
 */
function traditionalToSimplified(): Map<string, string> {
  if (table) return table
  const variants = [characterMap(openccT2cn.from.tw ?? []), characterMap(openccT2cn.from.hk ?? [])]
  const simplify = characterMap(openccT2cn.to.cn ?? [])
  const out = new Map<string, string>()
  const chars = new Set([...simplify.keys(), ...variants.flatMap((v) => [...v.keys()])])
  for (const c of chars) {
    // A regional variant is followed only when its standard form simplifies: 著 (a Taiwan form of
    // 着) and 么 are simplified characters themselves and stay as they are.
    const standard = variants.reduce((x, v) => v.get(x) ?? x, c)
    const simplified = simplify.get(standard) ?? simplify.get(c) ?? c
    if (simplified !== c) out.set(c, simplified)
  }
  table = out
  return out
}

/** The folded form of a text (see above): what search compares. */
export function fold(text: string): string {
  let out = text.normalize('NFKC').toLowerCase()
  // ASCII text (most Latin words, digits) has nothing more to fold.
  if (NOT_ASCII.test(out)) {
    out = out.normalize('NFD').replace(LATIN_MARKS, '').normalize('NFC')
    if (HAN.test(out)) {
      const t2s = traditionalToSimplified()
      let simplified = ''
      for (const c of out) simplified += t2s.get(c) ?? c
      out = simplified
    }
  }
  return out
}
