import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import {
  addFunds,
  assertMoneyInvariants,
  balanceOf,
  bookInfo,
  countRows,
  ledgerOf,
  login,
  newShop,
  newUser,
  orderBooks,
  post,
  rowsOf,
  sessionCount,
  startApp,
  stockOf,
  type TestApp,
  uid,
} from '../support/helpers.ts'

let t: TestApp
before(async () => {
  // On PostgreSQL, a pool: requests really run side by side.
  t = await startApp({}, { poolSize: 10 })
})
after(async () => {
  await assertMoneyInvariants(t.db)
  await t.close()
})

function tally(statuses: number[]): Record<number, number> {
  const out: Record<number, number> = {}
  for (const s of statuses) out[s] = (out[s] ?? 0) + 1
  return out
}

describe('racing requests on the real app', () => {
  test('30 buyers race for 10 copies: exactly 10 orders, stock 0, the rest 517', async () => {
    const shop = await newShop(t.app, 1, 10)
    const book = shop.bookIds[0] as string
    const buyers = await Promise.all(Array.from({ length: 30 }, () => newUser(t.app, 'racer')))
    const results = await Promise.all(
      buyers.map((b) =>
        post(
          t.app,
          '/buyer/new_order',
          { user_id: b.userId, store_id: shop.storeId, books: [{ id: book, count: 1 }] },
          b.token,
        ),
      ),
    )
    assert.deepEqual(tally(results.map((r) => r.status)), { 200: 10, 517: 20 })
    assert.equal(await stockOf(t.db, shop.storeId, book), 0)
    const rows = await rowsOf<{ n: number; copies: number }>(
      t.db,
      `SELECT count(DISTINCT o.order_id)::int AS n, coalesce(sum(i.count), 0)::int AS copies
         FROM orders o JOIN order_items i USING (order_id) WHERE o.store_id = $1`,
      [shop.storeId],
    )
    assert.deepEqual(rows, [{ n: 10, copies: 10 }])
    const ids = new Set(results.filter((r) => r.status === 200).map((r) => r.body.order_id))
    assert.equal(ids.size, 10)
  })

  test('one order paid 8 times at once: one 200, seven 525, debited once', async () => {
    const shop = await newShop(t.app, 1, 10)
    const buyer = await newUser(t.app, 'payer')
    await addFunds(t.app, buyer, 10_000)
    const orderId = await orderBooks(t.app, buyer, shop.storeId, [
      { id: shop.bookIds[0] as string, count: 3 },
    ])
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        post(t.app, '/buyer/payment', { user_id: buyer.userId, order_id: orderId, password: buyer.password }),
      ),
    )
    assert.deepEqual(tally(results.map((r) => r.status)), { 200: 1, 525: 7 })
    assert.equal(await balanceOf(t.db, buyer.userId), 10_000 - 300)
    assert.deepEqual(
      (await ledgerOf(t.db, buyer.userId)).filter((l) => l.kind === 'payment'),
      [{ kind: 'payment', amount: -300, order_id: orderId }],
    )
    await assertMoneyInvariants(t.db)
  })

  test('two orders paid at once from a balance that covers only one: one 200, one 519', async () => {
    const shop = await newShop(t.app, 1, 10)
    const buyer = await newUser(t.app, 'payer')
    await addFunds(t.app, buyer, 150)
    const a = await orderBooks(t.app, buyer, shop.storeId, [{ id: shop.bookIds[0] as string, count: 1 }])
    const b = await orderBooks(t.app, buyer, shop.storeId, [{ id: shop.bookIds[0] as string, count: 1 }])
    const results = await Promise.all(
      [a, b].map((orderId) =>
        post(t.app, '/buyer/payment', { user_id: buyer.userId, order_id: orderId, password: buyer.password }),
      ),
    )
    assert.deepEqual(tally(results.map((r) => r.status)), { 200: 1, 519: 1 })
    assert.equal(await balanceOf(t.db, buyer.userId), 50)
    await assertMoneyInvariants(t.db)
  })

  test('the same id registered 10 times at once: one 200, nine 512', async () => {
    const userId = uid('same')
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        post(t.app, '/auth/register', { user_id: userId, password: `p${i}` }),
      ),
    )
    assert.deepEqual(tally(results.map((r) => r.status)), { 200: 1, 512: 9 })
    const winner = results.findIndex((r) => r.status === 200)
    assert.equal((await login(t.app, userId, `p${winner}`)).status, 200)
    const n = await rowsOf<{ n: number }>(t.db, 'SELECT count(*)::int AS n FROM users WHERE user_id = $1', [
      userId,
    ])
    assert.deepEqual(n, [{ n: 1 }])
  })

  test('deposits and withdrawals at once: balance = ledger sum, never below 0', async () => {
    const u = await newUser(t.app, 'funds')
    await addFunds(t.app, u, 500)
    const values = Array.from({ length: 40 }, (_, i) => (i % 2 ? -100 : 30))
    const results = await Promise.all(
      values.map((v) =>
        post(t.app, '/buyer/add_funds', { user_id: u.userId, password: u.password, add_value: v }),
      ),
    )
    for (const r of results) assert.ok(r.status === 200 || r.status === 519, JSON.stringify(r))
    const accepted = values.filter((_, i) => results[i]?.status === 200)
    const balance = await balanceOf(t.db, u.userId)
    assert.equal(balance, 500 + accepted.reduce((s, v) => s + v, 0))
    assert.ok(balance >= 0)
    const ledger = await ledgerOf(t.db, u.userId)
    assert.equal(
      ledger.reduce((s, l) => s + l.amount, 0),
      balance,
    )
    assert.equal(ledger.length, 1 + accepted.length)
    await assertMoneyInvariants(t.db)
  })

  test('orders over the same books listed in opposite orders never deadlock or fail', async () => {
    const shop = await newShop(t.app, 5, 1000)
    const buyers = await Promise.all(Array.from({ length: 24 }, () => newUser(t.app, 'multi')))
    const forward = shop.bookIds.map((id) => ({ id, count: 1 }))
    const backward = [...forward].reverse()
    const results = await Promise.all(
      buyers.map((b, i) =>
        post(
          t.app,
          '/buyer/new_order',
          { user_id: b.userId, store_id: shop.storeId, books: i % 2 ? forward : backward },
          b.token,
        ),
      ),
    )
    assert.deepEqual(tally(results.map((r) => r.status)), { 200: 24 })
    for (const id of shop.bookIds) assert.equal(await stockOf(t.db, shop.storeId, id), 1000 - 24)
  })

  test('scarce books across overlapping orders: all or nothing for each order', async () => {
    const shop = await newShop(t.app, 3, 5)
    const [a, b, c] = shop.bookIds as [string, string, string]
    const buyers = await Promise.all(Array.from({ length: 12 }, () => newUser(t.app, 'scarce')))
    const shapes = [
      [
        { id: a, count: 1 },
        { id: b, count: 1 },
      ],
      [
        { id: c, count: 1 },
        { id: b, count: 1 },
      ],
      [
        { id: c, count: 1 },
        { id: a, count: 1 },
      ],
    ]
    const results = await Promise.all(
      buyers.map((u, i) =>
        post(
          t.app,
          '/buyer/new_order',
          { user_id: u.userId, store_id: shop.storeId, books: shapes[i % 3] },
          u.token,
        ),
      ),
    )
    for (const r of results) assert.ok(r.status === 200 || r.status === 517, JSON.stringify(r))
    // Every copy that left the shelf is in exactly one order.
    const inOrders = await rowsOf<{ book_id: string; n: number }>(
      t.db,
      `SELECT i.book_id, sum(i.count)::int AS n FROM order_items i JOIN orders o USING (order_id)
        WHERE o.store_id = $1 GROUP BY i.book_id`,
      [shop.storeId],
    )
    for (const id of [a, b, c]) {
      const taken = inOrders.find((x) => x.book_id === id)?.n ?? 0
      assert.equal((await stockOf(t.db, shop.storeId, id)) + taken, 5, id)
    }
    const lines = await rowsOf<{ n: number }>(
      t.db,
      `SELECT count(*)::int AS n FROM order_items i JOIN orders o USING (order_id) WHERE o.store_id = $1`,
      [shop.storeId],
    )
    assert.equal(lines[0]?.n, 2 * results.filter((r) => r.status === 200).length)
  })

  test('the same store id, or the same book in one store, created at once: exactly one 200', async () => {
    const sellers = await Promise.all(Array.from({ length: 6 }, () => newUser(t.app, 'opener')))
    const storeId = uid('store')
    const stores = await Promise.all(
      sellers.map((s) =>
        post(t.app, '/seller/create_store', { user_id: s.userId, store_id: storeId }, s.token),
      ),
    )
    assert.deepEqual(tally(stores.map((r) => r.status)), { 200: 1, 514: 5 })
    const owner = sellers[stores.findIndex((r) => r.status === 200)]
    assert.ok(owner)
    const bookId = uid('book')
    const books = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        post(
          t.app,
          '/seller/add_book',
          {
            user_id: owner.userId,
            store_id: storeId,
            book_info: bookInfo(bookId, 100 + i),
            stock_level: i + 1,
          },
          owner.token,
        ),
      ),
    )
    assert.deepEqual(tally(books.map((r) => r.status)), { 200: 1, 516: 5 })
    const winner = books.findIndex((r) => r.status === 200)
    assert.equal(await stockOf(t.db, storeId, bookId), winner + 1)
    // Stock added from many requests at once all counts.
    const adds = await Promise.all(
      Array.from({ length: 10 }, () =>
        post(
          t.app,
          '/seller/add_stock_level',
          { user_id: owner.userId, store_id: storeId, book_id: bookId, add_stock_level: 7 },
          owner.token,
        ),
      ),
    )
    assert.deepEqual(tally(adds.map((r) => r.status)), { 200: 10 })
    assert.equal(await stockOf(t.db, storeId, bookId), winner + 1 + 70)
  })

  test('books sharing pictures listed at once, in any order: every listing stored, each picture once', async () => {
    const shop = await newShop(t.app, 0)
    const pics = Array.from({ length: 4 }, (_, i) =>
      Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.from(uid(`pic${i}`))]).toString('base64'),
    )
    const before = await countRows(t.db, 'pictures')
    const orders = [
      [0, 1, 2, 3],
      [3, 2, 1, 0],
      [1, 3, 0, 2],
      [2, 0, 3, 1],
      [0, 0, 1, 1],
    ]
    const results = await Promise.all(
      Array.from({ length: 15 }, (_, i) =>
        post(
          t.app,
          '/seller/add_book',
          {
            user_id: shop.seller.userId,
            store_id: shop.storeId,
            book_info: bookInfo(`pics-${i}`, 100, {
              pictures: (orders[i % 5] as number[]).map((k) => pics[k]),
            }),
            stock_level: 1,
          },
          shop.seller.token,
        ),
      ),
    )
    assert.deepEqual(tally(results.map((r) => r.status)), { 200: 15 })
    assert.equal(await countRows(t.db, 'pictures'), before + 4)
    const links = await rowsOf<{ n: number }>(
      t.db,
      'SELECT count(*)::int AS n FROM listing_pictures WHERE store_id = $1',
      [shop.storeId],
    )
    assert.equal(links[0]?.n, 15 * 4)
  })

  test('one token logged out 5 times at once: one 200, the rest 401', async () => {
    const u = await newUser(t.app, 'leaver')
    const results = await Promise.all(
      Array.from({ length: 5 }, () => post(t.app, '/auth/logout', { user_id: u.userId }, u.token)),
    )
    assert.deepEqual(tally(results.map((r) => r.status)), { 200: 1, 401: 4 })
    assert.equal(await sessionCount(t.db, u.userId), 0)
  })

  test('logins on one terminal at once leave exactly one live token for it', async () => {
    const u = await newUser(t.app, 'multi-login')
    const results = await Promise.all(
      Array.from({ length: 6 }, () => login(t.app, u.userId, u.password, 'kiosk')),
    )
    for (const r of results) assert.equal(r.status, 200)
    const live = await Promise.all(
      results.map((r) =>
        post(
          t.app,
          '/seller/create_store',
          { user_id: u.userId, store_id: uid('s') },
          r.body.token as string,
        ),
      ),
    )
    assert.equal(live.filter((r) => r.status === 200).length, 1)
    assert.equal(await sessionCount(t.db, u.userId), 2)
  })

  test('a mixed crowd of orders, payments and deposits keeps money and stock consistent', async () => {
    const shop = await newShop(t.app, 2, 8)
    const buyers = await Promise.all(Array.from({ length: 10 }, () => newUser(t.app, 'crowd')))
    await Promise.all(buyers.map((b, i) => addFunds(t.app, b, i % 2 ? 1000 : 150)))
    const orders = await Promise.all(
      buyers.map((b, i) =>
        post(
          t.app,
          '/buyer/new_order',
          {
            user_id: b.userId,
            store_id: shop.storeId,
            books: [{ id: shop.bookIds[i % 2] as string, count: 2 }],
          },
          b.token,
        ),
      ),
    )
    const placed = orders.map((r, i) => ({ r, b: buyers[i] })).filter((x) => x.r.status === 200)
    await Promise.all(
      placed.flatMap(({ r, b }) => [
        post(t.app, '/buyer/payment', {
          user_id: b?.userId,
          order_id: r.body.order_id,
          password: b?.password,
        }),
        post(t.app, '/buyer/payment', {
          user_id: b?.userId,
          order_id: r.body.order_id,
          password: b?.password,
        }),
        post(t.app, '/buyer/add_funds', { user_id: b?.userId, password: b?.password, add_value: -20 }),
      ]),
    )
    await assertMoneyInvariants(t.db)
    const paid = await rowsOf<{ n: number }>(
      t.db,
      `SELECT count(*)::int AS n FROM ledger WHERE kind = 'payment' AND order_id IN
         (SELECT order_id FROM orders WHERE store_id = $1)`,
      [shop.storeId],
    )
    const paidOrders = await rowsOf<{ n: number }>(
      t.db,
      `SELECT count(*)::int AS n FROM orders WHERE store_id = $1 AND status = 'paid'`,
      [shop.storeId],
    )
    assert.equal(paid[0]?.n, paidOrders[0]?.n)
    assert.ok(await countRows(t.db, 'orders'))
  })
})
