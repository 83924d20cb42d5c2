/**
 * How search_bitmaps encodes what it holds: the block size. The code uses this definition; the
 * migrations (007, 016, 018, 019) spell the same number in SQL, and test/search/search-encoding.test.ts reads it
 * back from the database (the column type, the bits a listing sets) and fails when the two disagree.
 * Applied migrations stay as they ran, so the SQL is not generated from here.
 */

/** Listings a row of search_bitmaps covers: bits is bit(BITMAP_BLOCK), block is doc / BITMAP_BLOCK (migration 018). */
export const BITMAP_BLOCK = 16384
