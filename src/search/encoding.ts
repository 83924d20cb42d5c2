/**
 * How the search tables encode what they hold: the bits of search_postings.fields and the block size
 * of search_bitmaps. These are the definitions the code uses; the migrations that built the tables
 * (006, 007, 010) spell the same numbers in SQL, and test/search/search-encoding.test.ts reads them back from
 * the database (column types, the SQL functions' results on a listing) and fails when the two disagree.
 * The SQL is not generated from here because those migrations have already run on existing databases
 * and must stay as they were; the search rebuild will derive its SQL from this module.
 */
import type { ScopeField } from './query.ts'

/** Bits of search_postings.fields: where the term occurs (migration 006, search_postings_of). */
export const FIELD_BITS: Record<ScopeField, number> = {
  title: 1,
  author: 2,
  tags: 4,
  book_intro: 8,
  content: 16,
}
/** The term is a character or a pair of neighbouring characters of the title. */
export const TITLE_GRAM_BIT = 32

/** Listings a row of search_bitmaps covers: bits is bit(BITMAP_BLOCK), block is doc / BITMAP_BLOCK (migration 007). */
export const BITMAP_BLOCK = 8192
