import type { Queryable, Tx } from '../db/db.ts'

export type OrderStatus = 'unpaid' | 'paid' | 'shipped' | 'received' | 'cancelled'

export interface OrderRow {
  order_id: string
  buyer_id: string
  store_id: string
  status: OrderStatus
  cancel_reason: 'buyer' | 'seller' | 'timeout' | null
  total_price: number
  created_at: Date
  expires_at: Date
  paid_at: Date | null
  shipped_at: Date | null
  received_at: Date | null
  cancelled_at: Date | null
  /** now() > expires_at, as the database sees it */
  expired: boolean
}

const ORDER_COLUMNS = `order_id, buyer_id, store_id, status, cancel_reason, total_price, created_at, expires_at,
  paid_at, shipped_at, received_at, cancelled_at, now() >= expires_at AS expired`

export interface PlaceOrder {
  orderId: string
  buyerId: string
  storeId: string
  /** Distinct books, sorted by book id: rows are locked in this order. */
  lines: readonly { bookId: string; count: number }[]
  timeoutS: number
  maxTotal: number
}

export type PlaceResult =
  | { ok: true; total: number }
  | { ok: false; reserved: string[]; tooExpensive: boolean }

/**
 * Places an unpaid order in one statement: checks that buyer and store are open, takes every line
 * out of stock with a guarded update (a line with too little stock, or not listed, is not updated),
 * and — only if every line was reserved and the total is within bounds — inserts the order and its
 * lines with titles and prices as they are now. When it reports failure, some lines may have been
 * reserved: the caller must roll the transaction back.
 */
export async function placeOrder(tx: Tx, p: PlaceOrder): Promise<PlaceResult> {
  const r = await tx.query<{
    reserved: string[] | null
    within: boolean | null
    total: string | null
    created: boolean
  }>(
    `WITH store AS (
       SELECT s.store_id FROM stores s JOIN users owner ON owner.user_id = s.owner_id
        WHERE s.store_id = $2 AND owner.closed_at IS NULL
          AND EXISTS (SELECT 1 FROM users b WHERE b.user_id = $3 AND b.closed_at IS NULL)
     ), locked AS MATERIALIZED (
       SELECT l.book_id FROM listings l
        WHERE l.store_id = (SELECT store_id FROM store) AND l.book_id = ANY ($4::text[])
        ORDER BY l.book_id FOR UPDATE
     ), r AS (
       -- The count below is a one-time condition: every row is locked, in book-id order, before
       -- any is updated, so concurrent orders over the same books queue instead of deadlocking.
       UPDATE listings l SET stock_level = l.stock_level - w.count, sales = l.sales + w.count
         FROM unnest($4::text[], $5::int[]) AS w(book_id, count)
        WHERE (SELECT count(*) FROM locked) >= 0
          AND l.store_id = (SELECT store_id FROM store) AND l.book_id = w.book_id AND l.stock_level >= w.count
       RETURNING l.book_id, l.title, l.price, w.count
     ), t AS (
       SELECT count(*)::int AS n, coalesce(sum(price * count), 0) AS total, array_agg(book_id) AS ids FROM r
     ), o AS (
       INSERT INTO orders (order_id, buyer_id, store_id, total_price, expires_at)
       SELECT $1, $3, $2, t.total::bigint, now() + make_interval(secs => $6)
         FROM t WHERE t.n = cardinality($4::text[]) AND t.total <= $7
       RETURNING order_id
     ), i AS (
       INSERT INTO order_items (order_id, book_id, title, count, price)
       SELECT o.order_id, r.book_id, r.title, r.count, r.price FROM o, r
     )
     SELECT t.ids AS reserved, t.total <= $7 AS within, CASE WHEN t.total <= $7 THEN t.total::text END AS total,
            EXISTS (SELECT 1 FROM o) AS created
       FROM t`,
    [
      p.orderId,
      p.storeId,
      p.buyerId,
      p.lines.map((l) => l.bookId),
      p.lines.map((l) => l.count),
      p.timeoutS,
      p.maxTotal,
    ],
  )
  const row = r.rows[0]
  if (row?.created) return { ok: true, total: Number(row.total) }
  return { ok: false, reserved: row?.reserved ?? [], tooExpensive: row?.within === false }
}

export async function findOrder(q: Queryable, orderId: string): Promise<OrderRow | undefined> {
  const r = await q.query<OrderRow>(`SELECT ${ORDER_COLUMNS} FROM orders WHERE order_id = $1`, [orderId])
  return r.rows[0]
}

export type PayResult = { ok: true; total: number } | { ok: false; reason: 'not_payable' | 'insufficient' }

/**
 * Pays an order in one statement: the guarded status change (unpaid and not past its deadline), the
 * guarded debit of the buyer, and the ledger entry. If the status changed but the debit did not
 * (not enough money), the caller must roll the transaction back.
 */
export async function payOrder(tx: Tx, orderId: string, buyerId: string): Promise<PayResult> {
  const r = await tx.query<{ total: number | null; debited: boolean }>(
    `WITH o AS (
       UPDATE orders SET status = 'paid', paid_at = now()
        WHERE order_id = $1 AND buyer_id = $2 AND status = 'unpaid' AND expires_at > now()
       RETURNING order_id, total_price
     ), u AS (
       UPDATE users SET balance = balance - o.total_price
         FROM o WHERE users.user_id = $2 AND users.balance >= o.total_price
       RETURNING o.total_price
     ), l AS (
       INSERT INTO ledger (user_id, order_id, kind, amount)
       SELECT $2, o.order_id, 'payment', -o.total_price FROM o, u
     )
     SELECT (SELECT total_price FROM o) AS total, EXISTS (SELECT 1 FROM u) AS debited`,
    [orderId, buyerId],
  )
  const row = r.rows[0]
  if (!row || row.total === null) return { ok: false, reason: 'not_payable' }
  if (!row.debited) return { ok: false, reason: 'insufficient' }
  return { ok: true, total: row.total }
}
