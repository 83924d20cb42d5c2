import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import {
  addFunds,
  assertMoneyInvariants,
  balanceOf,
  call,
  get,
  ledgerOf,
  newShop,
  newUser,
  orderStatus,
  pay,
  placeOrder,
  post,
  type Reply,
  type Shop,
  salesOf,
  startApp,
  stockOf,
  type TestApp,
  type User,
} from '../support/helpers.ts'

let t: TestApp
before(async () => {
  t = await startApp({ sweeper: false })
})
after(() => t.close())

const act = (path: string, user: User, orderId: string, extra: Record<string, unknown> = {}) =>
  post(t.app, path, { user_id: user.userId, order_id: orderId, ...extra }, user.token)
const ship = (seller: User, id: string) => act('/seller/send_books', seller, id)
const receive = (buyer: User, id: string) => act('/buyer/receive_books', buyer, id)
const buyerCancel = (buyer: User, id: string) => act('/buyer/cancel_order', buyer, id)
const sellerCancel = (seller: User, id: string, reason?: string) =>
  act('/seller/cancel_order', seller, id, reason === undefined ? {} : { reason })

function expect(r: Reply, status: number) {
  assert.equal(r.status, status, JSON.stringify(r.body))
  assert.equal(typeof r.body.message, 'string')
}

/** Moves an unpaid order past its payment deadline without waiting for it. */
async function lapse(orderId: string) {
  await t.db.query(`UPDATE orders SET expires_at = now() - interval '1 second' WHERE order_id = $1`, [
    orderId,
  ])
}

interface World {
  shop: Shop
  buyer: User
  stranger: User
}

async function world(stock = 10): Promise<World> {
  const shop = await newShop(t.app, 2, stock)
  const buyer = await newUser(t.app, 'buyer')
  await addFunds(t.app, buyer, 100_000)
  return { shop, buyer, stranger: await newUser(t.app, 'stranger') }
}

/** An order of 2 × book 0 (100 each) + 1 × book 1 (200): total 400, taken to `status`. */
async function orderIn(w: World, status: 'unpaid' | 'paid' | 'shipped' | 'received' | 'cancelled') {
  const id = await placeOrder(t.app, w.buyer, w.shop, [
    [0, 2],
    [1, 1],
  ])
  if (status === 'cancelled') expect(await buyerCancel(w.buyer, id), 200)
  if (status === 'unpaid' || status === 'cancelled') return id
  expect(await pay(t.app, w.buyer, id), 200)
  if (status === 'paid') return id
  expect(await ship(w.shop.seller, id), 200)
  if (status === 'shipped') return id
  expect(await receive(w.buyer, id), 200)
  return id
}

describe('the happy path', () => {
  test('order → pay → ship → receive moves the money buyer → escrow → seller, with a ledger row each', async () => {
    const w = await world()
    const [b0, b1] = w.shop.bookIds as [string, string]
    const id = await orderIn(w, 'unpaid')
    assert.equal(await stockOf(t.db, w.shop.storeId, b0), 8)
    assert.equal(await salesOf(t.db, w.shop.storeId, b0), 2)

    expect(await pay(t.app, w.buyer, id), 200)
    assert.equal(await balanceOf(t.db, w.buyer.userId), 100_000 - 400)
    assert.equal(await balanceOf(t.db, w.shop.seller.userId), 0)
    assert.equal(await orderStatus(t.db, id), 'paid')

    expect(await ship(w.shop.seller, id), 200)
    assert.equal(await orderStatus(t.db, id), 'shipped')
    assert.equal(await balanceOf(t.db, w.shop.seller.userId), 0, 'nothing is released on shipping')

    expect(await receive(w.buyer, id), 200)
    assert.equal(await orderStatus(t.db, id), 'received')
    assert.equal(await balanceOf(t.db, w.shop.seller.userId), 400)
    assert.equal(await balanceOf(t.db, w.buyer.userId), 100_000 - 400)
    assert.deepEqual(await ledgerOf(t.db, w.shop.seller.userId), [
      { kind: 'release', amount: 400, order_id: id },
    ])
    assert.deepEqual(await ledgerOf(t.db, w.buyer.userId), [
      { kind: 'deposit', amount: 100_000, order_id: null },
      { kind: 'payment', amount: -400, order_id: id },
    ])
    // Stock and sales stay taken by a completed order.
    assert.equal(await stockOf(t.db, w.shop.storeId, b1), 9)
    assert.equal(await salesOf(t.db, w.shop.storeId, b1), 1)

    const r = await get(t.app, `/orders/${id}`, w.buyer)
    expect(r, 200)
    const { message, ...o } = r.body as Record<string, unknown>
    assert.equal(message, 'ok')
    assert.equal(o.status, 'received')
    assert.equal(o.total_price, 400)
    assert.equal(o.cancel_reason, null)
    assert.equal(o.cancelled_at, null)
    for (const k of ['created_at', 'expires_at', 'paid_at', 'shipped_at', 'received_at'])
      assert.match(String(o[k]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, k)
    assert.deepEqual(
      o.items,
      [
        { book_id: b0, title: `Title of ${b0}`, count: 2, price: 100 },
        { book_id: b1, title: `Title of ${b1}`, count: 1, price: 200 },
      ].sort((a, b) => (a.book_id < b.book_id ? -1 : 1)),
    )
    const listed = await get(t.app, '/buyer/orders', w.buyer)
    assert.deepEqual((listed.body.orders as Record<string, unknown>[])[0], o)
    const sold = await get(t.app, '/seller/orders', w.shop.seller, { status: 'received' })
    assert.deepEqual(sold.body.orders, [o])
    await assertMoneyInvariants(t.db)
  })

  test('the buyer cancels an unpaid order: stock and sales restored, no money moves', async () => {
    const w = await world()
    const [b0, b1] = w.shop.bookIds as [string, string]
    const id = await orderIn(w, 'unpaid')
    expect(await buyerCancel(w.buyer, id), 200)
    assert.equal(await orderStatus(t.db, id), 'cancelled')
    assert.equal(await stockOf(t.db, w.shop.storeId, b0), 10)
    assert.equal(await stockOf(t.db, w.shop.storeId, b1), 10)
    assert.equal(await salesOf(t.db, w.shop.storeId, b0), 0)
    assert.equal(await salesOf(t.db, w.shop.storeId, b1), 0)
    assert.equal(await balanceOf(t.db, w.buyer.userId), 100_000)
    const o = (await get(t.app, `/orders/${id}`, w.buyer)).body as Record<string, unknown>
    assert.equal(o.cancel_reason, 'buyer')
    assert.equal(o.paid_at, null)
    assert.equal(typeof o.cancelled_at, 'string')
    await assertMoneyInvariants(t.db)
  })

  test('the buyer cancels a paid order: refunded in full, stock restored', async () => {
    const w = await world()
    const id = await orderIn(w, 'paid')
    assert.equal(await balanceOf(t.db, w.buyer.userId), 99_600)
    expect(await buyerCancel(w.buyer, id), 200)
    assert.equal(await balanceOf(t.db, w.buyer.userId), 100_000)
    assert.equal(await stockOf(t.db, w.shop.storeId, w.shop.bookIds[0] as string), 10)
    assert.deepEqual((await ledgerOf(t.db, w.buyer.userId)).slice(1), [
      { kind: 'payment', amount: -400, order_id: id },
      { kind: 'refund', amount: 400, order_id: id },
    ])
    await assertMoneyInvariants(t.db)
  })

  test('the seller refuses a paid order (with a reason): refund, stock back, reason seller', async () => {
    const w = await world()
    const id = await orderIn(w, 'paid')
    expect(await sellerCancel(w.shop.seller, id, 'out of print'), 200)
    assert.equal(await balanceOf(t.db, w.buyer.userId), 100_000)
    assert.equal(await balanceOf(t.db, w.shop.seller.userId), 0)
    assert.equal(await stockOf(t.db, w.shop.storeId, w.shop.bookIds[1] as string), 10)
    const o = (await get(t.app, `/orders/${id}`, w.shop.seller)).body as Record<string, unknown>
    assert.equal(o.status, 'cancelled')
    assert.equal(o.cancel_reason, 'seller')
    assert.equal(typeof o.paid_at, 'string', 'the payment stays on record')
    await assertMoneyInvariants(t.db)
  })

  test('the seller refuses an unpaid order', async () => {
    const w = await world()
    const id = await orderIn(w, 'unpaid')
    expect(await sellerCancel(w.shop.seller, id), 200)
    assert.equal(await orderStatus(t.db, id), 'cancelled')
    assert.equal(await stockOf(t.db, w.shop.storeId, w.shop.bookIds[0] as string), 10)
    expect(await pay(t.app, w.buyer, id), 524)
  })

  test('GET /buyer/balance', async () => {
    const w = await world()
    const r = await get(t.app, '/buyer/balance', w.buyer)
    expect(r, 200)
    assert.equal(r.body.balance, 100_000)
    await orderIn(w, 'paid')
    assert.equal((await get(t.app, '/buyer/balance', w.buyer)).body.balance, 99_600)
  })
})

describe('result codes', () => {
  test('send_books: 401 · 518 · 523 · 522 · 524', async () => {
    const w = await world()
    const paid = await orderIn(w, 'paid')
    expect(await ship(w.stranger, paid), 401)
    expect(await ship(w.buyer, paid), 401)
    expect(await post(t.app, '/seller/send_books', { user_id: w.shop.seller.userId, order_id: paid }), 401)
    expect(
      await post(
        t.app,
        '/seller/send_books',
        { user_id: w.shop.seller.userId, order_id: paid },
        w.buyer.token,
      ),
      401,
    )
    expect(await ship(w.shop.seller, 'no-such-order'), 518)
    expect(await ship(w.shop.seller, await orderIn(w, 'unpaid')), 523)
    expect(await ship(w.shop.seller, paid), 200)
    expect(await ship(w.shop.seller, paid), 522)
    expect(await ship(w.shop.seller, await orderIn(w, 'received')), 522)
    expect(await ship(w.shop.seller, await orderIn(w, 'cancelled')), 524)
    const lapsed = await orderIn(w, 'unpaid')
    await lapse(lapsed)
    expect(await ship(w.shop.seller, lapsed), 524)
    assert.equal(await orderStatus(t.db, paid), 'shipped')
  })

  test('receive_books: 401 · 518 · 520 · 521 · 524', async () => {
    const w = await world()
    const shipped = await orderIn(w, 'shipped')
    expect(await receive(w.stranger, shipped), 401)
    expect(await receive(w.shop.seller, shipped), 401)
    expect(await post(t.app, '/buyer/receive_books', { user_id: w.buyer.userId, order_id: shipped }), 401)
    expect(await receive(w.buyer, 'no-such-order'), 518)
    expect(await receive(w.buyer, await orderIn(w, 'unpaid')), 520)
    expect(await receive(w.buyer, await orderIn(w, 'paid')), 520)
    expect(await receive(w.buyer, shipped), 200)
    expect(await receive(w.buyer, shipped), 521)
    expect(await receive(w.buyer, await orderIn(w, 'cancelled')), 524)
    assert.equal(await balanceOf(t.db, w.shop.seller.userId), 400)
    await assertMoneyInvariants(t.db)
  })

  for (const side of ['buyer', 'seller'] as const) {
    test(`${side}/cancel_order: 401 · 518 · 522 · 521 · 524`, async () => {
      const w = await world()
      const me = side === 'buyer' ? w.buyer : w.shop.seller
      const other = side === 'buyer' ? w.shop.seller : w.buyer
      const cancel = side === 'buyer' ? buyerCancel : sellerCancel
      const path = `/${side}/cancel_order`
      const unpaid = await orderIn(w, 'unpaid')
      expect(await cancel(w.stranger, unpaid), 401)
      expect(await cancel(other, unpaid), 401)
      expect(await post(t.app, path, { user_id: me.userId, order_id: unpaid }), 401)
      expect(await post(t.app, path, { user_id: me.userId, order_id: unpaid }, 'not-a-token'), 401)
      expect(await cancel(me, 'no-such-order'), 518)
      expect(await cancel(me, await orderIn(w, 'shipped')), 522)
      expect(await cancel(me, await orderIn(w, 'received')), 521)
      expect(await cancel(me, await orderIn(w, 'cancelled')), 524)
      assert.equal(await orderStatus(t.db, unpaid), 'unpaid', 'refused cancels change nothing')
      expect(await cancel(me, unpaid), 200)
      expect(await cancel(me, unpaid), 524)
      await assertMoneyInvariants(t.db)
    })
  }

  test('cancelling an unpaid order past its deadline: 524, and it is expired on the spot', async () => {
    const w = await world()
    const id = await orderIn(w, 'unpaid')
    await lapse(id)
    expect(await buyerCancel(w.buyer, id), 524)
    assert.equal(await orderStatus(t.db, id), 'cancelled')
    const o = (await get(t.app, `/orders/${id}`, w.buyer)).body as Record<string, unknown>
    assert.equal(o.cancel_reason, 'timeout')
    assert.equal(await stockOf(t.db, w.shop.storeId, w.shop.bookIds[0] as string), 10)
    assert.equal(await salesOf(t.db, w.shop.storeId, w.shop.bookIds[0] as string), 0)
    expect(await sellerCancel(w.shop.seller, id), 524)
  })

  test('payment: 524 past the deadline or cancelled, 525 paid, also after shipping', async () => {
    const w = await world()
    const id = await orderIn(w, 'unpaid')
    await lapse(id)
    expect(await pay(t.app, w.buyer, id), 524)
    expect(await pay(t.app, w.buyer, await orderIn(w, 'cancelled')), 524)
    expect(await pay(t.app, w.buyer, await orderIn(w, 'paid')), 525)
    expect(await pay(t.app, w.buyer, await orderIn(w, 'shipped')), 525)
    expect(await pay(t.app, w.stranger, await orderIn(w, 'unpaid')), 401)
  })

  test('GET /orders/{id}: buyer and seller 200, others 401, unknown 518', async () => {
    const w = await world()
    const id = await orderIn(w, 'paid')
    expect(await get(t.app, `/orders/${id}`, w.buyer), 200)
    expect(await get(t.app, `/orders/${id}`, w.shop.seller), 200)
    expect(await get(t.app, `/orders/${id}`, w.stranger), 401)
    expect(await get(t.app, '/orders/nope', w.buyer), 518)
    expect(await call(t.app, 'GET', `/orders/${id}?user_id=${w.buyer.userId}`), 401)
    expect(
      await call(t.app, 'GET', `/orders/${id}?user_id=${w.buyer.userId}`, undefined, {
        token: w.stranger.token,
      }),
      401,
    )
    const bearer = await call(t.app, 'GET', `/orders/${id}?user_id=${w.buyer.userId}`, undefined, {
      authorization: `Bearer ${w.buyer.token}`,
    })
    expect(bearer, 200)
  })

  test('GET /buyer/balance and the lists: 401 without a live token of that user', async () => {
    const w = await world()
    for (const url of ['/buyer/balance', '/buyer/orders', '/seller/orders']) {
      expect(await call(t.app, 'GET', `${url}?user_id=${w.buyer.userId}`), 401)
      expect(
        await call(t.app, 'GET', `${url}?user_id=${w.buyer.userId}`, undefined, { token: w.stranger.token }),
        401,
      )
    }
  })

  test('malformed requests are 400 naming the field, never 500', async () => {
    const w = await world()
    const h = { token: w.buyer.token }
    const u = w.buyer.userId
    const cases: [string, string, unknown?][] = [
      ['POST', '/seller/send_books', { user_id: u }],
      ['POST', '/buyer/receive_books', { user_id: u, order_id: 5 }],
      ['POST', '/buyer/cancel_order', { user_id: u, order_id: '' }],
      ['POST', '/seller/cancel_order', { user_id: u, order_id: 'x', reason: 7 }],
      ['POST', '/buyer/cancel_order', { user_id: u, order_id: 'a\u0000b' }],
      ['GET', `/buyer/orders?user_id=${u}&page=0`],
      ['GET', `/buyer/orders?user_id=${u}&page=x`],
      ['GET', `/buyer/orders?user_id=${u}&page_size=101`],
      ['GET', `/buyer/orders?user_id=${u}&page_size=0`],
      ['GET', `/buyer/orders?user_id=${u}&status=lost`],
      ['GET', `/seller/orders?user_id=${u}&status=`],
      ['GET', '/buyer/balance'],
    ]
    for (const [method, url, body] of cases) {
      const r = await call(t.app, method as 'GET', url, body, h)
      assert.equal(r.status, 400, `${url} ${JSON.stringify(r.body)}`)
    }
  })
})
