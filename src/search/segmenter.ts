import { createRequire } from 'node:module'
import { Jieba } from '@node-rs/jieba'
import { fold } from './fold.ts'
import { umlautAsV } from './pinyin.ts'

/**
 * Chinese (and Latin) word segmentation for full-text search. PostgreSQL cannot split Chinese text,
 * so words are cut here with jieba and handed to SQL as ready-made lexemes: nothing of the database's
 * own text parser is involved, on the write side or the query side.
 */

/** A token is kept when it holds at least one letter or digit (punctuation and spaces are dropped). */
const WORDISH = /[\p{L}\p{N}]/u
/** tsvector lexemes are limited to 2 KB; real words are far shorter. */
const MAX_TOKEN_CHARS = 64

/** Text as search compares it, on the document and the query side alike (see fold.ts). */
export function normalise(text: string): string {
  return fold(text)
}

function keep(token: string): boolean {
  return token.length <= MAX_TOKEN_CHARS && WORDISH.test(token)
}

export class Segmenter {
  private readonly jieba: Jieba

  constructor() {
    // The dictionary ships with the package as dict.txt (its `dict` export is CommonJS).
    const require = createRequire(import.meta.url)
    const { dict } = require('@node-rs/jieba/dict.js') as { dict: Uint8Array }
    this.jieba = Jieba.withDict(dict)
  }

  /**
   * Search-mode tokens of a document field, in text order: every word, plus the shorter dictionary
   * words inside long ones (中华人民共和国 → 中华, 华人, 人民, 共和, 共和国, 中华人民共和国).
   * The text is folded first (normalise); punctuation and whitespace are dropped.
   */
  documentTokens(text: string | null | undefined): string[] {
    if (!text) return []
    return this.jieba
      .cutForSearch(normalise(text), true)
      .map((t) => t.trim())
      .filter(keep)
  }

  /**
   * The words of a query (precise mode: one token per word as typed), normalised like documents;
   * pinyin written with ü first takes the index's v (umlautAsV, pinyin.ts).
   */
  queryWords(text: string): string[] {
    return this.jieba
      .cut(normalise(umlautAsV(text)), true)
      .map((t) => t.trim())
      .filter(keep)
  }

  /** The search-mode parts of one query word that are shorter than the word itself. */
  subWords(word: string): string[] {
    return this.documentTokens(word).filter((t) => t !== word)
  }
}

let shared: Segmenter | undefined
/**
 * The segmenter is a pure function of its (read-only) dictionary, so one instance serves every app in
 * the process; it is created on first use because loading the dictionary takes a fraction of a second.
 */
export function segmenter(): Segmenter {
  shared ??= new Segmenter()
  return shared
}
