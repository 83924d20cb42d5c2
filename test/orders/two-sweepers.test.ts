/**
 * Two server processes on one PostgreSQL, both sweeping: every due order is handled by exactly one
 * of them. Each app has its own connection pool on the same schema, which is what two processes
 * look like to the database. PGlite is one in-process connection, so there is nothing to show there.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.ts'
import type { Db } from '../../src/db/db.ts'
import { openPostgres } from '../../src/db/postgres.ts'
import { Sweeper } from '../../src/services/sweeper.ts'
import {
  addFunds,
  assertMoneyInvariants,
  balanceOf,
  DATABASE_URL,
  newShop,
  newUser,
  pay,
  placeOrder,
  post,
  salesOf,
  startApp,
  stockOf,
  type TestApp,
} from '../support/helpers.ts'

const skip = DATABASE_URL ? false : 'needs PostgreSQL (set DATABASE_URL): PGlite has a single connection'

let t: TestApp
let db2: Db
let app2: FastifyInstance
before(async () => {
  if (skip) return
  t = await startApp({ sweeper: false, orderAutoReceiveS: 3600 })
  const schema = (await t.db.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]?.s as string
  db2 = await openPostgres(DATABASE_URL as string, { schema, max: 10 })
  app2 = await buildApp({ config: t.config, db: db2, logger: false })
  await app2.ready()
})
after(async () => {
  if (skip) return
  await app2.close()
  await db2.close()
  await t.close()
})

/** Sweeps until a run finds nothing due; returns what this sweeper handled. */
async function drain(s: Sweeper) {
  const total = { expired: 0, received: 0 }
  for (;;) {
    const c = await s.runOnce()
    total.expired += c.expired
    total.received += c.received
    if (c.expired + c.received === 0) return total
  }
}

test('two processes sweeping the same orders never cancel or release one twice', { skip }, async () => {
  const shop = await newShop(t.app, 3, 1000)
  const buyer = await newUser(t.app, 'buyer')
  await addFunds(t.app, buyer, 1_000_000)
  const unpaid: string[] = []
  const shipped: string[] = []
  for (let i = 0; i < 60; i++) {
    // Orders are placed through both apps.
    unpaid.push(
      await placeOrder(i % 2 ? app2 : t.app, buyer, shop, [
        [i % 3, 1 + (i % 2)],
        [(i + 1) % 3, 1],
      ]),
    )
  }
  for (let i = 0; i < 40; i++) {
    const id = await placeOrder(t.app, buyer, shop, [[i % 3, 1]])
    assert.equal((await pay(app2, buyer, id)).status, 200)
    const s = await post(
      t.app,
      '/seller/send_books',
      { user_id: shop.seller.userId, order_id: id },
      shop.seller.token,
    )
    assert.equal(s.status, 200)
    shipped.push(id)
  }
  const stockBefore = await Promise.all(shop.bookIds.map((b) => stockOf(t.db, shop.storeId, b)))
  await t.db.query(
    `UPDATE orders SET expires_at = now() - interval '1 second' WHERE order_id = ANY($1::text[])`,
    [unpaid],
  )
  await t.db.query(
    `UPDATE orders SET shipped_at = now() - interval '2 hours' WHERE order_id = ANY($1::text[])`,
    [shipped],
  )

  const a = new Sweeper(t.db, t.config, undefined, { batchSize: 4 })
  const b = new Sweeper(db2, t.config, undefined, { batchSize: 4 })
  const [ra, rb, rc, rd] = await Promise.all([drain(a), drain(b), drain(a), drain(b)])
  const handled = [ra, rb, rc, rd]
  assert.equal(
    handled.reduce((n, r) => n + r.expired, 0),
    60,
    'each expired order cancelled exactly once',
  )
  assert.equal(
    handled.reduce((n, r) => n + r.received, 0),
    40,
    'each shipped order received exactly once',
  )
  assert.ok(ra.expired + rc.expired > 0 && rb.expired + rd.expired > 0, 'both processes did part of the work')

  const counts = await t.db.query<{ status: string; reason: string | null; n: number }>(
    `SELECT status, cancel_reason AS reason, count(*)::int AS n FROM orders GROUP BY 1, 2 ORDER BY 1`,
  )
  assert.deepEqual(counts.rows, [
    { status: 'cancelled', reason: 'timeout', n: 60 },
    { status: 'received', reason: null, n: 40 },
  ])
  // Stock released once: back to what it was plus exactly the copies of the expired orders.
  const items = await t.db.query<{ book_id: string; n: number }>(
    `SELECT book_id, sum(count)::int AS n FROM order_items WHERE order_id = ANY($1::text[]) GROUP BY book_id`,
    [unpaid],
  )
  const released = new Map(items.rows.map((r) => [r.book_id, r.n]))
  for (const [i, book] of shop.bookIds.entries()) {
    assert.equal(
      await stockOf(t.db, shop.storeId, book),
      (stockBefore[i] as number) + (released.get(book) ?? 0),
    )
    assert.equal(await salesOf(t.db, shop.storeId, book), 1000 - (await stockOf(t.db, shop.storeId, book)))
  }
  // Escrow released once: one ledger row per shipped order, the seller paid their total.
  const releases = await t.db.query<{ n: number; orders: number; amount: number }>(
    `SELECT count(*)::int AS n, count(DISTINCT order_id)::int AS orders, sum(amount)::int AS amount
       FROM ledger WHERE kind = 'release'`,
  )
  const total = (
    await t.db.query<{ s: number }>(
      'SELECT sum(total_price)::int AS s FROM orders WHERE order_id = ANY($1::text[])',
      [shipped],
    )
  ).rows[0]?.s
  assert.deepEqual(releases.rows[0], { n: 40, orders: 40, amount: total })
  assert.equal(await balanceOf(t.db, shop.seller.userId), total)
  await assertMoneyInvariants(t.db)
})

test('both apps running their background sweeps at once', { skip }, async () => {
  // The apps above have their sweepers off; two more apps on the same schema sweep on their own.
  const config = { ...t.config, sweeper: true, sweepIntervalS: 0.02 }
  const x = await buildApp({ config, db: t.db, logger: false })
  const y = await buildApp({ config, db: db2, logger: false })
  await Promise.all([x.ready(), y.ready()])
  const shop = await newShop(t.app, 1, 100)
  const buyer = await newUser(t.app, 'buyer')
  const ids: string[] = []
  for (let i = 0; i < 30; i++) ids.push(await placeOrder(t.app, buyer, shop, [[0, 2]]))
  await t.db.query(`UPDATE orders SET expires_at = now() WHERE order_id = ANY($1::text[])`, [ids])
  for (let i = 0; i < 400; i++) {
    const r = await t.db.query('SELECT 1 FROM orders WHERE order_id = ANY($1::text[]) AND status = $2', [
      ids,
      'unpaid',
    ])
    if (r.rowCount === 0) break
    await new Promise((res) => setTimeout(res, 25))
  }
  await Promise.all([x.close(), y.close()])
  assert.equal(await stockOf(t.db, shop.storeId, shop.bookIds[0] as string), 100)
  assert.equal(await salesOf(t.db, shop.storeId, shop.bookIds[0] as string), 0)
})
