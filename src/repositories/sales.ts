import type { Queryable } from '../db/db.ts'

/** Sales of one day (China time, UTC+8 all year) over a seller's stores. */
export interface DaySales {
  /** YYYY-MM-DD */
  day: string
  orders: number
  /** cents */
  revenue: number
}

/**
 * Paid orders (paid, shipped or received; a refused or cancelled one is no sale) of the seller's
 * stores per day of payment, over the last `days` days; days without sales are absent.
 */
export async function salesByDay(q: Queryable, ownerId: string, days: number): Promise<DaySales[]> {
  const r = await q.query<{ day: string; orders: number; revenue: number | string }>(
    `SELECT to_char((o.paid_at + interval '8 hours')::date, 'YYYY-MM-DD') AS day,
            count(*)::int AS orders, sum(o.total_price)::bigint AS revenue
       FROM orders o JOIN stores s ON s.store_id = o.store_id
      WHERE s.owner_id = $1 AND o.status IN ('paid', 'shipped', 'received')
        AND o.paid_at >= now() - make_interval(days => $2)
      GROUP BY 1 ORDER BY 1`,
    [ownerId, days],
  )
  return r.rows.map((row) => ({ day: row.day, orders: row.orders, revenue: Number(row.revenue) }))
}

export interface BookLine {
  store_id: string
  book_id: string
  title: string
  /** copies sold (best sellers) or in stock (low stock) */
  n: number
}

/** The seller's books that sold most copies (ever), most first. */
export async function bestSellers(q: Queryable, ownerId: string, limit: number): Promise<BookLine[]> {
  const r = await q.query<BookLine>(
    `SELECT l.store_id, l.book_id, l.title, ls.sales::int AS n
       FROM stores s JOIN listing_sales ls ON ls.store_id = s.store_id
       JOIN listings l ON l.store_id = ls.store_id AND l.book_id = ls.book_id
      WHERE s.owner_id = $1 AND ls.sales > 0
      ORDER BY ls.sales DESC, l.store_id, l.book_id LIMIT $2`,
    [ownerId, limit],
  )
  return r.rows
}

/** The seller's books with at most `atMost` copies left, fewest first. */
export async function lowStock(
  q: Queryable,
  ownerId: string,
  atMost: number,
  limit: number,
): Promise<BookLine[]> {
  const r = await q.query<BookLine>(
    `SELECT l.store_id, l.book_id, l.title, l.stock_level AS n
       FROM stores s JOIN listings l ON l.store_id = s.store_id
      WHERE s.owner_id = $1 AND l.stock_level <= $2
      ORDER BY l.stock_level, l.store_id, l.book_id LIMIT $3`,
    [ownerId, atMost, limit],
  )
  return r.rows
}
