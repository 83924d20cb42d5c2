import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { LIMITS } from '../../src/limits.ts'
import { bodies } from '../support/factories.ts'
import {
  assertMoneyInvariants,
  balanceOf,
  countRows,
  addFunds as fund,
  ledgerOf,
  newShop,
  newUser,
  orderBooks,
  orderStatus,
  post,
  rawPost,
  rowsOf,
  sleep,
  startApp,
  stockOf,
  type TestApp,
  uid,
} from '../support/helpers.ts'

let t: TestApp
before(async () => {
  t = await startApp()
})
after(async () => {
  await assertMoneyInvariants(t.db)
  await t.close()
})

const addFunds = (userId: string, password: string, addValue: unknown) =>
  post(t.app, '/buyer/add_funds', { user_id: userId, password, add_value: addValue })

function orderRow(orderId: string) {
  return rowsOf<{
    buyer_id: string
    store_id: string
    status: string
    total_price: number
    paid_at: Date | null
  }>(t.db, 'SELECT buyer_id, store_id, status, total_price, paid_at FROM orders WHERE order_id = $1', [
    orderId,
  ]).then((r) => r[0])
}

function itemsOf(orderId: string) {
  return rowsOf<{ book_id: string; title: string; count: number; price: number }>(
    t.db,
    'SELECT book_id, title, count, price FROM order_items WHERE order_id = $1 ORDER BY book_id',
    [orderId],
  )
}

describe('add_funds', () => {
  test('a deposit raises the balance and writes a deposit ledger row', async () => {
    const u = await newUser(t.app)
    const r = await addFunds(u.userId, u.password, 1234)
    assert.equal(r.status, 200)
    assert.equal(r.body.message, 'ok')
    assert.equal(await balanceOf(t.db, u.userId), 1234)
    assert.deepEqual(await ledgerOf(t.db, u.userId), [{ kind: 'deposit', amount: 1234, order_id: null }])
    assert.equal((await addFunds(u.userId, u.password, 66)).status, 200)
    assert.equal(await balanceOf(t.db, u.userId), 1300)
  })

  test('a negative add_value is a withdrawal; overdrawing → 519 and nothing changes', async () => {
    const u = await newUser(t.app)
    await fund(t.app, u, 1000)
    assert.equal((await addFunds(u.userId, u.password, -400)).status, 200)
    assert.equal(await balanceOf(t.db, u.userId), 600)
    const over = await addFunds(u.userId, u.password, -601)
    assert.equal(over.status, 519)
    assert.equal(await balanceOf(t.db, u.userId), 600)
    assert.equal((await addFunds(u.userId, u.password, -600)).status, 200)
    assert.equal(await balanceOf(t.db, u.userId), 0)
    assert.deepEqual(
      (await ledgerOf(t.db, u.userId)).map((l) => [l.kind, l.amount]),
      [
        ['deposit', 1000],
        ['withdrawal', -400],
        ['withdrawal', -600],
      ],
    )
    const empty = await newUser(t.app)
    assert.equal((await addFunds(empty.userId, empty.password, -1)).status, 519)
    assert.equal(await balanceOf(t.db, empty.userId), 0)
    assert.deepEqual(await ledgerOf(t.db, empty.userId), [])
  })

  test('add_value 0 is accepted and writes no ledger row', async () => {
    const u = await newUser(t.app)
    await fund(t.app, u, 10)
    const r = await addFunds(u.userId, u.password, 0)
    assert.equal(r.status, 200)
    assert.equal(await balanceOf(t.db, u.userId), 10)
    assert.equal((await ledgerOf(t.db, u.userId)).length, 1)
  })

  test('wrong password or unknown user → 401 and no money moves', async () => {
    const u = await newUser(t.app)
    assert.equal((await addFunds(u.userId, 'nope', 100)).status, 401)
    assert.equal((await addFunds(uid('ghost'), u.password, 100)).status, 401)
    assert.equal(await balanceOf(t.db, u.userId), 0)
    assert.deepEqual(await ledgerOf(t.db, u.userId), [])
  })

  test('add_value that is not a whole number of cents in range → 400 naming it', async () => {
    const u = await newUser(t.app)
    for (const v of ['100', 1.5, 0.1, 1e20, -1e20, 2 ** 53, null, true, [1], { v: 1 }]) {
      const r = await addFunds(u.userId, u.password, v)
      assert.equal(r.status, 400, JSON.stringify(v))
      assert.match(r.body.message, /add_value/)
    }
    const missing = await post(t.app, '/buyer/add_funds', { user_id: u.userId, password: u.password })
    assert.equal(missing.status, 400)
    assert.match(missing.body.message, /add_value/)
    // Numbers JSON cannot hold a JavaScript number for.
    const huge = await rawPost(
      t.app,
      '/buyer/add_funds',
      `{"user_id":${JSON.stringify(u.userId)},"password":${JSON.stringify(u.password)},"add_value":1e400}`,
    )
    assert.equal(huge.status, 400)
    assert.equal(await balanceOf(t.db, u.userId), 0)
    assert.deepEqual(await ledgerOf(t.db, u.userId), [])
  })

  test('a deposit that would take the balance past the limit → 400 and nothing changes', async () => {
    const u = await newUser(t.app)
    const step = LIMITS.maxAddValue
    for (let i = 0; i < LIMITS.maxMoney / step; i++) await fund(t.app, u, step)
    assert.equal(await balanceOf(t.db, u.userId), LIMITS.maxMoney)
    const r = await addFunds(u.userId, u.password, 1)
    assert.equal(r.status, 400)
    assert.match(r.body.message, /add_value/)
    assert.equal(await balanceOf(t.db, u.userId), LIMITS.maxMoney)
    assert.equal(
      (await addFunds(u.userId, u.password, -LIMITS.maxMoney)).status,
      400,
      'beyond one withdrawal',
    )
    assert.equal((await addFunds(u.userId, u.password, -step)).status, 200)
    assert.equal(await balanceOf(t.db, u.userId), LIMITS.maxMoney - step)
  })

  test('a closed account cannot add funds', async () => {
    const u = await newUser(t.app)
    await fund(t.app, u, 500)
    assert.equal(
      (await post(t.app, '/auth/unregister', { user_id: u.userId, password: u.password })).status,
      200,
    )
    assert.equal((await addFunds(u.userId, u.password, 100)).status, 401)
    assert.equal(await balanceOf(t.db, u.userId), 500)
  })
})

describe('new_order', () => {
  test('reserves stock and records an unpaid order with title and price as at order time', async () => {
    const shop = await newShop(t.app, 3, 10)
    const [b0, b1] = shop.bookIds as [string, string]
    const buyer = await newUser(t.app, 'buyer')
    const r = await post(
      t.app,
      '/buyer/new_order',
      {
        user_id: buyer.userId,
        store_id: shop.storeId,
        books: [
          { id: b1, count: 3 },
          { id: b0, count: 2 },
        ],
      },
      buyer.token,
    )
    assert.equal(r.status, 200)
    const orderId = r.body.order_id as string
    assert.equal(typeof orderId, 'string')
    assert.ok(orderId.length > 0 && orderId.length <= 255)
    assert.equal(await stockOf(t.db, shop.storeId, b0), 8)
    assert.equal(await stockOf(t.db, shop.storeId, b1), 7)
    assert.equal(await stockOf(t.db, shop.storeId, shop.bookIds[2] as string), 10)
    const o = await orderRow(orderId)
    assert.deepEqual(
      { ...o, paid_at: undefined },
      {
        buyer_id: buyer.userId,
        store_id: shop.storeId,
        status: 'unpaid',
        total_price: 800,
        paid_at: undefined,
      },
    )
    assert.equal(o?.paid_at, null)
    assert.deepEqual(
      await itemsOf(orderId),
      [
        { book_id: b0, title: `Title of ${b0}`, count: 2, price: 100 },
        { book_id: b1, title: `Title of ${b1}`, count: 3, price: 200 },
      ].sort((x, y) => (x.book_id < y.book_id ? -1 : 1)),
    )
    // Later changes to the listing do not rewrite the order.
    await t.db.query('UPDATE listings SET price = 999, title = $3 WHERE store_id = $1 AND book_id = $2', [
      shop.storeId,
      b0,
      'renamed',
    ])
    const items = await itemsOf(orderId)
    assert.equal(items.find((i) => i.book_id === b0)?.price, 100)
    assert.equal(items.find((i) => i.book_id === b0)?.title, `Title of ${b0}`)
    // Money has not moved.
    assert.equal(await balanceOf(t.db, buyer.userId), 0)
    assert.deepEqual(await ledgerOf(t.db, buyer.userId), [])
  })

  test('a book listed twice is ordered once with the counts added up', async () => {
    const shop = await newShop(t.app, 1, 10)
    const b = shop.bookIds[0] as string
    const buyer = await newUser(t.app, 'buyer')
    const orderId = await orderBooks(t.app, buyer, shop.storeId, [
      { id: b, count: 2 },
      { id: b, count: 3 },
    ])
    assert.equal(await stockOf(t.db, shop.storeId, b), 5)
    assert.deepEqual(
      (await itemsOf(orderId)).map((i) => [i.book_id, i.count]),
      [[b, 5]],
    )
    assert.equal((await orderRow(orderId))?.total_price, 500)
    // Merged lines that together exceed the stock fail as a whole.
    const r = await post(
      t.app,
      '/buyer/new_order',
      {
        user_id: buyer.userId,
        store_id: shop.storeId,
        books: [
          { id: b, count: 3 },
          { id: b, count: 3 },
        ],
      },
      buyer.token,
    )
    assert.equal(r.status, 517)
    assert.equal(await stockOf(t.db, shop.storeId, b), 5)
  })

  test('unknown store → 513, unknown book → 515 and the other lines keep their stock', async () => {
    const shop = await newShop(t.app, 2, 10)
    const [b0, b1] = shop.bookIds as [string, string]
    const buyer = await newUser(t.app, 'buyer')
    const orders = await countRows(t.db, 'orders')
    const s = await post(
      t.app,
      '/buyer/new_order',
      { user_id: buyer.userId, store_id: uid('nostore'), books: [{ id: b0, count: 1 }] },
      buyer.token,
    )
    assert.equal(s.status, 513)
    const b = await post(
      t.app,
      '/buyer/new_order',
      {
        user_id: buyer.userId,
        store_id: shop.storeId,
        books: [
          { id: b0, count: 2 },
          { id: uid('nobook'), count: 1 },
          { id: b1, count: 2 },
        ],
      },
      buyer.token,
    )
    assert.equal(b.status, 515)
    assert.equal(await stockOf(t.db, shop.storeId, b0), 10)
    assert.equal(await stockOf(t.db, shop.storeId, b1), 10)
    // A book of another store is not in this store.
    const other = await newShop(t.app, 1, 10)
    const x = await post(
      t.app,
      '/buyer/new_order',
      { user_id: buyer.userId, store_id: shop.storeId, books: [{ id: other.bookIds[0], count: 1 }] },
      buyer.token,
    )
    assert.equal(x.status, 515)
    assert.equal(await countRows(t.db, 'orders'), orders)
  })

  test('stock too low on one line → 517 and nothing is reserved', async () => {
    const shop = await newShop(t.app, 2, 4)
    const [b0, b1] = shop.bookIds as [string, string]
    const buyer = await newUser(t.app, 'buyer')
    const orders = await countRows(t.db, 'orders')
    const r = await post(
      t.app,
      '/buyer/new_order',
      {
        user_id: buyer.userId,
        store_id: shop.storeId,
        books: [
          { id: b0, count: 4 },
          { id: b1, count: 5 },
        ],
      },
      buyer.token,
    )
    assert.equal(r.status, 517)
    assert.equal(await stockOf(t.db, shop.storeId, b0), 4)
    assert.equal(await stockOf(t.db, shop.storeId, b1), 4)
    assert.equal(await countRows(t.db, 'orders'), orders)
    // Exactly the stock is fine.
    await orderBooks(t.app, buyer, shop.storeId, [
      { id: b0, count: 4 },
      { id: b1, count: 4 },
    ])
    assert.equal(await stockOf(t.db, shop.storeId, b0), 0)
    assert.equal(await stockOf(t.db, shop.storeId, b1), 0)
  })

  test('bad counts, empty or malformed book lists → 400 naming the field, nothing reserved', async () => {
    const shop = await newShop(t.app, 1, 10)
    const b = shop.bookIds[0] as string
    const buyer = await newUser(t.app, 'buyer')
    const orders = await countRows(t.db, 'orders')
    const bodies: unknown[] = [
      { books: [{ id: b, count: 0 }] },
      { books: [{ id: b, count: -1 }] },
      { books: [{ id: b, count: 1.5 }] },
      { books: [{ id: b, count: '1' }] },
      { books: [{ id: b }] },
      { books: [{ count: 1 }] },
      { books: [{ id: '', count: 1 }] },
      { books: [{ id: 'x'.repeat(256), count: 1 }] },
      { books: [] },
      { books: {} },
      { books: null },
      {},
    ]
    for (const extra of bodies) {
      const r = await post(
        t.app,
        '/buyer/new_order',
        { user_id: buyer.userId, store_id: shop.storeId, ...(extra as object) },
        buyer.token,
      )
      assert.equal(r.status, 400, JSON.stringify(extra))
      assert.match(r.body.message, /books/, JSON.stringify(r.body))
    }
    const noStore = await post(
      t.app,
      '/buyer/new_order',
      { user_id: buyer.userId, books: [{ id: b, count: 1 }] },
      buyer.token,
    )
    assert.equal(noStore.status, 400)
    assert.match(noStore.body.message, /store_id/)
    assert.equal(await stockOf(t.db, shop.storeId, b), 10)
    assert.equal(await countRows(t.db, 'orders'), orders)
  })

  test('counts or totals beyond the limits → 400, nothing reserved', async () => {
    const seller = await newUser(t.app, 'seller')
    const storeId = uid('store')
    await post(t.app, '/seller/create_store', { user_id: seller.userId, store_id: storeId }, seller.token)
    const dear = uid('dear')
    const a = await post(
      t.app,
      '/seller/add_book',
      {
        user_id: seller.userId,
        store_id: storeId,
        book_info: { id: dear, title: 'Dear', price: LIMITS.maxPrice },
        stock_level: 5_000_000,
      },
      seller.token,
    )
    assert.equal(a.status, 200)
    const buyer = await newUser(t.app, 'buyer')
    const order = (books: unknown) =>
      post(t.app, '/buyer/new_order', { user_id: buyer.userId, store_id: storeId, books }, buyer.token)
    // Each line within the limit, merged above it.
    const merged = await order([
      { id: dear, count: LIMITS.maxCount },
      { id: dear, count: 1 },
    ])
    assert.equal(merged.status, 400)
    assert.match(merged.body.message, /books/)
    const tooMany = await order([{ id: dear, count: LIMITS.maxCount + 1 }])
    assert.equal(tooMany.status, 400)
    // A total above the largest amount of money.
    const total = await order([{ id: dear, count: LIMITS.maxMoney / LIMITS.maxPrice + 1 }])
    assert.equal(total.status, 400)
    assert.match(total.body.message, /books/)
    assert.equal(await stockOf(t.db, storeId, dear), 5_000_000)
    assert.equal((await rowsOf(t.db, 'SELECT 1 FROM orders WHERE buyer_id = $1', [buyer.userId])).length, 0)
  })

  test('a store whose owner closed the account takes no orders', async () => {
    const shop = await newShop(t.app, 1, 5)
    const buyer = await newUser(t.app, 'buyer')
    await post(t.app, '/auth/unregister', { user_id: shop.seller.userId, password: shop.seller.password })
    const r = await post(
      t.app,
      '/buyer/new_order',
      { user_id: buyer.userId, store_id: shop.storeId, books: [{ id: shop.bookIds[0], count: 1 }] },
      buyer.token,
    )
    assert.equal(r.status, 513)
    assert.equal(await stockOf(t.db, shop.storeId, shop.bookIds[0] as string), 5)
  })
})

describe('payment', () => {
  test('debits the buyer once, writes a payment ledger row, marks the order paid', async () => {
    const shop = await newShop(t.app, 2, 10)
    const buyer = await newUser(t.app, 'buyer')
    await fund(t.app, buyer, 1000)
    const orderId = await orderBooks(t.app, buyer, shop.storeId, [
      { id: shop.bookIds[0] as string, count: 1 },
      { id: shop.bookIds[1] as string, count: 2 },
    ])
    const r = await post(t.app, '/buyer/payment', bodies.payment(buyer, orderId))
    assert.equal(r.status, 200)
    assert.equal(r.body.message, 'ok')
    assert.equal(await balanceOf(t.db, buyer.userId), 500)
    assert.equal(await orderStatus(t.db, orderId), 'paid')
    assert.ok((await orderRow(orderId))?.paid_at)
    assert.deepEqual((await ledgerOf(t.db, buyer.userId)).at(-1), {
      kind: 'payment',
      amount: -500,
      order_id: orderId,
    })
    // The seller is not paid until the books are received: the money is held.
    assert.equal(await balanceOf(t.db, shop.seller.userId), 0)
    // Stock stays reserved.
    assert.equal(await stockOf(t.db, shop.storeId, shop.bookIds[1] as string), 8)
    await assertMoneyInvariants(t.db)

    // Paying again → 525, nothing more debited.
    const again = await post(t.app, '/buyer/payment', bodies.payment(buyer, orderId))
    assert.equal(again.status, 525)
    assert.equal(await balanceOf(t.db, buyer.userId), 500)
    assert.equal((await ledgerOf(t.db, buyer.userId)).filter((l) => l.kind === 'payment').length, 1)
  })

  test('not enough money → 519, the order stays unpaid and the balance unchanged; then it can be paid', async () => {
    const shop = await newShop(t.app, 1, 10)
    const buyer = await newUser(t.app, 'buyer')
    await fund(t.app, buyer, 299)
    const orderId = await orderBooks(t.app, buyer, shop.storeId, [
      { id: shop.bookIds[0] as string, count: 3 },
    ])
    const pay = () => post(t.app, '/buyer/payment', bodies.payment(buyer, orderId))
    assert.equal((await pay()).status, 519)
    assert.equal(await orderStatus(t.db, orderId), 'unpaid')
    assert.equal(await balanceOf(t.db, buyer.userId), 299)
    assert.equal((await ledgerOf(t.db, buyer.userId)).length, 1)
    await fund(t.app, buyer, 1)
    assert.equal((await pay()).status, 200)
    assert.equal(await balanceOf(t.db, buyer.userId), 0)
    assert.equal(await orderStatus(t.db, orderId), 'paid')
  })

  test('unknown order → 518; wrong password → 401; another buyer → 401; nothing changes', async () => {
    const shop = await newShop(t.app, 1, 10)
    const buyer = await newUser(t.app, 'buyer')
    const other = await newUser(t.app, 'other')
    await fund(t.app, buyer, 1000)
    await fund(t.app, other, 1000)
    const orderId = await orderBooks(t.app, buyer, shop.storeId, [
      { id: shop.bookIds[0] as string, count: 1 },
    ])
    const unknown = await post(t.app, '/buyer/payment', {
      user_id: buyer.userId,
      order_id: uid('noorder'),
      password: buyer.password,
    })
    assert.equal(unknown.status, 518)
    const wrong = await post(t.app, '/buyer/payment', {
      user_id: buyer.userId,
      order_id: orderId,
      password: 'wrong',
    })
    assert.equal(wrong.status, 401)
    const foreign = await post(t.app, '/buyer/payment', {
      user_id: other.userId,
      order_id: orderId,
      password: other.password,
    })
    assert.equal(foreign.status, 401)
    const ghost = await post(t.app, '/buyer/payment', {
      user_id: uid('ghost'),
      order_id: orderId,
      password: 'x',
    })
    assert.equal(ghost.status, 401)
    assert.equal(await orderStatus(t.db, orderId), 'unpaid')
    assert.equal(await balanceOf(t.db, buyer.userId), 1000)
    assert.equal(await balanceOf(t.db, other.userId), 1000)
    for (const body of [
      { user_id: buyer.userId, password: buyer.password },
      { user_id: buyer.userId, order_id: 5, password: buyer.password },
      { user_id: buyer.userId, order_id: '', password: buyer.password },
    ]) {
      const r = await post(t.app, '/buyer/payment', body)
      assert.equal(r.status, 400)
      assert.match(r.body.message, /order_id/)
    }
  })

  test('a free order can be paid with an empty balance', async () => {
    const seller = await newUser(t.app, 'seller')
    const storeId = uid('store')
    await post(t.app, '/seller/create_store', { user_id: seller.userId, store_id: storeId }, seller.token)
    const bookId = uid('free')
    const a = await post(
      t.app,
      '/seller/add_book',
      {
        user_id: seller.userId,
        store_id: storeId,
        book_info: { id: bookId, title: 'Free', price: 0 },
        stock_level: 1,
      },
      seller.token,
    )
    assert.equal(a.status, 200)
    const buyer = await newUser(t.app, 'buyer')
    const orderId = await orderBooks(t.app, buyer, storeId, [{ id: bookId, count: 1 }])
    const p = await post(t.app, '/buyer/payment', bodies.payment(buyer, orderId))
    assert.equal(p.status, 200)
    assert.equal(await orderStatus(t.db, orderId), 'paid')
    assert.equal(await balanceOf(t.db, buyer.userId), 0)
  })

  test('after the payment deadline → 524 even before any sweep, and no money moves', async () => {
    const short = await startApp({ orderPaymentTimeoutS: 1 })
    try {
      const shop = await newShop(short.app, 1, 5)
      const buyer = await newUser(short.app, 'buyer')
      await fund(short.app, buyer, 1000)
      const orderId = await orderBooks(short.app, buyer, shop.storeId, [
        { id: shop.bookIds[0] as string, count: 2 },
      ])
      await sleep(1200)
      const r = await post(short.app, '/buyer/payment', {
        user_id: buyer.userId,
        order_id: orderId,
        password: buyer.password,
      })
      assert.equal(r.status, 524)
      assert.equal(await balanceOf(short.db, buyer.userId), 1000)
      assert.notEqual(await orderStatus(short.db, orderId), 'paid')
      assert.deepEqual(
        (await ledgerOf(short.db, buyer.userId)).map((l) => l.kind),
        ['deposit'],
      )
      // Someone else's expired order is still 401, not 524.
      const other = await newUser(short.app, 'other')
      const f = await post(short.app, '/buyer/payment', {
        user_id: other.userId,
        order_id: orderId,
        password: other.password,
      })
      assert.equal(f.status, 401)
      await assertMoneyInvariants(short.db)
    } finally {
      await short.close()
    }
  })
})
