import type { Db, Queryable } from '../db/db.ts'
import { query, type Sql, sql } from '../db/sql.ts'
import { LIMITS } from '../limits.ts'
import { type SearchColumns, searchColumns } from '../search/lexemes.ts'
import { segmenter } from '../search/segmenter.ts'
import { ownershipSql, type StoreOwnership } from './stores.ts'
import { insertKeysSql, listingKeyRows } from './suggest.ts'

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

/** What add_book's statement found: the seller's right to the store, and whether the book was listed. */
export interface AddedListing extends StoreOwnership {
  /** false when the store already lists this book id, or the seller may not list in the store. */
  inserted: boolean
}

/**
 * The statement listing books, search columns included, with their (empty) sales counts and ratings
 * and their suggestion keys. Rows whose (store, book) already exists are skipped. With `sellerId`, the
 * statement of add_book (one listing): it lists the book only when the seller is an open user owning
 * its store, and reports what it found.
 * Each listing's tags travel as one JSON array, so a tag may hold any character.
 */
function insertSql(
  ls: readonly NewListing[],
  precomputed?: readonly SearchColumns[],
  sellerId?: string,
): Sql {
  const seg = segmenter()
  const s = precomputed ?? ls.map((l) => searchColumns(seg, l))
  const col = <T>(f: (l: NewListing) => T) => ls.map(f)
  const seller = sellerId === undefined ? undefined : sql.bind(sellerId)
  return sql`WITH ${seller ? sql`own AS (SELECT ${ownershipSql(seller, ls[0]?.storeId ?? '')}), ` : sql.empty}listed AS (
     INSERT INTO listings (store_id, book_id, title, author, publisher, original_title, translator, pub_year,
       pages, price, binding, isbn, author_intro, book_intro, content, tags, extra, stock_level,
       search_vec, author_tags_vec, title_grams)
     SELECT store_id, book_id, title, author, publisher, original_title, translator, pub_year,
            pages, price, binding, isbn, author_intro, book_intro, content,
            ARRAY(SELECT jsonb_array_elements_text(tags::jsonb)), extra::jsonb, stock_level,
            search_vec::tsvector, author_tags_vec::tsvector, title_grams::tsvector
       FROM unnest(${col((l) => l.storeId)}::text[], ${col((l) => l.bookId)}::text[], ${col((l) => l.title)}::text[],
                   ${col((l) => l.author)}::text[], ${col((l) => l.publisher)}::text[],
                   ${col((l) => l.originalTitle)}::text[], ${col((l) => l.translator)}::text[],
                   ${col((l) => l.pubYear)}::text[], ${col((l) => l.pages)}::int[], ${col((l) => l.price)}::bigint[],
                   ${col((l) => l.binding)}::text[], ${col((l) => l.isbn)}::text[], ${col((l) => l.authorIntro)}::text[],
                   ${col((l) => l.bookIntro)}::text[], ${col((l) => l.content)}::text[],
                   ${col((l) => JSON.stringify(l.tags))}::text[], ${col((l) => JSON.stringify(l.extra))}::text[],
                   ${col((l) => l.stockLevel)}::int[], ${s.map((x) => x.searchVec)}::text[],
                   ${s.map((x) => x.authorTagsVec)}::text[], ${s.map((x) => x.titleGrams)}::text[])
         AS u(store_id, book_id, title, author, publisher, original_title, translator, pub_year, pages, price,
              binding, isbn, author_intro, book_intro, content, tags, extra, stock_level,
              search_vec, author_tags_vec, title_grams)
      ${seller ? sql`WHERE (SELECT own.user_open AND own.owner_id = ${seller} FROM own)` : sql.empty}
     ON CONFLICT (store_id, book_id) DO NOTHING
     RETURNING store_id, book_id, doc
     ), sales AS (
       INSERT INTO listing_sales (store_id, book_id) SELECT store_id, book_id FROM listed
     ), ratings AS (
       INSERT INTO listing_ratings (store_id, book_id, doc) SELECT store_id, book_id, doc FROM listed
     ), keys AS (
       ${insertKeysSql(listingKeyRows(ls), sql`listed`)}
     )
     SELECT (SELECT count(*) FROM listed)::int AS inserted${seller ? sql`, own.user_open, own.owner_id FROM own` : sql.empty}`
}

/**
 * add_book's listing in one statement, which also checks the seller: whatever lists a book makes it
 * searchable and completable at once. A lone statement commits by itself, so add_book without
 * pictures is one round trip; with pictures, `q` is the transaction that stores them next.
 */
export async function addListing(q: Queryable, sellerId: string, l: NewListing): Promise<AddedListing> {
  const r = await query<{ inserted: number; user_open: boolean | null; owner_id: string | null }>(
    q,
    insertSql([l], undefined, sellerId),
    { name: 'add_listing' },
  )
  const row = r.rows[0]
  return { user_open: row?.user_open ?? null, owner_id: row?.owner_id ?? null, inserted: row?.inserted === 1 }
}

/**
 * Lists books in one statement (bulk loads), as addListing without its checks. Returns how many were
 * inserted.
 */
export async function insertListings(
  q: Queryable,
  ls: readonly NewListing[],
  /** The rows' searchColumns, when the caller has already computed them (e.g. while a batch loads). */
  precomputed?: readonly SearchColumns[],
): Promise<number> {
  if (ls.length === 0) return 0
  const r = await query<{ inserted: number }>(q, insertSql(ls, precomputed), { name: 'insert_listings' })
  return r.rows[0]?.inserted ?? 0
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
