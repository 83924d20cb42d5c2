/**
 * Test harness: each test file builds the real app on a fresh database with the real migrations —
 * an in-memory PGlite, or, when DATABASE_URL is set, a fresh schema on that PostgreSQL server —
 * and calls it with app.inject.
 */
import { randomBytes } from 'node:crypto'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { buildApp } from '../../src/app.ts'
import { type Config, DEFAULTS } from '../../src/config.ts'
import type { Db } from '../../src/db/db.ts'
import { loadMigrations, type Migration, migrate } from '../../src/db/migrate.ts'
import { openPglite } from '../../src/db/pglite.ts'
import { openPostgres } from '../../src/db/postgres.ts'
import { brokenInvariants, MONEY_INVARIANTS, ORDER_INVARIANTS } from '../../tools/shared/invariants.ts'
import { bodies } from './factories.ts'

export const DATABASE_URL = process.env.DATABASE_URL || undefined
export const ENGINE = DATABASE_URL ? 'postgres' : 'pglite'

export const TEST_CONFIG: Config = {
  ...DEFAULTS,
  logLevel: 'silent',
  // Real argon2id, at a lower memory cost so that hundreds of sign-ups stay fast.
  passwordMemoryKiB: 1024,
}

export interface TestDb {
  db: Db
  /** Drops what the test created. */
  dispose(): Promise<void>
}

/** A fresh database of the engine under test, migrated (by the given migrations, else all). */
export async function freshDb(opts: { poolSize?: number; migrations?: Migration[] } = {}): Promise<TestDb> {
  const migrations = opts.migrations ?? loadMigrations()
  if (!DATABASE_URL) {
    const db = await openPglite()
    await migrate(db, migrations)
    return { db, dispose: () => db.close() }
  }
  const schema = `t_${randomBytes(6).toString('hex')}`
  const admin = await openPostgres(DATABASE_URL, { max: 1 })
  await admin.exec(`CREATE SCHEMA ${schema}`)
  const db = await openPostgres(DATABASE_URL, { schema, max: opts.poolSize ?? 10 })
  await migrate(db, migrations)
  return {
    db,
    async dispose() {
      await db.close()
      await admin.exec(`DROP SCHEMA ${schema} CASCADE`)
      await admin.close()
    },
  }
}

export interface TestApp {
  app: FastifyInstance
  db: Db
  config: Config
  close(): Promise<void>
}

export async function startApp(
  overrides: Partial<Config> = {},
  opts: { poolSize?: number } = {},
): Promise<TestApp> {
  const t = await freshDb(opts)
  const config = { ...TEST_CONFIG, ...overrides }
  const app = await buildApp({ config, db: t.db, logger: false })
  await app.ready()
  return {
    app,
    db: t.db,
    config,
    async close() {
      await app.close()
      await t.dispose()
    },
  }
}

export interface Reply {
  status: number
  body: Record<string, unknown> & { message: string }
}

/** A JSON request, as the course clients send it. */
export async function call(
  app: FastifyInstance,
  method: InjectOptions['method'],
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const res = await app.inject({
    method,
    url,
    headers,
    ...(body === undefined ? {} : { payload: body as object }),
  })
  return { status: res.statusCode, body: res.json() }
}

export const post = (app: FastifyInstance, url: string, body: unknown, token?: string) =>
  call(app, 'POST', url, body, token ? { token } : {})

let seq = 0
/** A unique id for this test process. */
export function uid(prefix: string): string {
  seq += 1
  return `${prefix}_${process.pid}_${seq}_${randomBytes(3).toString('hex')}`
}

export interface User {
  userId: string
  password: string
  token: string
}

export async function newUser(app: FastifyInstance, prefix = 'user'): Promise<User> {
  const userId = uid(prefix)
  const password = `pw-${userId}`
  const r1 = await post(app, '/auth/register', bodies.register(userId, password))
  if (r1.status !== 200) throw new Error(`register failed: ${JSON.stringify(r1)}`)
  const r2 = await post(app, '/auth/login', bodies.login({ userId, password }))
  if (r2.status !== 200) throw new Error(`login failed: ${JSON.stringify(r2)}`)
  return { userId, password, token: r2.body.token as string }
}

export function bookInfo(id: string, price = 1000, extra: Record<string, unknown> = {}) {
  return { id, title: `Title of ${id}`, price, ...extra }
}

export interface Shop {
  seller: User
  storeId: string
  bookIds: string[]
}

/** A seller's new store (named, or a fresh id). */
export async function newStore(app: FastifyInstance, seller: User, storeId = uid('store')): Promise<string> {
  const r = await post(app, '/seller/create_store', bodies.createStore(seller, storeId), seller.token)
  if (r.status !== 200) throw new Error(`create_store failed: ${JSON.stringify(r)}`)
  return storeId
}

/** Lists one book (any book_info) in a seller's store. */
export async function addBook(
  app: FastifyInstance,
  seller: User,
  storeId: string,
  info: Record<string, unknown>,
  stock = 10,
): Promise<void> {
  const r = await post(app, '/seller/add_book', bodies.addBook(seller, storeId, info, stock), seller.token)
  if (r.status !== 200) throw new Error(`add_book failed: ${JSON.stringify(r)}`)
}

/** A seller with one store listing `books` books (price 100·(i+1) cents each, `stock` copies each). */
export async function newShop(app: FastifyInstance, books = 3, stock = 10): Promise<Shop> {
  const seller = await newUser(app, 'seller')
  const storeId = await newStore(app, seller)
  const bookIds: string[] = []
  for (let i = 0; i < books; i++) {
    const id = uid('book')
    await addBook(app, seller, storeId, bookInfo(id, 100 * (i + 1)), stock)
    bookIds.push(id)
  }
  return { seller, storeId, bookIds }
}

export async function balanceOf(db: Db, userId: string): Promise<number> {
  const r = await db.query<{ balance: number }>('SELECT balance FROM users WHERE user_id = $1', [userId])
  if (!r.rows[0]) throw new Error(`no user ${userId}`)
  return r.rows[0].balance
}

export async function stockOf(db: Db, storeId: string, bookId: string): Promise<number> {
  const r = await db.query<{ stock_level: number }>(
    'SELECT stock_level FROM listings WHERE store_id = $1 AND book_id = $2',
    [storeId, bookId],
  )
  if (!r.rows[0]) throw new Error(`no listing ${storeId}/${bookId}`)
  return r.rows[0].stock_level
}

export async function orderStatus(db: Db, orderId: string): Promise<string | undefined> {
  const r = await db.query<{ status: string }>('SELECT status FROM orders WHERE order_id = $1', [orderId])
  return r.rows[0]?.status
}

/** Money is conserved: balances + escrow of paid and shipped orders = deposits − withdrawals; each balance = its ledger. */
export async function assertMoneyInvariants(db: Db): Promise<void> {
  const broken = await brokenInvariants(db, MONEY_INVARIANTS)
  if (broken.length > 0) throw new Error(`money invariant broken: ${broken.join(', ')}`)
}

/** Rows of any query, for asserting the state a request left behind. */
export async function rowsOf<T = Record<string, unknown>>(
  db: Db,
  sql: string,
  params: readonly unknown[] = [],
): Promise<T[]> {
  return (await db.query<T>(sql, params)).rows
}

export const login = (app: FastifyInstance, userId: string, password: string, terminal = 'test terminal') =>
  post(app, '/auth/login', bodies.login({ userId, password }, terminal))

export async function sessionCount(db: Db, userId: string): Promise<number> {
  const r = await rowsOf<{ n: number }>(db, 'SELECT count(*)::int AS n FROM sessions WHERE user_id = $1', [
    userId,
  ])
  return r[0]?.n ?? 0
}

export async function countRows(db: Db, table: string): Promise<number> {
  const r = await rowsOf<{ n: number }>(db, `SELECT count(*)::int AS n FROM ${table}`)
  return r[0]?.n ?? 0
}

/** A request whose body is sent byte for byte as given (malformed JSON, odd content types). */
export async function rawPost(
  app: FastifyInstance,
  url: string,
  payload: string | Buffer,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): Promise<Reply> {
  const res = await app.inject({ method: 'POST', url, headers, payload })
  return { status: res.statusCode, body: res.json() }
}

/** Adds money to a user's balance through the API. */
export async function addFunds(app: FastifyInstance, user: User, amount: number): Promise<void> {
  const r = await post(app, '/buyer/add_funds', bodies.addFunds(user, amount))
  if (r.status !== 200) throw new Error(`add_funds failed: ${JSON.stringify(r)}`)
}

/** Places an order for `lines` ([index into shop.bookIds, count]); returns its id. */
export async function placeOrder(
  app: FastifyInstance,
  buyer: User,
  shop: Shop,
  lines: [number, number][] = [[0, 1]],
): Promise<string> {
  const books = lines.map(([i, count]) => ({ id: shop.bookIds[i], count }))
  const r = await post(app, '/buyer/new_order', bodies.newOrder(buyer, shop.storeId, books), buyer.token)
  if (r.status !== 200) throw new Error(`new_order failed: ${JSON.stringify(r)}`)
  return r.body.order_id as string
}

export const pay = (app: FastifyInstance, buyer: User, orderId: string) =>
  post(app, '/buyer/payment', bodies.payment(buyer, orderId))

/** A GET with the user's token and query parameters. */
export function get(
  app: FastifyInstance,
  url: string,
  user: User,
  query: Record<string, string | number> = {},
) {
  const qs = new URLSearchParams({
    user_id: user.userId,
    ...Object.fromEntries(Object.entries(query).map(([k, v]) => [k, String(v)])),
  })
  return call(app, 'GET', `${url}?${qs}`, undefined, { token: user.token })
}

/** The ledger rows of a user, oldest first. */
export async function ledgerOf(
  db: Db,
  userId: string,
): Promise<{ kind: string; amount: number; order_id: string | null }[]> {
  const r = await db.query<{ kind: string; amount: number; order_id: string | null }>(
    'SELECT kind, amount, order_id FROM ledger WHERE user_id = $1 ORDER BY entry_id',
    [userId],
  )
  return r.rows
}

export async function salesOf(db: Db, storeId: string, bookId: string): Promise<number> {
  const r = await db.query<{ sales: number }>(
    'SELECT sales FROM listing_sales WHERE store_id = $1 AND book_id = $2',
    [storeId, bookId],
  )
  if (!r.rows[0]) throw new Error(`no listing ${storeId}/${bookId}`)
  return r.rows[0].sales
}

/**
 * Waits until check() holds, polling; fails after `tries` polls (a bound against hanging, not a
 * timing assertion: it is far above what the condition needs).
 */
export async function eventually(check: () => Promise<boolean>, what: string, tries = 600): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`never happened: ${what}`)
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Places an order for books of a store through the API and returns its id (throws unless 200). */
export async function orderBooks(
  app: FastifyInstance,
  buyer: User,
  storeId: string,
  books: { id: string; count: number }[],
): Promise<string> {
  const r = await post(app, '/buyer/new_order', bodies.newOrder(buyer, storeId, books), buyer.token)
  if (r.status !== 200) throw new Error(`new_order failed: ${JSON.stringify(r)}`)
  return r.body.order_id as string
}

/** The tables a request can change, each reduced to one digest of all its rows. */
export const STATE_TABLES = [
  'users',
  'sessions',
  'stores',
  'listings',
  'listing_sales',
  'pictures',
  'listing_pictures',
  'orders',
  'order_items',
  'ledger',
  'reviews',
  'listing_ratings',
  'cart_lines',
] as const

/** A digest per table of everything stored: equal snapshots mean nothing was written. */
export async function snapshotState(db: Db): Promise<Record<string, string>> {
  const columns = STATE_TABLES.map(
    (t) => `(SELECT md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) FROM ${t} x) AS ${t}`,
  )
  const r = await db.query<Record<string, string>>(`SELECT ${columns.join(', ')}`)
  const row = r.rows[0]
  if (!row) throw new Error('no row')
  return row
}

/**
 * Stock and orders are consistent: no negative stock or balance, every order has lines, and its
 * total is the sum of its lines; paid, shipped and received orders have exactly one payment ledger
 * row of their total, unpaid ones none (a cancelled order may have been paid before).
 */
export async function assertOrderInvariants(db: Db): Promise<void> {
  const broken = await brokenInvariants(db, ORDER_INVARIANTS)
  if (broken.length > 0) throw new Error(`order invariant broken: ${broken.join(', ')}`)
}

/** A promise and the function that settles it: lets a test stop a transaction at a chosen point. */
export function signal(): { promise: Promise<void>; fire: () => void } {
  let fire: () => void = () => {}
  const promise = new Promise<void>((resolve) => {
    fire = resolve
  })
  return { promise, fire }
}
