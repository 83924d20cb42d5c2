import { type ApiOrder, OrderStatus as OrderStatusSchema } from '../api/orders.ts'
import type { Queryable, Tx } from '../db/db.ts'
import { query, type Sql, sql } from '../db/sql.ts'

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

/** Why an order was refused, as placeOrders reports it. */
export type PlaceRefusal = Extract<PlaceResult, { ok: false }>

/**
 * Places a batch of orders in one call (place_orders, migration 015), each all or nothing on its own,
 * and answers each exactly as if they had been placed one after another in the given order: checks
 * the session (when a token is given) and that buyer and store are open, locks every listing the
 * batch takes from in (store_id, book_id) order (concurrent batches, lone orders and cancels queue
 * instead of deadlocking), and places an order only if every line has the copies the orders before
 * it left and its total is within bounds: its copies leave the shelf, are counted as sold, and the
 * order and its lines are inserted with titles and prices as they are now. A refused order has
 * written nothing and says why. Being one statement, it needs no transaction around it; its text
 * never changes, so it is prepared once per connection (place_orders).
 */
export async function placeOrders(q: Queryable, batch: readonly PlaceOrder[]): Promise<PlaceResult[]> {
  const lineOrders: number[] = []
  const lineBooks: string[] = []
  const lineCounts: number[] = []
  batch.forEach((p, i) => {
    for (const l of p.lines) {
      lineOrders.push(i + 1)
      lineBooks.push(l.bookId)
      lineCounts.push(l.count)
    }
  })
  // One deadline and one bound for the whole batch: every order of an app has the same.
  const first = batch[0]
  if (first === undefined) return []
  const r = await q.query<{
    authed: boolean
    buyer_open: boolean
    store_open: boolean
    missing: string | null
    short: string | null
    total: string | null
    created: boolean
  }>(
    `SELECT authed, buyer_open, store_open, missing, short, total::text AS total, created
       FROM place_orders($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::int[],
                         $8::float8, $9::numeric)`,
    [
      batch.map((p) => p.orderId),
      batch.map((p) => p.buyerId),
      batch.map((p) => p.storeId),
      batch.map((p) => p.tokenHash?.toString('hex') ?? null),
      lineOrders,
      lineBooks,
      lineCounts,
      first.timeoutS,
      first.maxTotal,
    ],
    { name: 'place_orders' },
  )
  return batch.map((_, i): PlaceResult => {
    const row = r.rows[i]
    if (row?.created) return { ok: true, total: Number(row.total) }
    return {
      ok: false,
      unauthorized: row?.authed === false,
      buyerOpen: row?.buyer_open === true,
      storeOpen: row?.store_open === true,
      missing: row?.missing ?? undefined,
      short: row?.short ?? undefined,
    }
  })
}

/** Places one order (see placeOrders). */
export async function placeOrder(q: Queryable, p: PlaceOrder): Promise<PlaceResult> {
  const [placed] = await placeOrders(q, [p])
  if (placed === undefined) throw new Error('place_orders answered no row')
  return placed
}

export type PayResult =
  | { ok: true; total: number }
  /** refused: not payable or not enough money; the caller looks at the order to tell which. */
  | { ok: false; reason: 'not_verified' | 'refused' }

export interface PayOrder {
  orderId: string
  buyerId: string
  /** The buyer's password hash as verified a moment ago (see VerifiedCache); absent: checked already. */
  storedHash?: string | undefined
}

/**
 * Pays a batch of orders in one call (pay_orders, migration 015), each all or nothing on its own and
 * answered as if paid one after another in the given order: locks the orders that are unpaid and not
 * past their deadline (order-id order), then their buyers (user-id order), and pays each whose
 * buyer's balance, less the payments before it, covers the total: the debit (guarded again on the
 * row being updated), the status change and the ledger row. With storedHash, a payment happens only
 * if that is still the buyer's password hash and the account is open; when the account does not
 * pass, it reports not_verified. The call asserts that every debit and status change happened
 * together: if they ever did not, it fails as a whole and is sent again.
 */
export async function payOrders(q: Queryable, batch: readonly PayOrder[]): Promise<PayResult[]> {
  if (batch.length === 0) return []
  const r = await q.query<{ verified: boolean; total: number | null }>(
    'SELECT verified, total FROM pay_orders($1::text[], $2::text[], $3::text[])',
    [batch.map((p) => p.orderId), batch.map((p) => p.buyerId), batch.map((p) => p.storedHash ?? null)],
    { name: 'pay_orders' },
  )
  return batch.map((_, i): PayResult => {
    const row = r.rows[i]
    if (row?.total != null) return { ok: true, total: row.total }
    if (!row?.verified) return { ok: false, reason: 'not_verified' }
    return { ok: false, reason: 'refused' }
  })
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

/** Every status the API knows (from its schema): a history without a filter merges them all. */
const ALL_STATUSES: readonly OrderStatus[] = OrderStatusSchema.anyOf.map((s) => s.const)

/**
 * A buyer's orders, newest first, one page, and how many there are in all (same filter).
 * The page is merged from one index range of orders_buyer_status per status asked for (at most
 * offset + limit rows from each, via a LATERAL subquery), so a page with or without a status filter
 * is read by index scans that stop after it (migration 013).
 */
export async function listBuyerOrders(
  q: Queryable,
  buyerId: string,
  page: Page,
): Promise<{ rows: OrderRow[]; total: number }> {
  // Each status has its own index range ((buyer_id, status, created_at DESC, order_id)): one short scan
  // per status, each stopping after the page, merged (migration 013 dropped the index without status).
  const statuses = sql.bind(page.status ? [page.status] : ALL_STATUSES)
  const limit = sql.bind(page.limit)
  const offset = sql.bind(page.offset)
  const count = await query<{ total: number }>(
    q,
    sql`SELECT count(*)::int AS total FROM orders WHERE buyer_id = ${buyerId} AND status = ANY (${statuses}::text[])`,
  )
  const rows = await query<OrderRow>(
    q,
    sql`SELECT ${orderColumns('o')}
       FROM unnest(${statuses}::text[]) AS st(status) CROSS JOIN LATERAL (
         SELECT * FROM orders o WHERE o.buyer_id = ${buyerId} AND o.status = st.status
          ORDER BY o.created_at DESC, o.order_id LIMIT ${limit}::bigint + ${offset}::bigint
       ) o
      ORDER BY o.created_at DESC, o.order_id LIMIT ${limit} OFFSET ${offset}`,
  )
  return { rows: rows.rows, total: count.rows[0]?.total ?? 0 }
}

/**
 * Orders of the stores a seller owns (or of one of them), newest first, one page, with the total.
 * Each store's list in each status asked for comes from its own range of orders_store_status, at
 * most offset + limit rows per store and status, and the lists are merged.
 */
export async function listSellerOrders(
  q: Queryable,
  sellerId: string,
  storeId: string | undefined,
  page: Page,
): Promise<{ rows: OrderRow[]; total: number }> {
  const stores = sql`s.owner_id = ${sellerId} ${storeId === undefined ? sql.empty : sql`AND s.store_id = ${storeId}`}`
  // Each store's orders of each status are one index range ((store_id, status, created_at DESC,
  // order_id)); the page's bounds cut every range and the merge.
  const statuses = sql.bind(page.status ? [page.status] : ALL_STATUSES)
  const limit = sql.bind(page.limit)
  const offset = sql.bind(page.offset)
  const count = await query<{ total: number }>(
    q,
    sql`SELECT count(*)::int AS total FROM orders o
      WHERE o.store_id IN (SELECT s.store_id FROM stores s WHERE ${stores}) AND o.status = ANY (${statuses}::text[])`,
  )
  const rows = await query<OrderRow>(
    q,
    sql`SELECT ${orderColumns('o')}
       FROM stores s CROSS JOIN unnest(${statuses}::text[]) AS st(status) CROSS JOIN LATERAL (
         SELECT * FROM orders o WHERE o.store_id = s.store_id AND o.status = st.status
          ORDER BY o.created_at DESC, o.order_id LIMIT ${limit}::bigint + ${offset}::bigint
       ) o
      WHERE ${stores}
      ORDER BY o.created_at DESC, o.order_id LIMIT ${limit} OFFSET ${offset}`,
  )
  return { rows: rows.rows, total: count.rows[0]?.total ?? 0 }
}
