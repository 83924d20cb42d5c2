/**
 * Orders and payments that arrive together are placed (paid) in batches of one database call
 * (place_orders / pay_orders, migration 015). Each must still be all or nothing on its own and get
 * exactly the answer it would have had alone, in the batch's order. The first tests call the batch
 * functions directly with batches built to make the order inside a batch matter; the others send
 * many requests at once through the API and check, through the batch-size metric, that batches of
 * more than one did form.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, test } from 'node:test'
import { DomainError, statusOf } from '../../src/errors.ts'
import { LIMITS } from '../../src/limits.ts'
import { type PlaceOrder, payOrders, placeOrders } from '../../src/repositories/orders.ts'
import { tokenHash } from '../../src/security/tokens.ts'
import {
  addFunds,
  assertMoneyInvariants,
  assertOrderInvariants,
  balanceOf,
  countRows,
  ENGINE,
  ledgerOf,
  newShop,
  newUser,
  orderStatus,
  pay,
  placeOrder,
  rowsOf,
  salesOf,
  startApp,
  stockOf,
  type TestApp,
  type User,
} from '../support/helpers.ts'

let t: TestApp
before(async () => {
  t = await startApp({ sweeper: false }, { poolSize: 20 })
})
after(() => t.close())

const order = (buyer: string, storeId: string, lines: [string, number][], token?: string): PlaceOrder => ({
  orderId: randomUUID(),
  buyerId: buyer,
  storeId,
  lines: lines.map(([bookId, count]) => ({ bookId, count })).sort((a, b) => (a.bookId < b.bookId ? -1 : 1)),
  timeoutS: 1800,
  maxTotal: LIMITS.maxMoney,
  tokenHash: token === undefined ? undefined : tokenHash(token),
})

const ordersOf = async (buyer: User) =>
  (
    await rowsOf<{ n: number }>(t.db, 'SELECT count(*)::int AS n FROM orders WHERE buyer_id = $1', [
      buyer.userId,
    ])
  )[0]?.n ?? 0

/**
 * What a call of the buyer service answered, as the route would: the result code, and the order id or
 * the error message. The calls below are all made before any of them is answered (the service takes
 * them synchronously up to the batcher), so every batch after the first takes the ones waiting.
 */
async function answer(call: Promise<unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  try {
    return { status: 200, body: { order_id: await call } }
  } catch (err) {
    if (!(err instanceof DomainError)) throw err
    return { status: statusOf(err.info), body: { message: err.message } }
  }
}
const buyerService = () => t.app.services.buyer

/** Sum and count of the batch sizes of one kind so far (bookstore_order_batch_size). */
async function batchSizes(kind: 'new_order' | 'payment'): Promise<{ sum: number; count: number }> {
  const r = await t.app.inject({ method: 'GET', url: '/metrics' })
  const value = (what: string) => {
    const line = r.body
      .split('\n')
      .find((l) => l.startsWith(`bookstore_order_batch_size_${what}{kind="${kind}"}`))
    return line === undefined ? 0 : Number(line.split(' ').pop())
  }
  return { sum: value('sum'), count: value('count') }
}

/** Asserts that some batch of `kind` since `before` took more than one request. */
async function assertBatched(kind: 'new_order' | 'payment', before: { sum: number; count: number }) {
  const now = await batchSizes(kind)
  const requests = now.sum - before.sum
  const batches = now.count - before.count
  assert.ok(batches > 0 && requests > batches, `${kind}: ${requests} requests in ${batches} batches`)
}

test(`[${ENGINE}] one batch: the earlier order gets the last copies, the later one 517; a refused order frees its copies for the next`, async () => {
  const shop = await newShop(t.app, 3, 3)
  const buyer = await newUser(t.app, 'buyer')
  const [b0, b1, b2] = shop.bookIds as [string, string, string]
  const batch = [
    order(buyer.userId, shop.storeId, [[b0, 3]]), // takes the last 3 of b0
    order(buyer.userId, shop.storeId, [[b0, 1]]), // none left: short on b0
    order(buyer.userId, shop.storeId, [
      [b1, 2],
      [b2, 4], // only 3: refused as a whole, so its 2 of b1 stay on the shelf
    ]),
    order(buyer.userId, shop.storeId, [[b1, 3]]), // gets all 3 of b1
    order(buyer.userId, shop.storeId, [[b2, 3]]), // gets all 3 of b2
  ]
  const results = await placeOrders(t.db, batch)
  assert.deepEqual(
    results.map((r) => (r.ok ? r.total : r.short)),
    [300, b0, b2, 600, 900],
  )
  assert.deepEqual(await Promise.all(batch.map((o) => orderStatus(t.db, o.orderId))), [
    'unpaid',
    undefined,
    undefined,
    'unpaid',
    'unpaid',
  ])
  for (const b of [b0, b1, b2]) {
    assert.equal(await stockOf(t.db, shop.storeId, b), 0)
    assert.equal(await salesOf(t.db, shop.storeId, b), 3)
  }
  // The refused orders left no lines behind.
  const lines = await rowsOf<{ order_id: string; book_id: string; count: number }>(
    t.db,
    'SELECT order_id, book_id, count FROM order_items WHERE order_id = ANY ($1::text[]) ORDER BY order_id, book_id',
    [batch.map((o) => o.orderId)],
  )
  assert.deepEqual(
    lines.map((l) => [batch.findIndex((o) => o.orderId === l.order_id), l.book_id, l.count]).sort(),
    [
      [0, b0, 3],
      [3, b1, 3],
      [4, b2, 3],
    ].sort(),
  )
  await assertOrderInvariants(t.db)
})

test(`[${ENGINE}] one batch mixing good and bad orders: each gets its own answer, the bad ones write nothing`, async () => {
  const shop = await newShop(t.app, 2, 5)
  const [b0, b1] = shop.bookIds as [string, string]
  const buyer = await newUser(t.app, 'buyer')
  const stranger = await newUser(t.app, 'stranger')
  const batch = [
    order(buyer.userId, shop.storeId, [[b0, 1]], buyer.token),
    order(buyer.userId, shop.storeId, [[b0, 1]], stranger.token), // someone else's token: 401
    order('no-such-buyer', shop.storeId, [[b0, 1]]), // 511
    order(buyer.userId, 'no-such-store', [[b0, 1]], buyer.token), // 513
    order(buyer.userId, shop.storeId, [
      [b0, 1],
      ['no-such-book', 1],
    ]), // 515, its copy of b0 stays
    order(buyer.userId, shop.storeId, [[b1, 6]]), // 517: five on the shelf
    order(buyer.userId, shop.storeId, [[b1, 1]], buyer.token),
  ]
  const results = await placeOrders(t.db, batch)
  const refused = (r: (typeof results)[number]) => {
    if (r.ok) return 'placed'
    if (r.unauthorized) return 401
    if (!r.buyerOpen) return 511
    if (!r.storeOpen) return 513
    if (r.missing !== undefined) return `515 ${r.missing}`
    if (r.short !== undefined) return `517 ${r.short}`
    return 'total'
  }
  assert.deepEqual(results.map(refused), ['placed', 401, 511, 513, '515 no-such-book', `517 ${b1}`, 'placed'])
  assert.equal(await stockOf(t.db, shop.storeId, b0), 4)
  assert.equal(await stockOf(t.db, shop.storeId, b1), 4)
  assert.equal(await ordersOf(buyer), 2)
  assert.equal(
    await countRows(t.db, 'orders'),
    (await rowsOf<{ n: number }>(t.db, 'SELECT count(DISTINCT order_id)::int AS n FROM order_items'))[0]?.n,
  )
})

test(`[${ENGINE}] one batch of payments: a second payment of the same order and one the balance no longer covers are refused`, async () => {
  const shop = await newShop(t.app, 1, 100)
  const buyer = await newUser(t.app, 'buyer')
  const other = await newUser(t.app, 'other')
  await addFunds(t.app, buyer, 250)
  const a = await placeOrder(t.app, buyer, shop, [[0, 1]]) // 100 each
  const b = await placeOrder(t.app, buyer, shop, [[0, 1]])
  const c = await placeOrder(t.app, buyer, shop, [[0, 1]])
  const d = await placeOrder(t.app, buyer, shop, [[0, 1]])
  const stored = (
    await rowsOf<{ h: string }>(t.db, 'SELECT password_hash AS h FROM users WHERE user_id = $1', [
      buyer.userId,
    ])
  )[0]?.h
  const results = await payOrders(t.db, [
    { orderId: a, buyerId: buyer.userId, storedHash: stored },
    { orderId: a, buyerId: buyer.userId, storedHash: stored }, // paid a moment ago, in the same batch
    { orderId: b, buyerId: other.userId }, // not the other's order
    { orderId: b, buyerId: buyer.userId, storedHash: 'not the hash' }, // not verified
    { orderId: c, buyerId: buyer.userId, storedHash: stored }, // 150 left: paid
    { orderId: d, buyerId: buyer.userId, storedHash: stored }, // 50 left: refused
  ])
  assert.deepEqual(results, [
    { ok: true, total: 100 },
    { ok: false, reason: 'refused' },
    { ok: false, reason: 'refused' },
    { ok: false, reason: 'not_verified' },
    { ok: true, total: 100 },
    { ok: false, reason: 'refused' },
  ])
  assert.equal(await balanceOf(t.db, buyer.userId), 50)
  assert.deepEqual(await Promise.all([a, b, c, d].map((id) => orderStatus(t.db, id))), [
    'paid',
    'unpaid',
    'paid',
    'unpaid',
  ])
  const payments = (await ledgerOf(t.db, buyer.userId)).filter((l) => l.kind === 'payment')
  assert.deepEqual(
    payments.map((l) => [l.order_id, l.amount]).sort(),
    [
      [a, -100],
      [c, -100],
    ].sort(),
  )
  await assertMoneyInvariants(t.db)
})

test(`[${ENGINE}] 60 concurrent orders for 20 copies: exactly the stock is sold, every refusal is 517 and left no rows`, async () => {
  const shop = await newShop(t.app, 2, 20)
  const [b0, b1] = shop.bookIds as [string, string]
  const buyers = await Promise.all(Array.from({ length: 6 }, () => newUser(t.app, 'buyer')))
  const before = await batchSizes('new_order')
  // Every order wants 1–3 copies of b0, and every third also a copy of b1 (which has enough).
  const wants = Array.from({ length: 60 }, (_, i) => ({
    buyer: buyers[i % buyers.length] as User,
    books: [{ id: b0, count: 1 + (i % 3) }, ...(i % 3 === 0 ? [{ id: b1, count: 1 }] : [])],
  }))
  const rs = await Promise.all(
    wants.map((w) =>
      answer(buyerService().newOrder(w.buyer.userId, shop.storeId, w.books, { token: w.buyer.token })),
    ),
  )
  await assertBatched('new_order', before)
  let soldB0 = 0
  let soldB1 = 0
  rs.forEach((r, i) => {
    const w = wants[i] as (typeof wants)[number]
    if (r.status === 200) {
      soldB0 += w.books[0]?.count ?? 0
      soldB1 += w.books.length - 1
    } else {
      assert.equal(r.status, 517, JSON.stringify(r.body))
      assert.match(String(r.body.message), new RegExp(b0))
    }
  })
  const left = await stockOf(t.db, shop.storeId, b0)
  assert.equal(soldB0 + left, 20)
  // Refused orders wanted more than was left when their turn came: at most 2 copies are left over.
  assert.ok(left <= 2, `${left} copies left`)
  assert.equal(await salesOf(t.db, shop.storeId, b0), soldB0)
  assert.equal(await stockOf(t.db, shop.storeId, b1), 20 - soldB1)
  const placed = rs.filter((r) => r.status === 200).map((r) => String(r.body.order_id))
  const stored = await rowsOf<{ order_id: string; copies: number }>(
    t.db,
    `SELECT o.order_id, sum(i.count)::int AS copies FROM orders o JOIN order_items i USING (order_id)
      WHERE o.store_id = $1 GROUP BY o.order_id`,
    [shop.storeId],
  )
  assert.deepEqual(stored.map((o) => o.order_id).sort(), placed.sort())
  assert.equal(
    stored.reduce((s, o) => s + o.copies, 0),
    soldB0 + soldB1,
  )
  await assertOrderInvariants(t.db)
})

test(`[${ENGINE}] concurrent good and bad orders: each gets its own code and the state it implies`, async () => {
  const shop = await newShop(t.app, 2, 10)
  const [b0, b1] = shop.bookIds as [string, string]
  const buyer = await newUser(t.app, 'buyer')
  const before = await batchSizes('new_order')
  const kinds = [
    {
      code: 200,
      body: { user_id: buyer.userId, store_id: shop.storeId, books: [{ id: b0, count: 1 }] },
      token: buyer.token,
    },
    {
      code: 401,
      body: { user_id: buyer.userId, store_id: shop.storeId, books: [{ id: b0, count: 1 }] },
      token: 'bad-token',
    },
    // Someone else's user id with this token: the session is not that user's.
    {
      code: 401,
      body: { user_id: 'no-such-buyer', store_id: shop.storeId, books: [{ id: b0, count: 1 }] },
      token: buyer.token,
    },
    {
      code: 513,
      body: { user_id: buyer.userId, store_id: 'no-such-store', books: [{ id: b0, count: 1 }] },
      token: buyer.token,
    },
    {
      code: 515,
      body: {
        user_id: buyer.userId,
        store_id: shop.storeId,
        books: [
          { id: b0, count: 1 },
          { id: 'no-such-book', count: 1 },
        ],
      },
      token: buyer.token,
    },
    {
      code: 517,
      body: {
        user_id: buyer.userId,
        store_id: shop.storeId,
        books: [
          { id: b0, count: 1 },
          { id: b1, count: 11 },
        ],
      },
      token: buyer.token,
    },
  ]
  const sent = Array.from(
    { length: 6 * kinds.length },
    (_, i) => kinds[(i * 5) % kinds.length] as (typeof kinds)[number],
  )
  const rs = await Promise.all(
    sent.map((k) =>
      answer(buyerService().newOrder(k.body.user_id, k.body.store_id, k.body.books, { token: k.token })),
    ),
  )
  await assertBatched('new_order', before)
  assert.deepEqual(
    rs.map((r) => r.status),
    sent.map((k) => k.code),
  )
  const good = sent.filter((k) => k.code === 200).length
  assert.equal(await ordersOf(buyer), good)
  assert.equal(await stockOf(t.db, shop.storeId, b0), 10 - good)
  assert.equal(await stockOf(t.db, shop.storeId, b1), 10)
  assert.equal(await salesOf(t.db, shop.storeId, b1), 0)
  await assertOrderInvariants(t.db)
})

test(`[${ENGINE}] concurrent payments of one buyer whose balance covers some: never negative, money conserved, ledger matches`, async () => {
  const shop = await newShop(t.app, 3, 1000)
  const buyer = await newUser(t.app, 'buyer')
  // Totals 100, 200, 300, … : the balance covers some of them, whichever come first.
  const ids: string[] = []
  for (let i = 0; i < 24; i++) ids.push(await placeOrder(t.app, buyer, shop, [[i % 3, 1]]))
  const warm = await placeOrder(t.app, buyer, shop, [[0, 1]])
  await addFunds(t.app, buyer, 100 + 2_000)
  // One payment first: the password is then remembered and the others go straight to the batches.
  assert.equal((await pay(t.app, buyer, warm)).status, 200)
  const before = await batchSizes('payment')
  const rs = await Promise.all(
    ids.map((id) => answer(buyerService().payment(buyer.userId, id, buyer.password))),
  )
  await assertBatched('payment', before)
  const totals = await rowsOf<{ order_id: string; total_price: number; status: string }>(
    t.db,
    'SELECT order_id, total_price, status FROM orders WHERE order_id = ANY ($1::text[])',
    [ids],
  )
  const byId = new Map(totals.map((o) => [o.order_id, o]))
  let spent = 0
  rs.forEach((r, i) => {
    const o = byId.get(ids[i] as string)
    assert.ok(o)
    if (r.status === 200) {
      assert.equal(o.status, 'paid')
      spent += o.total_price
    } else {
      assert.equal(r.status, 519, JSON.stringify(r.body))
      assert.equal(o.status, 'unpaid')
    }
  })
  const balance = await balanceOf(t.db, buyer.userId)
  assert.ok(balance >= 0)
  assert.equal(balance, 2_000 - spent)
  // Every refused payment wanted more than was left (at most 300): the balance was used up.
  assert.ok(balance < 300, `${balance} left`)
  const payments = (await ledgerOf(t.db, buyer.userId)).filter(
    (l) => l.kind === 'payment' && l.order_id !== warm,
  )
  assert.deepEqual(
    payments.map((l) => [l.order_id, -l.amount]).sort(),
    totals
      .filter((o) => o.status === 'paid')
      .map((o) => [o.order_id, o.total_price])
      .sort(),
  )
  await assertMoneyInvariants(t.db)
})
