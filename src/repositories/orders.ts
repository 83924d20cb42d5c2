import type { ApiOrder } from '../api/orders.ts'
import type { Queryable, Tx } from '../db/db.ts'
import { query, type Sql, sql } from '../db/sql.ts'
import { liveSession } from './sessions.ts'

/** The statuses and cancel reasons are the API's (and the table's CHECK constraints'). */
export type OrderStatus = ApiOrder['status']

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

const ORDER_COLUMN_NAMES = [
  'order_id',
  'buyer_id',
  'store_id',
  'status',
  'cancel_reason',
  'total_price',
  'created_at',
  'expires_at',
  'paid_at',
  'shipped_at',
  'received_at',
  'cancelled_at',
] as const
/** The columns of an OrderRow, optionally qualified with a table alias. */
const orderColumns = (alias?: 'o') => {
  const column = (name: string) => sql.ident(alias ? `${alias}.${name}` : name)
  return sql`${sql.join(ORDER_COLUMN_NAMES.map(column))}, now() >= ${column('expires_at')} AS expired`
}
const ORDER_COLUMNS = orderColumns()

export interface PlaceOrder {
  orderId: string
  buyerId: string
  storeId: string
  /** Distinct books, sorted by book id: rows are locked in this order. */
  lines: readonly { bookId: string; count: number }[]
  timeoutS: number
  maxTotal: number
  /** When given, the order is placed only if this session token (hashed) is live and the buyer's. */
  tokenHash?: Buffer | undefined
}

export type PlaceResult =
  | { ok: true; total: number }
  | {
      ok: false
      /** The token was given and is not a live session of the buyer (nothing else was checked). */
      unauthorized: boolean
      buyerOpen: boolean
      storeOpen: boolean
      /** The first book of the order that the store does not list. */
      missing: string | undefined
      /** The first book with too few copies. */
      short: string | undefined
    }

/**
 * Places an unpaid order in one statement, all or nothing: checks the session (when a token is
 * given) and that buyer and store are open, locks the order's listings in book-id order (concurrent
 * orders over the same books queue instead of deadlocking), and only if every line has the copies
 * and the total is within bounds, takes them out of stock, counts them as sold and inserts the order
 * and its lines with titles and prices as they are now. Otherwise it writes nothing and says why.
 * Being one statement, it needs no transaction around it; its text never changes, so it is prepared
 * once per connection (place_order). Its parameters are numbered in the order the steps use them.
 */
export async function placeOrder(q: Queryable, p: PlaceOrder): Promise<PlaceResult> {
  // Each of these is used by several steps: one parameter each.
  const tokenHash = sql.bind(p.tokenHash ?? null)
  const buyerId = sql.bind(p.buyerId)
  const storeId = sql.bind(p.storeId)
  const bookIds = sql.bind(p.lines.map((l) => l.bookId))
  const maxTotal = sql.bind(p.maxTotal)
  const r = await query<{
    authed: boolean
    buyer_open: boolean
    store_open: boolean
    missing: string | null
    short: string | null
    total: string | null
    created: boolean
  }>(
    q,
    sql`WITH session_ok AS (
       -- Without a token the caller has been checked already; with one, it must be a live session of
       -- the buyer, or nothing else is looked at (a stranger learns nothing about buyer or store).
       SELECT ${tokenHash}::bytea IS NULL OR EXISTS (SELECT 1 FROM sessions WHERE ${liveSession(tokenHash, buyerId)}) AS ok
     ), buyer_open AS (
       -- A closed account places no orders.
       SELECT 1 FROM users b WHERE b.user_id = ${buyerId} AND b.closed_at IS NULL AND (SELECT ok FROM session_ok)
     ), store_open AS (
       -- Nor does anyone buy from a store whose owner closed their account.
       SELECT s.store_id FROM stores s JOIN users owner ON owner.user_id = s.owner_id
        WHERE s.store_id = ${storeId} AND owner.closed_at IS NULL AND EXISTS (SELECT 1 FROM buyer_open)
     ), wanted_lines AS (
       -- The order's lines, numbered as given (book-id order): the first missing or short book
       -- reported is the first in that order.
       SELECT * FROM unnest(${bookIds}::text[], ${p.lines.map((l) => l.count)}::int[]) WITH ORDINALITY
           AS w(book_id, count, n)
     ), locked_listings AS MATERIALIZED (
       -- Locked in book-id order (as releaseStock locks them): concurrent orders queue, never deadlock.
       SELECT l.book_id, l.stock_level, l.title, l.price FROM listings l
        WHERE l.store_id = (SELECT store_id FROM store_open) AND l.book_id = ANY (${bookIds}::text[])
        ORDER BY l.book_id FOR UPDATE
     ), order_check AS (
       -- What the locked rows say: how many lines have their copies, the total, and the first book
       -- the store does not list or has too few of (for the error the caller returns).
       SELECT count(k.book_id) FILTER (WHERE k.stock_level >= w.count)::int AS ready,
              coalesce(sum(k.price * w.count), 0) AS total,
              (array_agg(w.book_id ORDER BY w.n) FILTER (WHERE k.book_id IS NULL))[1] AS missing,
              (array_agg(w.book_id ORDER BY w.n) FILTER (WHERE k.stock_level < w.count))[1] AS short
         FROM wanted_lines w LEFT JOIN locked_listings k ON k.book_id = w.book_id
     ), placeable AS (
       -- One row when every line can be served and the total is within bounds: the writes below
       -- happen only then (all or nothing).
       SELECT total FROM order_check WHERE ready = cardinality(${bookIds}::text[]) AND total <= ${maxTotal}
     ), stock_taken AS (
       -- The copies leave the shelf (the row is locked and checked above; the guard here repeats it).
       UPDATE listings l SET stock_level = l.stock_level - w.count
         FROM wanted_lines w WHERE EXISTS (SELECT 1 FROM placeable)
          AND l.store_id = (SELECT store_id FROM store_open) AND l.book_id = ANY (${bookIds}::text[])
          AND l.book_id = w.book_id AND l.stock_level >= w.count
       RETURNING l.book_id
     ), sales_counted AS (
       -- The sales count lives in its own table (hot rows apart from the listings, migration 005).
       UPDATE listing_sales s SET sales = s.sales + w.count
         FROM wanted_lines w WHERE EXISTS (SELECT 1 FROM placeable)
          AND s.store_id = (SELECT store_id FROM store_open) AND s.book_id = ANY (${bookIds}::text[])
          AND s.book_id = w.book_id
     ), new_order AS (
       -- Unpaid, with the deadline by which it must be paid or it is cancelled by the sweep.
       INSERT INTO orders (order_id, buyer_id, store_id, total_price, expires_at)
       SELECT ${p.orderId}, ${buyerId}, ${storeId}, placeable.total::bigint, now() + make_interval(secs => ${p.timeoutS})
         FROM placeable
       RETURNING order_id
     ), new_items AS (
       -- Titles and prices as they are now: the order keeps them whatever the listing later becomes.
       INSERT INTO order_items (order_id, book_id, title, count, price)
       SELECT o.order_id, k.book_id, k.title, w.count, k.price
         FROM new_order o, locked_listings k JOIN wanted_lines w ON w.book_id = k.book_id
     )
     SELECT (SELECT ok FROM session_ok) AS authed, EXISTS (SELECT 1 FROM buyer_open) AS buyer_open,
            EXISTS (SELECT 1 FROM store_open) AS store_open, c.missing, c.short,
            CASE WHEN c.total <= ${maxTotal} THEN c.total::text END AS total,
            EXISTS (SELECT 1 FROM new_order) AS created,
            -- The stock was taken from every line, or the statement is undone and sent again (BS001).
            bookstore_assert(NOT EXISTS (SELECT 1 FROM placeable)
                               OR (SELECT count(*) FROM stock_taken) = cardinality(${bookIds}::text[]),
                             'order half placed') AS whole
       FROM order_check c`,
    { name: 'place_order' },
  )
  const row = r.rows[0]
  if (row?.created) return { ok: true, total: Number(row.total) }
  return {
    ok: false,
    unauthorized: row?.authed === false,
    buyerOpen: row?.buyer_open === true,
    storeOpen: row?.store_open === true,
    missing: row?.missing ?? undefined,
    short: row?.short ?? undefined,
  }
}

export type PayResult =
  | { ok: true; total: number }
  /** refused: not payable or not enough money; the caller looks at the order to tell which. */
  | { ok: false; reason: 'not_verified' | 'refused' }

/**
 * Pays an order in one statement, all or nothing: locks the order if it is unpaid and not past its
 * deadline, debits the buyer if the balance covers the total (the guard is checked on the row being
 * updated), marks the order paid and writes the ledger entry. With storedHash, the debit happens
 * only if that is still the buyer's password hash and the account is open (a password verified a
 * moment ago, see VerifiedCache); when the account does not pass, it reports not_verified.
 * Debit and status change are asserted to happen together: if they ever did not, the statement
 * fails as a whole and is sent again. Being one statement, it needs no transaction around it.
 */
export async function payOrder(
  q: Queryable,
  orderId: string,
  buyerId: string,
  storedHash?: string,
): Promise<PayResult> {
  const r = await q.query<{ verified: boolean; total: number | null }>(
    `WITH p AS MATERIALIZED (
       SELECT order_id, total_price FROM orders
        WHERE order_id = $1 AND buyer_id = $2 AND status = 'unpaid' AND expires_at > now()
          FOR UPDATE
     ), u AS (
       UPDATE users SET balance = users.balance - p.total_price FROM p
        WHERE users.user_id = $2 AND users.balance >= p.total_price
          AND ($3::text IS NULL OR (users.password_hash = $3 AND users.closed_at IS NULL))
       RETURNING p.order_id
     ), o AS (
       UPDATE orders SET status = 'paid', paid_at = now()
        WHERE order_id = (SELECT order_id FROM u) AND status = 'unpaid'
       RETURNING order_id, total_price
     ), l AS (
       INSERT INTO ledger (user_id, order_id, kind, amount)
       SELECT $2, o.order_id, 'payment', -o.total_price FROM o
     )
     SELECT EXISTS (SELECT 1 FROM users
                     WHERE user_id = $2 AND ($3::text IS NULL OR (password_hash = $3 AND closed_at IS NULL)))
              AS verified,
            (SELECT total_price FROM o) AS total,
            bookstore_assert((SELECT count(*) FROM u) = (SELECT count(*) FROM o), 'payment half done') AS whole`,
    [orderId, buyerId, storedHash ?? null],
    { name: 'pay_order' },
  )
  const row = r.rows[0]
  if (row?.total != null) return { ok: true, total: row.total }
  if (!row?.verified) return { ok: false, reason: 'not_verified' }
  return { ok: false, reason: 'refused' }
}

/** The order with the owner of its store (who may ship, refuse, and is paid on receipt). */
export interface OrderWithOwner extends OrderRow {
  seller_id: string
}

export async function findOrderWithOwner(q: Queryable, orderId: string): Promise<OrderWithOwner | undefined> {
  const r = await query<OrderWithOwner>(
    q,
    sql`SELECT ${ORDER_COLUMNS}, (SELECT owner_id FROM stores s WHERE s.store_id = orders.store_id) AS seller_id
       FROM orders WHERE order_id = ${orderId}`,
  )
  return r.rows[0]
}

/** paid → shipped, by the owner of the order's store: one guarded update. */
export async function shipOrder(q: Queryable, orderId: string, sellerId: string): Promise<boolean> {
  const r = await q.query(
    `UPDATE orders SET status = 'shipped', shipped_at = now()
      WHERE order_id = $1 AND status = 'paid'
        AND store_id IN (SELECT store_id FROM stores WHERE owner_id = $2)`,
    [orderId, sellerId],
  )
  return r.rowCount === 1
}

/** Who is receiving: the buyer of one order, or the sweep (shipped longer ago than afterS seconds). */
export type ReceiveGuard = { by: 'buyer'; buyerId: string } | { by: 'auto'; afterS: number }

/**
 * shipped → received for the given orders, in one statement: the guarded status change, the release
 * of each order's escrow to the owner of its store, and a 'release' ledger row per order.
 * Returns the orders that changed (the others were not shipped, or not the caller's).
 */
export async function receiveOrders(
  q: Queryable,
  orderIds: readonly string[],
  guard: ReceiveGuard,
): Promise<string[]> {
  const condition =
    guard.by === 'buyer'
      ? sql`buyer_id = ${guard.buyerId}`
      : sql`shipped_at <= now() - make_interval(secs => ${guard.afterS})`
  const r = await query<{ order_id: string }>(
    q,
    sql`WITH o AS (
       UPDATE orders SET status = 'received', received_at = now()
        WHERE order_id = ANY(${orderIds}::text[]) AND status = 'shipped' AND ${condition}
       RETURNING order_id, store_id, total_price
     ), p AS (
       SELECT o.order_id, s.owner_id, o.total_price FROM o JOIN stores s ON s.store_id = o.store_id
     ), u AS (
       UPDATE users SET balance = users.balance + t.amount
         FROM (SELECT owner_id, sum(total_price)::bigint AS amount FROM p GROUP BY owner_id) t
        WHERE users.user_id = t.owner_id
       RETURNING users.user_id
     ), l AS (
       INSERT INTO ledger (user_id, order_id, kind, amount)
       SELECT owner_id, order_id, 'release', total_price FROM p
     )
     SELECT order_id FROM o`,
  )
  return r.rows.map((x) => x.order_id)
}

export type CancelReason = NonNullable<ApiOrder['cancel_reason']>

/**
 * Who is cancelling: the buyer, the owner of the store (both only before shipping, and an unpaid
 * order only before its deadline), or the expiry sweep (unpaid orders past their deadline).
 */
export type CancelGuard =
  | { by: 'buyer'; userId: string }
  | { by: 'seller'; userId: string }
  | { by: 'timeout' }

/** Not shipped yet, and an unpaid order only before its deadline. */
const OPEN = sql`(status = 'paid' OR (status = 'unpaid' AND expires_at > now()))`
/** The orders `guard` may cancel. */
const cancellable = (guard: CancelGuard): Sql =>
  guard.by === 'buyer'
    ? sql`buyer_id = ${guard.userId} AND ${OPEN}`
    : guard.by === 'seller'
      ? sql`store_id IN (SELECT store_id FROM stores WHERE owner_id = ${guard.userId}) AND ${OPEN}`
      : sql`status = 'unpaid' AND expires_at <= now()`

export interface CancelledOrder {
  order_id: string
  buyer_id: string
  total_price: number
  refunded: boolean
}

/**
 * Cancels the given orders in one statement: the guarded status change, the full refund of every
 * paid one to its buyer, and a 'refund' ledger row per paid order. Stock is released by the caller
 * (releaseStock) in the same transaction. Returns the orders that changed.
 */
export async function cancelOrders(
  tx: Tx,
  orderIds: readonly string[],
  guard: CancelGuard,
): Promise<CancelledOrder[]> {
  const reason: CancelReason = guard.by
  const r = await query<CancelledOrder>(
    tx,
    sql`WITH o AS (
       UPDATE orders SET status = 'cancelled', cancel_reason = ${reason}, cancelled_at = now()
        WHERE order_id = ANY(${orderIds}::text[]) AND ${cancellable(guard)}
       RETURNING order_id, buyer_id, total_price, paid_at IS NOT NULL AS refunded
     ), u AS (
       UPDATE users SET balance = users.balance + t.amount
         FROM (SELECT buyer_id, sum(total_price)::bigint AS amount FROM o WHERE refunded GROUP BY buyer_id) t
        WHERE users.user_id = t.buyer_id
       RETURNING users.user_id
     ), l AS (
       INSERT INTO ledger (user_id, order_id, kind, amount)
       SELECT buyer_id, order_id, 'refund', total_price FROM o WHERE refunded
     )
     SELECT order_id, buyer_id, total_price, refunded FROM o`,
  )
  return r.rows
}

/**
 * Puts the copies of cancelled orders back on the shelf and takes them off the sales count, in one
 * statement. The listings are locked in (store_id, book_id) order first, the order new_order
 * reserves them in, so concurrent orders and cancels cannot deadlock.
 */
export async function releaseStock(tx: Tx, orderIds: readonly string[]): Promise<void> {
  if (orderIds.length === 0) return
  await tx.query(
    `WITH w AS (
       SELECT o.store_id, i.book_id, sum(i.count)::bigint AS count
         FROM orders o JOIN order_items i ON i.order_id = o.order_id
        WHERE o.order_id = ANY($1::text[])
        GROUP BY o.store_id, i.book_id
     ), x AS MATERIALIZED (
       SELECT k.store_id, k.book_id, w.count
         FROM listings k JOIN w ON w.store_id = k.store_id AND w.book_id = k.book_id
        ORDER BY k.store_id, k.book_id
          FOR UPDATE OF k
     ), back AS (
       UPDATE listings l SET stock_level = LEAST(l.stock_level + x.count, 2147483647)
         FROM x WHERE l.store_id = x.store_id AND l.book_id = x.book_id
     )
     -- The listing rows are locked (x) before their sales rows are touched, as in new_order.
     UPDATE listing_sales s SET sales = s.sales - x.count
       FROM x WHERE s.store_id = x.store_id AND s.book_id = x.book_id`,
    [orderIds],
  )
}

/**
 * Locks, in user id order, the users whose balances a batch is about to change (the buyers or the
 * store owners of the orders), so that two batches never wait on each other crosswise.
 */
export async function lockUsersOf(
  tx: Tx,
  orderIds: readonly string[],
  role: 'buyer' | 'seller',
): Promise<void> {
  const users =
    role === 'buyer'
      ? 'SELECT buyer_id FROM orders WHERE order_id = ANY($1::text[])'
      : `SELECT s.owner_id FROM orders o JOIN stores s ON s.store_id = o.store_id WHERE o.order_id = ANY($1::text[])`
  await tx.query(`SELECT 1 FROM users WHERE user_id IN (${users}) ORDER BY user_id FOR UPDATE`, [orderIds])
}

/**
 * Takes up to `limit` orders that are due for a sweep and not being handled by anyone else (rows
 * another transaction holds are skipped), and keeps them locked until the transaction ends.
 */
export async function claimDueOrders(
  tx: Tx,
  what: { kind: 'expired' } | { kind: 'auto_receive'; afterS: number },
  limit: number,
): Promise<string[]> {
  const r =
    what.kind === 'expired'
      ? await tx.query<{ order_id: string }>(
          `SELECT order_id FROM orders WHERE status = 'unpaid' AND expires_at <= now()
            ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
          [limit],
        )
      : await tx.query<{ order_id: string }>(
          `SELECT order_id FROM orders
            WHERE status = 'shipped' AND shipped_at <= now() - make_interval(secs => $2)
            ORDER BY shipped_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
          [limit, what.afterS],
        )
  return r.rows.map((x) => x.order_id)
}

/**
 * The open orders (unpaid or paid, not shipped) a user has as buyer and in the stores they own,
 * locked in order id order until the transaction ends.
 */
export async function openOrdersOf(
  tx: Tx,
  userId: string,
): Promise<{ asBuyer: string[]; asSeller: string[] }> {
  const r = await tx.query<{ order_id: string; as_buyer: boolean }>(
    `SELECT order_id, buyer_id = $1 AS as_buyer FROM orders
      WHERE status IN ('unpaid', 'paid')
        AND (buyer_id = $1 OR store_id IN (SELECT store_id FROM stores WHERE owner_id = $1))
      ORDER BY order_id FOR UPDATE`,
    [userId],
  )
  return {
    asBuyer: r.rows.filter((x) => x.as_buyer).map((x) => x.order_id),
    asSeller: r.rows.filter((x) => !x.as_buyer).map((x) => x.order_id),
  }
}

export interface OrderItemRow {
  order_id: string
  book_id: string
  title: string
  count: number
  price: number
}

export async function itemsOf(q: Queryable, orderIds: readonly string[]): Promise<OrderItemRow[]> {
  if (orderIds.length === 0) return []
  const r = await q.query<OrderItemRow>(
    `SELECT order_id, book_id, title, count, price FROM order_items
      WHERE order_id = ANY($1::text[]) ORDER BY order_id, book_id`,
    [orderIds],
  )
  return r.rows
}

export interface Page {
  status: OrderStatus | undefined
  limit: number
  offset: number
}

/** A buyer's orders, newest first, one page, and how many there are in all (same filter). */
export async function listBuyerOrders(
  q: Queryable,
  buyerId: string,
  page: Page,
): Promise<{ rows: OrderRow[]; total: number }> {
  const which = sql`buyer_id = ${buyerId} ${page.status ? sql`AND status = ${page.status}` : sql.empty}`
  const count = await query<{ total: number }>(
    q,
    sql`SELECT count(*)::int AS total FROM orders WHERE ${which}`,
  )
  const rows = await query<OrderRow>(
    q,
    sql`SELECT ${ORDER_COLUMNS} FROM orders WHERE ${which}
      ORDER BY created_at DESC, order_id LIMIT ${page.limit} OFFSET ${page.offset}`,
  )
  return { rows: rows.rows, total: count.rows[0]?.total ?? 0 }
}

/**
 * Orders of the stores a seller owns (or of one of them), newest first, one page, with the total.
 * Each store's list comes from its own index range, at most offset + limit rows per store, and the
 * lists are merged.
 */
export async function listSellerOrders(
  q: Queryable,
  sellerId: string,
  storeId: string | undefined,
  page: Page,
): Promise<{ rows: OrderRow[]; total: number }> {
  const stores = sql`s.owner_id = ${sellerId} ${storeId === undefined ? sql.empty : sql`AND s.store_id = ${storeId}`}`
  // The status is compared in each store's list; the page's bounds cut both the lists and the merge.
  const status = page.status ? sql`AND o.status = ${page.status}` : sql.empty
  const limit = sql.bind(page.limit)
  const offset = sql.bind(page.offset)
  const count = await query<{ total: number }>(
    q,
    sql`SELECT count(*)::int AS total FROM orders o
      WHERE o.store_id IN (SELECT s.store_id FROM stores s WHERE ${stores}) ${status}`,
  )
  const rows = await query<OrderRow>(
    q,
    sql`SELECT ${orderColumns('o')}
       FROM stores s CROSS JOIN LATERAL (
         SELECT * FROM orders o WHERE o.store_id = s.store_id ${status}
          ORDER BY o.created_at DESC, o.order_id LIMIT ${limit}::bigint + ${offset}::bigint
       ) o
      WHERE ${stores}
      ORDER BY o.created_at DESC, o.order_id LIMIT ${limit} OFFSET ${offset}`,
  )
  return { rows: rows.rows, total: count.rows[0]?.total ?? 0 }
}
