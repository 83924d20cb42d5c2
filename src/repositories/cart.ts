import type { Queryable, Tx } from '../db/db.ts'

export interface CartLineRow {
  store_id: string
  book_id: string
  title: string
  /** cents, the listing's price now */
  price: number
  count: number
  stock_level: number
}

/** The buyer's cart lines with the listings' current titles, prices and stock, by store and book. */
export async function cartOf(q: Queryable, userId: string): Promise<CartLineRow[]> {
  const r = await q.query<CartLineRow>(
    `SELECT c.store_id, c.book_id, l.title, l.price, c.count, l.stock_level
       FROM cart_lines c JOIN listings l ON l.store_id = c.store_id AND l.book_id = c.book_id
      WHERE c.user_id = $1 ORDER BY c.store_id, c.book_id`,
    [userId],
  )
  return r.rows
}

export type SetLineResult = 'ok' | 'no_store' | 'no_book' | 'full'

/**
 * Sets the count of one line in one statement: the line is written only if the store is open and lists
 * the book, and a new line only while the cart has fewer than maxLines lines. Otherwise says why.
 */
export async function setCartLine(
  q: Queryable,
  p: { userId: string; storeId: string; bookId: string; count: number; maxLines: number },
): Promise<SetLineResult> {
  const r = await q.query<{ written: boolean; store_open: boolean; listed: boolean }>(
    `WITH store AS (
       SELECT s.store_id FROM stores s JOIN users owner ON owner.user_id = s.owner_id
        WHERE s.store_id = $2 AND owner.closed_at IS NULL
     ), listing AS (
       SELECT l.store_id, l.book_id FROM listings l WHERE l.store_id = (SELECT store_id FROM store) AND l.book_id = $3
     ), w AS (
       INSERT INTO cart_lines AS c (user_id, store_id, book_id, count)
       SELECT $1, store_id, book_id, $4 FROM listing
        WHERE EXISTS (SELECT 1 FROM cart_lines x WHERE x.user_id = $1 AND x.store_id = $2 AND x.book_id = $3)
           OR (SELECT count(*) FROM cart_lines x WHERE x.user_id = $1) < $5
       ON CONFLICT (user_id, store_id, book_id) DO UPDATE SET count = excluded.count
       RETURNING 1
     )
     SELECT EXISTS (SELECT 1 FROM w) AS written, EXISTS (SELECT 1 FROM store) AS store_open,
            EXISTS (SELECT 1 FROM listing) AS listed`,
    [p.userId, p.storeId, p.bookId, p.count, p.maxLines],
  )
  const row = r.rows[0]
  if (row?.written) return 'ok'
  if (!row?.store_open) return 'no_store'
  if (!row.listed) return 'no_book'
  return 'full'
}

/** Removes one line; returns whether it was there. */
export async function removeCartLine(
  q: Queryable,
  userId: string,
  storeId: string,
  bookId: string,
): Promise<boolean> {
  const r = await q.query('DELETE FROM cart_lines WHERE user_id = $1 AND store_id = $2 AND book_id = $3', [
    userId,
    storeId,
    bookId,
  ])
  return r.rowCount === 1
}

export interface TakenLine {
  store_id: string
  book_id: string
  count: number
}

/**
 * Takes the buyer's lines (of the given stores, or all) out of the cart for a checkout, locked in
 * (store, book) order first. Until the transaction ends, a concurrent checkout of the same lines waits
 * here, and once this one commits finds them gone (or, if it rolled back, takes them itself).
 */
export async function takeCartLines(
  tx: Tx,
  userId: string,
  storeIds: readonly string[] | undefined,
): Promise<TakenLine[]> {
  const r = await tx.query<TakenLine>(
    `WITH locked AS MATERIALIZED (
       SELECT store_id, book_id FROM cart_lines
        WHERE user_id = $1 AND ($2::text[] IS NULL OR store_id = ANY ($2::text[]))
        ORDER BY store_id, book_id FOR UPDATE
     )
     DELETE FROM cart_lines c USING locked
      WHERE c.user_id = $1 AND c.store_id = locked.store_id AND c.book_id = locked.book_id
     RETURNING c.store_id, c.book_id, c.count`,
    [userId, storeIds ?? null],
  )
  return r.rows.sort((a, b) => compare(a.store_id, b.store_id) || compare(a.book_id, b.book_id))
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
