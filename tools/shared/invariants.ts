/**
 * What must hold in every database the server has written, whatever happened to it (races, crashes,
 * restarts): the tests assert these after their writes, and the chaos test after each SIGKILL.
 * Each invariant is a query for a number that is 0 when it holds.
 */
import type { Queryable } from '../../src/db/db.ts'

export const INVARIANTS = {
  negative_stock: 'SELECT count(*) FROM listings WHERE stock_level < 0',
  negative_balances: 'SELECT count(*) FROM users WHERE balance < 0',
  orders_without_lines: `SELECT count(*) FROM orders o
     WHERE NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.order_id)`,
  orders_with_wrong_total: `SELECT count(*) FROM orders o
     WHERE o.total_price <> (SELECT coalesce(sum(i.price * i.count), 0) FROM order_items i
                              WHERE i.order_id = o.order_id)`,
  // Paid, shipped and received orders have one payment row of their total from their buyer, unpaid
  // ones no ledger row at all (a cancelled order may have been paid and refunded, or not).
  orders_with_wrong_payments: `SELECT count(*) FROM orders o
     WHERE o.status <> 'cancelled'
       AND (SELECT count(*) FROM ledger l WHERE l.order_id = o.order_id AND l.kind = 'payment'
              AND l.amount = -o.total_price AND l.user_id = o.buyer_id)
           <> CASE WHEN o.status IN ('paid', 'shipped', 'received') THEN 1 ELSE 0 END
        OR (o.status = 'unpaid' AND EXISTS (SELECT 1 FROM ledger l WHERE l.order_id = o.order_id))`,
  balances_not_their_ledger: `SELECT count(*) FROM users u
     WHERE u.balance <> (SELECT coalesce(sum(amount), 0) FROM ledger l WHERE l.user_id = u.user_id)`,
  // Money is conserved: balances + escrow of paid and shipped orders = deposits − withdrawals.
  money_created: `SELECT (SELECT coalesce(sum(balance), 0) FROM users)
     + (SELECT coalesce(sum(total_price), 0) FROM orders WHERE status IN ('paid', 'shipped'))
     - (SELECT coalesce(sum(amount), 0) FROM ledger WHERE kind IN ('deposit', 'withdrawal'))`,
} as const

export type Invariant = keyof typeof INVARIANTS

export const MONEY_INVARIANTS: readonly Invariant[] = ['balances_not_their_ledger', 'money_created']
export const ORDER_INVARIANTS: readonly Invariant[] = [
  'negative_stock',
  'negative_balances',
  'orders_without_lines',
  'orders_with_wrong_total',
  'orders_with_wrong_payments',
]
const ALL = Object.keys(INVARIANTS) as Invariant[]

/** The invariants that do not hold, as `name = n`, in one statement (one snapshot of the data). */
export async function brokenInvariants(db: Queryable, which: readonly Invariant[] = ALL): Promise<string[]> {
  const columns = which.map((name) => `(${INVARIANTS[name]})::bigint AS ${name}`)
  const row = (await db.query<Record<Invariant, number>>(`SELECT ${columns.join(',\n')}`)).rows[0]
  if (!row) throw new Error('the invariant query returned no row')
  return which.filter((name) => row[name] !== 0).map((name) => `${name} = ${row[name]}`)
}

/** Each listing's stock and the copies held by its orders that are not cancelled. */
export async function stockAndHeld(
  db: Queryable,
): Promise<{ store_id: string; book_id: string; stock_level: number; held: number }[]> {
  const r = await db.query<{ store_id: string; book_id: string; stock_level: number; held: number }>(
    `SELECT l.store_id, l.book_id, l.stock_level,
            (SELECT coalesce(sum(i.count), 0) FROM order_items i JOIN orders o ON o.order_id = i.order_id
              WHERE o.store_id = l.store_id AND i.book_id = l.book_id AND o.status <> 'cancelled')::int AS held
       FROM listings l ORDER BY l.store_id, l.book_id`,
  )
  return r.rows
}
