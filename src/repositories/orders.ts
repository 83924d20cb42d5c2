import type { Queryable, Tx } from '../db/db.ts'
import type { ReservedLine } from './listings.ts'

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

/** Inserts an unpaid order and its lines (title and price as they are now). */
export async function insertOrder(
  tx: Tx,
  o: { orderId: string; buyerId: string; storeId: string; totalPrice: number; timeoutS: number },
  lines: readonly ReservedLine[],
): Promise<void> {
  await tx.query(
    `INSERT INTO orders (order_id, buyer_id, store_id, total_price, expires_at)
     VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
    [o.orderId, o.buyerId, o.storeId, o.totalPrice, o.timeoutS],
  )
  await tx.query(
    `INSERT INTO order_items (order_id, book_id, title, count, price)
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::int[], $5::bigint[])`,
    [
      o.orderId,
      lines.map((l) => l.book_id),
      lines.map((l) => l.title),
      lines.map((l) => l.count),
      lines.map((l) => l.price),
    ],
  )
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
