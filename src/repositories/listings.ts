import type { Db, Queryable, Tx } from '../db/db.ts'
import { LIMITS } from '../limits.ts'
import { type SearchColumns, searchColumns } from '../search/lexemes.ts'
import { segmenter } from '../search/segmenter.ts'
import { addSuggestionKeys } from './suggest.ts'

export interface NewListing {
  storeId: string
  bookId: string
  title: string
  author: string | null
  publisher: string | null
  originalTitle: string | null
  translator: string | null
  pubYear: string | null
  pages: number | null
  price: number
  binding: string | null
  isbn: string | null
  authorIntro: string | null
  bookIntro: string | null
  content: string | null
  tags: string[]
  extra: Record<string, unknown>
  stockLevel: number
}

/**
 * false when the store already lists this book id. The listing's search words are cut here and
 * stored by the same statement, so whatever lists a book makes it searchable at once.
 */
export async function insertListing(tx: Tx, l: NewListing): Promise<boolean> {
  return (await insertListings(tx, [l])) === 1
}

export async function listingExists(q: Queryable, storeId: string, bookId: string): Promise<boolean> {
  const r = await q.query('SELECT 1 FROM listings WHERE store_id = $1 AND book_id = $2', [storeId, bookId])
  return r.rowCount > 0
}

export type StockChange = { ok: true; stockLevel: number } | { ok: false; reason: 'no_book' | 'limit' }

/** Adds copies to a listing in one guarded statement (the 32-bit column never overflows). */
export async function addStock(
  q: Queryable,
  storeId: string,
  bookId: string,
  add: number,
): Promise<StockChange> {
  const r = await q.query<{ stock_level: number }>(
    // Typed parameters: with both operands untyped, `$4 - $3` matches no single operator.
    `UPDATE listings SET stock_level = stock_level + $3::int
      WHERE store_id = $1 AND book_id = $2 AND stock_level <= $4::int - $3::int
     RETURNING stock_level`,
    [storeId, bookId, add, LIMITS.maxStock],
  )
  const row = r.rows[0]
  if (row) return { ok: true, stockLevel: row.stock_level }
  return { ok: false, reason: (await listingExists(q, storeId, bookId)) ? 'limit' : 'no_book' }
}

export interface ListingRow {
  store_id: string
  book_id: string
  title: string
  author: string | null
  publisher: string | null
  original_title: string | null
  translator: string | null
  pub_year: string | null
  pages: number | null
  price: number
  binding: string | null
  isbn: string | null
  author_intro: string | null
  book_intro: string | null
  content: string | null
  tags: string[]
  extra: Record<string, unknown>
  stock_level: number
  /** How many pictures the listing has (their bytes are not read). */
  picture_count: number
  /** The sum and number of its reviews' ratings. */
  rating_sum: number
  rating_count: number
}

export async function findListing(
  q: Queryable,
  storeId: string,
  bookId: string,
): Promise<ListingRow | undefined> {
  const r = await q.query<ListingRow>(
    `SELECT l.store_id, l.book_id, l.title, l.author, l.publisher, l.original_title, l.translator, l.pub_year,
            l.pages, l.price, l.binding, l.isbn, l.author_intro, l.book_intro, l.content, l.tags, l.extra,
            l.stock_level,
            (SELECT count(*)::int FROM listing_pictures p
              WHERE p.store_id = l.store_id AND p.book_id = l.book_id) AS picture_count,
            coalesce(r.rating_sum, 0) AS rating_sum, coalesce(r.rating_count, 0) AS rating_count
       FROM listings l LEFT JOIN listing_ratings r ON r.store_id = l.store_id AND r.book_id = l.book_id
      WHERE l.store_id = $1 AND l.book_id = $2`,
    [storeId, bookId],
  )
  return r.rows[0]
}

/**
 * Lists books in one statement, search columns included (one book for add_book, many for bulk
 * loads), with its (empty) sales count and ratings. Rows whose (store, book) already exists are
 * skipped. Returns how many were inserted.
 * Each listing's tags travel as one JSON array, so a tag may hold any character.
 */
export async function insertListings(
  tx: Tx,
  ls: readonly NewListing[],
  /** The rows' searchColumns, when the caller has already computed them (e.g. while a batch loads). */
  precomputed?: readonly SearchColumns[],
): Promise<number> {
  if (ls.length === 0) return 0
  const seg = segmenter()
  const s = precomputed ?? ls.map((l) => searchColumns(seg, l))
  const col = <T>(f: (l: NewListing) => T) => ls.map(f)
  const r = await tx.query(
    `WITH listed AS (
     INSERT INTO listings (store_id, book_id, title, author, publisher, original_title, translator, pub_year,
       pages, price, binding, isbn, author_intro, book_intro, content, tags, extra, stock_level,
       search_vec, author_tags_vec, title_grams)
     SELECT store_id, book_id, title, author, publisher, original_title, translator, pub_year,
            pages, price, binding, isbn, author_intro, book_intro, content,
            ARRAY(SELECT jsonb_array_elements_text(tags::jsonb)), extra::jsonb, stock_level,
            search_vec::tsvector, author_tags_vec::tsvector, title_grams::tsvector
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                   $8::text[], $9::int[], $10::bigint[], $11::text[], $12::text[], $13::text[], $14::text[],
                   $15::text[], $16::text[], $17::text[], $18::int[], $19::text[], $20::text[], $21::text[])
         AS u(store_id, book_id, title, author, publisher, original_title, translator, pub_year, pages, price,
              binding, isbn, author_intro, book_intro, content, tags, extra, stock_level,
              search_vec, author_tags_vec, title_grams)
     ON CONFLICT (store_id, book_id) DO NOTHING
     RETURNING store_id, book_id, doc
     ), sales AS (
       INSERT INTO listing_sales (store_id, book_id) SELECT store_id, book_id FROM listed
     )
     INSERT INTO listing_ratings (store_id, book_id, doc) SELECT store_id, book_id, doc FROM listed`,
    [
      col((l) => l.storeId),
      col((l) => l.bookId),
      col((l) => l.title),
      col((l) => l.author),
      col((l) => l.publisher),
      col((l) => l.originalTitle),
      col((l) => l.translator),
      col((l) => l.pubYear),
      col((l) => l.pages),
      col((l) => l.price),
      col((l) => l.binding),
      col((l) => l.isbn),
      col((l) => l.authorIntro),
      col((l) => l.bookIntro),
      col((l) => l.content),
      col((l) => JSON.stringify(l.tags)),
      col((l) => JSON.stringify(l.extra)),
      col((l) => l.stockLevel),
      s.map((x) => x.searchVec),
      s.map((x) => x.authorTagsVec),
      s.map((x) => x.titleGrams),
    ],
    { name: 'insert_listings' },
  )
  // The suggestions' texts follow by trigger; their keys (pinyin) are computed here (migration 012).
  if (r.rowCount > 0) await addSuggestionKeys(tx, ls)
  return r.rowCount
}

/**
 * After a bulk load: planner statistics and an up-to-date visibility map for the listings and their
 * search structures (bitmaps and term counts). PostgreSQL's autovacuum would get
 * there later; the embedded engine never does. Not inside a transaction.
 */
export async function analyseListings(db: Db): Promise<void> {
  await db.exec('VACUUM ANALYZE listings, listing_ratings, search_bitmaps, search_terms')
}

/** The most used tags over the whole catalogue (from the per-price counts, not the listings). */
export async function popularTags(q: Queryable, limit: number): Promise<{ tag: string; listings: number }[]> {
  const r = await q.query<{ tag: string; listings: number }>(
    `SELECT tag, sum(listings)::int AS listings FROM listing_counts
      WHERE kind = 't' GROUP BY tag HAVING sum(listings) > 0
      ORDER BY 2 DESC, 1 LIMIT $1`,
    [limit],
  )
  return r.rows
}
