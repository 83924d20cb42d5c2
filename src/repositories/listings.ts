import type { Queryable, Tx } from '../db/db.ts'
import { LIMITS } from '../limits.ts'

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

/** false when the store already lists this book id. */
export async function insertListing(tx: Tx, l: NewListing): Promise<boolean> {
  const r = await tx.query(
    `INSERT INTO listings (store_id, book_id, title, author, publisher, original_title, translator, pub_year,
       pages, price, binding, isbn, author_intro, book_intro, content, tags, extra, stock_level)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
     ON CONFLICT (store_id, book_id) DO NOTHING`,
    [
      l.storeId,
      l.bookId,
      l.title,
      l.author,
      l.publisher,
      l.originalTitle,
      l.translator,
      l.pubYear,
      l.pages,
      l.price,
      l.binding,
      l.isbn,
      l.authorIntro,
      l.bookIntro,
      l.content,
      l.tags,
      JSON.stringify(l.extra),
      l.stockLevel,
    ],
  )
  return r.rowCount === 1
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

/** The stock of the given books in a store (books not listed are absent from the map). */
export async function stockOf(
  q: Queryable,
  storeId: string,
  bookIds: readonly string[],
): Promise<Map<string, number>> {
  const r = await q.query<{ book_id: string; stock_level: number }>(
    'SELECT book_id, stock_level FROM listings WHERE store_id = $1 AND book_id = ANY($2::text[])',
    [storeId, bookIds],
  )
  return new Map(r.rows.map((x) => [x.book_id, x.stock_level]))
}
