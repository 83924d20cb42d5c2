/**
 * The floor of the order benchmark: the least work a correct shop must do per paid order, on
 * tables of its own, with none of the server's schema (no search structures, sales counts, sessions,
 * expiry, titles on order lines) and no password check. Per order, one transaction: the order's
 * listings locked in book-id order and their stock taken with a guarded decrement, then the order
 * row and its item rows. Per payment, one transaction: a guarded status flip, a guarded balance
 * debit and a ledger row. That is ten round trips per paid order (two BEGIN, six statements, two
 * COMMIT), each statement named so it is planned once per connection, as the server's are.
 *
 * It runs on the same engine and with the same number of connections as the server would (the
 * Db adapters and DB_POOL_SIZE), so `bench --compare` can say how far the server is from what the
 * database itself allows.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Config } from '../../src/config.ts'
import type { Db } from '../../src/db/db.ts'
import { openPgliteThread } from '../../src/db/pglite-worker.ts'
import { openPostgres } from '../../src/db/postgres.ts'
import type { Target } from './orders.ts'

const TABLES = `
  CREATE TABLE users (user_id text PRIMARY KEY, balance bigint NOT NULL DEFAULT 0 CHECK (balance >= 0));
  CREATE TABLE stock (
    store_id text NOT NULL, book_id text NOT NULL,
    level integer NOT NULL CHECK (level >= 0), price bigint NOT NULL,
    PRIMARY KEY (store_id, book_id));
  CREATE TABLE orders (
    order_id text PRIMARY KEY, buyer_id text NOT NULL, store_id text NOT NULL,
    total bigint NOT NULL, status text NOT NULL DEFAULT 'unpaid');
  CREATE TABLE order_items (
    order_id text NOT NULL REFERENCES orders, book_id text NOT NULL,
    count integer NOT NULL, price bigint NOT NULL, PRIMARY KEY (order_id, book_id));
  CREATE TABLE ledger (
    entry_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id text NOT NULL,
    order_id text, amount bigint NOT NULL, kind text NOT NULL);
`

/** Thrown inside a transaction to roll it back when the order or payment cannot be made. */
class Refused extends Error {}

/** The floor's own database: a fresh schema on PostgreSQL, a fresh embedded one otherwise. */
export async function openFloor(config: Config): Promise<{ db: Db; close(): Promise<void> }> {
  if (config.databaseUrl) {
    const schema = `bench_floor_${randomBytes(4).toString('hex')}`
    // The floor's schema replaces any search_path the URL names (the URL's would win over ours).
    const url = new URL(config.databaseUrl)
    url.searchParams.delete('options')
    const admin = await openPostgres(url.toString(), { max: 1 })
    await admin.exec(`CREATE SCHEMA ${schema}`)
    const db = await openPostgres(url.toString(), { max: config.dbPoolSize, schema })
    await db.exec(TABLES)
    return {
      db,
      async close() {
        await db.close()
        await admin.exec(`DROP SCHEMA ${schema} CASCADE`)
        await admin.close()
      },
    }
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'bookstore-floor-'))
  const db = await openPgliteThread(join(dataDir, 'pglite'))
  await db.exec(TABLES)
  return {
    db,
    async close() {
      await db.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** The workload's calls as the floor makes them. Tokens and passwords are accepted, not checked. */
export function floorTarget(db: Db): Target {
  let orders = 0
  const prefix = randomBytes(4).toString('hex')
  return {
    register: async (userId) => void (await db.query('INSERT INTO users (user_id) VALUES ($1)', [userId])),
    login: async () => 'floor',
    addFunds: (userId, _password, value) =>
      db.transaction(async (tx) => {
        await tx.query('UPDATE users SET balance = balance + $2 WHERE user_id = $1', [userId, value])
        await tx.query("INSERT INTO ledger (user_id, amount, kind) VALUES ($1, $2, 'deposit')", [
          userId,
          value,
        ])
      }),
    createStore: async () => {},
    addBook: async (_userId, _token, storeId, book, level) =>
      void (await db.query('INSERT INTO stock (store_id, book_id, level, price) VALUES ($1, $2, $3, $4)', [
        storeId,
        book.id,
        level,
        book.price,
      ])),
    newOrder: async (buyerId, _token, storeId, books) => {
      const lines = [...books].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      const ids = lines.map((l) => l.id)
      const counts = lines.map((l) => l.count)
      const orderId = `${prefix}-${++orders}`
      try {
        return await db.transaction(async (tx) => {
          // Rows are locked in book-id order first, so that concurrent orders queue, never deadlock.
          const taken = await tx.query<{ book_id: string; price: number }>(
            `WITH locked AS (
               SELECT book_id FROM stock WHERE store_id = $1 AND book_id = ANY ($2::text[])
                ORDER BY book_id FOR UPDATE)
             UPDATE stock s SET level = s.level - w.count
               FROM unnest($2::text[], $3::int[]) AS w(book_id, count)
              WHERE s.store_id = $1 AND s.book_id = w.book_id AND s.level >= w.count
                AND s.book_id IN (SELECT book_id FROM locked)
             RETURNING s.book_id, s.price`,
            [storeId, ids, counts],
            { name: 'floor_take_stock' },
          )
          if (taken.rowCount !== lines.length) throw new Refused()
          const price = new Map(taken.rows.map((r) => [r.book_id, Number(r.price)]))
          const prices = ids.map((id) => price.get(id) as number)
          const total = lines.reduce((sum, l, i) => sum + l.count * (prices[i] as number), 0)
          await tx.query(
            'INSERT INTO orders (order_id, buyer_id, store_id, total) VALUES ($1, $2, $3, $4)',
            [orderId, buyerId, storeId, total],
            { name: 'floor_insert_order' },
          )
          await tx.query(
            `INSERT INTO order_items (order_id, book_id, count, price)
             SELECT $1, * FROM unnest($2::text[], $3::int[], $4::bigint[])`,
            [orderId, ids, counts, prices],
            { name: 'floor_insert_items' },
          )
          return orderId
        })
      } catch (err) {
        if (err instanceof Refused) return undefined
        throw err
      }
    },
    payment: async (buyerId, _password, _token, orderId) => {
      try {
        return await db.transaction(async (tx) => {
          const paid = await tx.query<{ total: number }>(
            `UPDATE orders SET status = 'paid' WHERE order_id = $1 AND buyer_id = $2 AND status = 'unpaid'
             RETURNING total`,
            [orderId, buyerId],
            { name: 'floor_mark_paid' },
          )
          const total = paid.rows[0]?.total
          if (total === undefined) throw new Refused()
          const debited = await tx.query(
            'UPDATE users SET balance = balance - $2 WHERE user_id = $1 AND balance >= $2',
            [buyerId, total],
            { name: 'floor_debit' },
          )
          if (debited.rowCount !== 1) throw new Refused()
          await tx.query(
            "INSERT INTO ledger (user_id, order_id, amount, kind) VALUES ($1, $2, $3, 'payment')",
            [buyerId, orderId, -total],
            { name: 'floor_ledger' },
          )
          return true
        })
      } catch (err) {
        if (err instanceof Refused) return false
        throw err
      }
    },
    close: async () => {},
  }
}
