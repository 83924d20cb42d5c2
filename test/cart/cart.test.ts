import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import {
  addFunds,
  assertMoneyInvariants,
  assertOrderInvariants,
  balanceOf,
  call,
  countRows,
  login,
  newShop,
  newUser,
  pay,
  post,
  type Reply,
  rowsOf,
  type Shop,
  snapshotState,
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

function expect(r: Reply, status: number) {
  assert.equal(r.status, status, JSON.stringify(r.body))
  assert.equal(typeof r.body.message, 'string')
}

const setLine = (user: User, storeId: string, bookId: string, count: unknown, token = user.token) =>
  post(t.app, '/buyer/cart', { user_id: user.userId, store_id: storeId, book_id: bookId, count }, token)
const getCart = (user: User, token = user.token) =>
  call(t.app, 'GET', `/buyer/cart?user_id=${encodeURIComponent(user.userId)}`, undefined, { token })
const checkout = (user: User, storeIds?: string[]) =>
  post(
    t.app,
    '/buyer/checkout',
    { user_id: user.userId, ...(storeIds === undefined ? {} : { store_ids: storeIds }) },
    user.token,
  )

interface Line {
  store_id: string
  book_id: string
  count: number
}
const linesOf = (r: Reply) =>
  (r.body.lines as Line[]).map((l) => ({ store_id: l.store_id, book_id: l.book_id, count: l.count }))
const byKey = (a: Line, b: Line) =>
  a.store_id < b.store_id ? -1 : a.store_id > b.store_id ? 1 : a.book_id < b.book_id ? -1 : 1

/** The buyer's cart as stored. */
const storedCart = (user: User) =>
  rowsOf<Line>(
    t.db,
    'SELECT store_id, book_id, count FROM cart_lines WHERE user_id = $1 ORDER BY store_id, book_id',
    [user.userId],
  )

async function buyerWithMoney(amount = 1_000_000): Promise<User> {
  const buyer = await newUser(t.app, 'buyer')
  await addFunds(t.app, buyer, amount)
  return buyer
}

const book = (shop: Shop, i: number) => shop.bookIds[i] as string

describe('the cart', () => {
  test('lines per (store, book) with current titles, prices, stock and total; the same from every terminal', async () => {
    const s1 = await newShop(t.app, 2, 5)
    const s2 = await newShop(t.app, 1, 7)
    const buyer = await newUser(t.app, 'buyer')
    expect(await setLine(buyer, s1.storeId, book(s1, 0), 2), 200)
    expect(await setLine(buyer, s1.storeId, book(s1, 1), 1), 200)
    expect(await setLine(buyer, s2.storeId, book(s2, 0), 3), 200)
    const r = await getCart(buyer)
    expect(r, 200)
    assert.deepEqual(
      r.body.lines,
      [
        {
          store_id: s1.storeId,
          book_id: book(s1, 0),
          title: `Title of ${book(s1, 0)}`,
          price: 100,
          count: 2,
          stock_level: 5,
        },
        {
          store_id: s1.storeId,
          book_id: book(s1, 1),
          title: `Title of ${book(s1, 1)}`,
          price: 200,
          count: 1,
          stock_level: 5,
        },
        {
          store_id: s2.storeId,
          book_id: book(s2, 0),
          title: `Title of ${book(s2, 0)}`,
          price: 100,
          count: 3,
          stock_level: 7,
        },
      ].sort(byKey),
    )
    assert.equal(r.body.total_price, 2 * 100 + 200 + 3 * 100)
    // Another terminal of the same user sees the same cart, and changes it for both.
    const phone = (await login(t.app, buyer.userId, buyer.password, 'phone')).body.token as string
    assert.deepEqual((await getCart(buyer, phone)).body, r.body)
    expect(await setLine(buyer, s1.storeId, book(s1, 0), 4, phone), 200)
    assert.equal(linesOf(await getCart(buyer)).find((l) => l.book_id === book(s1, 0))?.count, 4)
    // Prices are the listing's current price.
    await t.db.query('UPDATE listings SET price = 150 WHERE store_id = $1 AND book_id = $2', [
      s2.storeId,
      book(s2, 0),
    ])
    const now = await getCart(buyer)
    assert.equal((now.body.lines as { price: number }[]).find((l) => l.price === 150) !== undefined, true)
    assert.equal(now.body.total_price, 4 * 100 + 200 + 3 * 150)
    // The cart reserves no stock.
    assert.equal(await stockOf(t.db, s1.storeId, book(s1, 0)), 5)
    // Count 0 removes a line; removing a line that is not there is fine.
    expect(await setLine(buyer, s1.storeId, book(s1, 1), 0), 200)
    expect(await setLine(buyer, s1.storeId, book(s1, 1), 0), 200)
    assert.deepEqual(
      (await storedCart(buyer)).map((l) => l.book_id).sort(),
      [book(s1, 0), book(s2, 0)].sort(),
    )
    // Another user's cart is theirs alone.
    const other = await newUser(t.app, 'buyer')
    assert.deepEqual((await getCart(other)).body, { message: 'ok', lines: [], total_price: 0 })
  })

  test('refusals: 513 unknown or closed store, 515 unknown book, 400 bad count, 401; nothing written', async () => {
    const shop = await newShop(t.app, 1)
    const closing = await newShop(t.app, 1)
    const buyer = await newUser(t.app, 'buyer')
    const other = await newUser(t.app, 'other')
    expect(await setLine(buyer, closing.storeId, book(closing, 0), 1), 200)
    expect(
      await post(t.app, '/auth/unregister', {
        user_id: closing.seller.userId,
        password: closing.seller.password,
      }),
      200,
    )
    const before = await snapshotState(t.db)
    expect(await setLine(buyer, 'no-such-store', book(shop, 0), 1), 513)
    expect(await setLine(buyer, 'no-such-store', book(shop, 0), 0), 513)
    expect(await setLine(buyer, closing.storeId, book(closing, 0), 2), 513)
    expect(await setLine(buyer, shop.storeId, 'no-such-book', 1), 515)
    expect(await setLine(buyer, shop.storeId, book(closing, 0), 1), 515)
    for (const count of [-1, 10_001, 1.5, '2', null, 2 ** 31])
      expect(await setLine(buyer, shop.storeId, book(shop, 0), count), 400)
    expect(await setLine(buyer, shop.storeId, book(shop, 0), 1, other.token), 401)
    expect(await setLine(buyer, shop.storeId, book(shop, 0), 1, 'not-a-token'), 401)
    expect(
      await post(t.app, '/buyer/cart', {
        user_id: buyer.userId,
        store_id: shop.storeId,
        book_id: book(shop, 0),
        count: 1,
      }),
      401,
    )
    expect(await getCart(buyer, other.token), 401)
    expect(
      await post(
        t.app,
        '/buyer/cart',
        { user_id: buyer.userId, store_id: shop.storeId, count: 1 },
        buyer.token,
      ),
      400,
    )
    assert.deepEqual(await snapshotState(t.db), before)
    // A line of a store closed since can still be removed, and the largest count is accepted.
    expect(await setLine(buyer, closing.storeId, book(closing, 0), 0), 200)
    expect(await setLine(buyer, shop.storeId, book(shop, 0), 10_000), 200)
    assert.deepEqual(await storedCart(buyer), [
      { store_id: shop.storeId, book_id: book(shop, 0), count: 10_000 },
    ])
    await assert.rejects(t.app.services.cart.setLine(buyer.userId, shop.storeId, book(shop, 0), -3), /count/)
  })

  test('a cart holds at most 1000 lines: one more is a 400, changing a line still works', async () => {
    const shop = await newShop(t.app, 1)
    const buyer = await newUser(t.app, 'buyer')
    await t.db.query(
      `INSERT INTO listings (store_id, book_id, title, price, stock_level)
       SELECT $1, 'many' || g, 'many', 1, 1 FROM generate_series(1, 1000) g`,
      [shop.storeId],
    )
    await t.db.query(
      `INSERT INTO cart_lines (user_id, store_id, book_id, count)
       SELECT $1, $2, 'many' || g, 1 FROM generate_series(1, 1000) g`,
      [buyer.userId, shop.storeId],
    )
    const r = await setLine(buyer, shop.storeId, book(shop, 0), 1)
    expect(r, 400)
    assert.match(r.body.message, /1000 lines/)
    expect(await setLine(buyer, shop.storeId, 'many7', 3), 200)
    assert.equal(await countRows(t.db, `cart_lines WHERE user_id = '${buyer.userId}'`), 1000)
  })
})

describe('checkout', () => {
  test('one order per store, stock reserved, ordered lines leave the cart; the orders pay, ship and get reviewed', async () => {
    const s1 = await newShop(t.app, 2, 5)
    const s2 = await newShop(t.app, 1, 5)
    const buyer = await buyerWithMoney()
    await setLine(buyer, s1.storeId, book(s1, 0), 2)
    await setLine(buyer, s1.storeId, book(s1, 1), 1)
    await setLine(buyer, s2.storeId, book(s2, 0), 3)
    const r = await checkout(buyer)
    expect(r, 200)
    const ids = r.body.order_ids as string[]
    assert.equal(ids.length, 2)
    const orders = await rowsOf<{ order_id: string; store_id: string; status: string; total_price: number }>(
      t.db,
      'SELECT order_id, store_id, status, total_price FROM orders WHERE order_id = ANY($1) ORDER BY store_id',
      [ids],
    )
    assert.deepEqual(
      orders.map((o) => [o.store_id, o.status, o.total_price]),
      [
        [s1.storeId, 'unpaid', 2 * 100 + 200],
        [s2.storeId, 'unpaid', 3 * 100],
      ].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)),
    )
    assert.equal(await stockOf(t.db, s1.storeId, book(s1, 0)), 3)
    assert.equal(await stockOf(t.db, s1.storeId, book(s1, 1)), 4)
    assert.equal(await stockOf(t.db, s2.storeId, book(s2, 0)), 2)
    assert.deepEqual(await storedCart(buyer), [])
    expect(await checkout(buyer), 400)

    // The orders are like any other: paid, shipped, received and reviewed.
    for (const o of orders) {
      expect(await pay(t.app, buyer, o.order_id), 200)
      const seller = o.store_id === s1.storeId ? s1.seller : s2.seller
      expect(
        await post(
          t.app,
          '/seller/send_books',
          { user_id: seller.userId, order_id: o.order_id },
          seller.token,
        ),
        200,
      )
      expect(
        await post(
          t.app,
          '/buyer/receive_books',
          { user_id: buyer.userId, order_id: o.order_id },
          buyer.token,
        ),
        200,
      )
    }
    assert.equal(await balanceOf(t.db, buyer.userId), 1_000_000 - 700)
    assert.equal(await balanceOf(t.db, s1.seller.userId), 400)
    const o2 = orders.find((o) => o.store_id === s2.storeId)?.order_id as string
    expect(
      await post(
        t.app,
        '/buyer/review',
        { user_id: buyer.userId, order_id: o2, book_id: book(s2, 0), rating: 5 },
        buyer.token,
      ),
      200,
    )
    await assertMoneyInvariants(t.db)
    await assertOrderInvariants(t.db)
  })

  test('store_ids orders only those stores; the other lines stay', async () => {
    const s1 = await newShop(t.app, 1)
    const s2 = await newShop(t.app, 1)
    const buyer = await buyerWithMoney()
    await setLine(buyer, s1.storeId, book(s1, 0), 1)
    await setLine(buyer, s2.storeId, book(s2, 0), 2)
    const r = await checkout(buyer, [s2.storeId])
    expect(r, 200)
    assert.equal((r.body.order_ids as string[]).length, 1)
    assert.deepEqual(await storedCart(buyer), [{ store_id: s1.storeId, book_id: book(s1, 0), count: 1 }])
    assert.equal(await stockOf(t.db, s2.storeId, book(s2, 0)), 8)
    assert.equal(await stockOf(t.db, s1.storeId, book(s1, 0)), 10)
    const none = await checkout(buyer, ['no-such-store'])
    expect(none, 400)
    assert.match(none.body.message, /cart/)
  })

  test('a line short of stock: 517 names store and book; no order, no stock moved, the cart unchanged', async () => {
    const s1 = await newShop(t.app, 1, 5)
    const s2 = await newShop(t.app, 2, 1)
    const buyer = await buyerWithMoney()
    await setLine(buyer, s1.storeId, book(s1, 0), 2)
    await setLine(buyer, s2.storeId, book(s2, 0), 1)
    await setLine(buyer, s2.storeId, book(s2, 1), 2)
    const before = await snapshotState(t.db)
    const r = await checkout(buyer)
    expect(r, 517)
    assert.equal(r.body.store_id, s2.storeId)
    assert.equal(r.body.book_id, book(s2, 1))
    assert.match(r.body.message, /stock level low/)
    assert.deepEqual(await snapshotState(t.db), before)
    // The other store's lines can still be ordered on their own.
    expect(await checkout(buyer, [s1.storeId]), 200)
    assert.equal(await stockOf(t.db, s1.storeId, book(s1, 0)), 3)
  })

  test('513 a store closed since the line was added (nothing written); a listing gone leaves the cart', async () => {
    const open = await newShop(t.app, 1)
    const closing = await newShop(t.app, 1)
    const buyer = await buyerWithMoney()
    await setLine(buyer, open.storeId, book(open, 0), 1)
    await setLine(buyer, closing.storeId, book(closing, 0), 1)
    expect(
      await post(t.app, '/auth/unregister', {
        user_id: closing.seller.userId,
        password: closing.seller.password,
      }),
      200,
    )
    let before = await snapshotState(t.db)
    expect(await checkout(buyer), 513)
    assert.deepEqual(await snapshotState(t.db), before)
    // Without the closed store's line the rest is ordered.
    expect(await setLine(buyer, closing.storeId, book(closing, 0), 0), 200)
    before = await snapshotState(t.db)
    const ids = await t.app.services.cart.checkout(buyer.userId)
    assert.equal(ids.length, 1)
    assert.notDeepEqual(await snapshotState(t.db), before)
    // A listing that goes away takes its cart lines with it, so a checkout never meets a missing book
    // (the 515 of the contract cannot arise from a cart).
    await setLine(buyer, open.storeId, book(open, 0), 1)
    await t.db.query('DELETE FROM listings WHERE store_id = $1 AND book_id = $2', [
      open.storeId,
      book(open, 0),
    ])
    assert.deepEqual(await storedCart(buyer), [])
    expect(await checkout(buyer), 400)
  })

  test('400 for an empty cart, 401 without the buyer’s token, 400 for bad store_ids', async () => {
    const buyer = await buyerWithMoney()
    const other = await newUser(t.app)
    const empty = await checkout(buyer)
    expect(empty, 400)
    assert.match(empty.body.message, /empty/)
    expect(await post(t.app, '/buyer/checkout', { user_id: buyer.userId }), 401)
    expect(await post(t.app, '/buyer/checkout', { user_id: buyer.userId }, other.token), 401)
    for (const store_ids of [[], 'x', [1], [''], null])
      expect(await post(t.app, '/buyer/checkout', { user_id: buyer.userId, store_ids }, buyer.token), 400)
  })

  test('simultaneous checkouts of one cart place its orders once', async () => {
    const s1 = await newShop(t.app, 2, 10)
    const s2 = await newShop(t.app, 1, 10)
    const buyer = await buyerWithMoney()
    const phone = (await login(t.app, buyer.userId, buyer.password, 'phone')).body.token as string
    await setLine(buyer, s1.storeId, book(s1, 0), 2)
    await setLine(buyer, s1.storeId, book(s1, 1), 1)
    await setLine(buyer, s2.storeId, book(s2, 0), 3)
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        post(t.app, '/buyer/checkout', { user_id: buyer.userId }, i % 2 === 0 ? buyer.token : phone),
      ),
    )
    const ok = results.filter((r) => r.status === 200)
    assert.equal(ok.length, 1, JSON.stringify(results.map((r) => r.status)))
    for (const r of results) if (r.status !== 200) expect(r, 400)
    assert.equal(await countRows(t.db, `orders WHERE buyer_id = '${buyer.userId}'`), 2)
    assert.equal(await stockOf(t.db, s1.storeId, book(s1, 0)), 8)
    assert.equal(await stockOf(t.db, s1.storeId, book(s1, 1)), 9)
    assert.equal(await stockOf(t.db, s2.storeId, book(s2, 0)), 7)
    assert.deepEqual(await storedCart(buyer), [])
    await assertOrderInvariants(t.db)
  })

  test('buyers racing for scarce stock: each checkout is whole or nothing, stock never below zero', async () => {
    const s1 = await newShop(t.app, 1, 5)
    const s2 = await newShop(t.app, 1, 5)
    const buyers = await Promise.all(Array.from({ length: 6 }, () => buyerWithMoney()))
    for (const b of buyers) {
      await setLine(b, s1.storeId, book(s1, 0), 2)
      await setLine(b, s2.storeId, book(s2, 0), 1)
    }
    const results = await Promise.all(buyers.map((b) => checkout(b)))
    const won = results.filter((r) => r.status === 200).length
    for (const r of results) if (r.status !== 200) expect(r, 517)
    assert.equal(won, 2, 'five copies make two checkouts of two')
    assert.equal(await stockOf(t.db, s1.storeId, book(s1, 0)), 5 - 2 * won)
    assert.equal(await stockOf(t.db, s2.storeId, book(s2, 0)), 5 - won)
    for (const [i, b] of buyers.entries()) {
      const cart = await storedCart(b)
      assert.equal(cart.length, results[i]?.status === 200 ? 0 : 2, 'a refused checkout leaves the cart')
      const orders = await countRows(t.db, `orders WHERE buyer_id = '${b.userId}'`)
      assert.equal(orders, results[i]?.status === 200 ? 2 : 0)
    }
    await assertOrderInvariants(t.db)
  })

  test('/metrics counts checkouts and the orders they place', async () => {
    const metric = async (pattern: string) => {
      const res = await t.app.inject({ method: 'GET', url: '/metrics' })
      return Number(res.body.match(new RegExp(`^${pattern} (\\d+)`, 'm'))?.[1] ?? 0)
    }
    const placed = await metric('bookstore_checkouts_total\\{outcome="placed"\\}')
    const refused = await metric('bookstore_checkouts_total\\{outcome="refused"\\}')
    const orders = await metric('bookstore_checkout_orders_total')
    const s1 = await newShop(t.app, 1)
    const s2 = await newShop(t.app, 1)
    const buyer = await buyerWithMoney()
    await setLine(buyer, s1.storeId, book(s1, 0), 1)
    await setLine(buyer, s2.storeId, book(s2, 0), 1)
    expect(await checkout(buyer), 200)
    expect(await checkout(buyer), 400)
    assert.equal((await metric('bookstore_checkouts_total\\{outcome="placed"\\}')) - placed, 1)
    assert.equal((await metric('bookstore_checkouts_total\\{outcome="refused"\\}')) - refused, 1)
    assert.equal((await metric('bookstore_checkout_orders_total')) - orders, 2)
  })
})

describe('documentation', () => {
  test('/openapi.json describes the review and cart routes with their codes, examples and security', async () => {
    const doc = (await t.app.inject({ url: '/openapi.json' })).json() as {
      paths: Record<
        string,
        Record<
          string,
          {
            responses: Record<string, { content?: Record<string, { schema: { properties?: object } }> }>
            security?: unknown[]
            requestBody?: {
              content: Record<string, { example?: unknown }>
            }
          }
        >
      >
    }
    const TOKEN = [{ token: [] }, { bearer: [] }]
    const routes: [string, string, string[], boolean][] = [
      ['post', '/buyer/review', ['400', '401', '515', '518', '526'], true],
      ['post', '/buyer/delete_review', ['400', '401', '527'], true],
      ['post', '/seller/reply_review', ['400', '401', '527'], true],
      ['get', '/stores/{store_id}/books/{book_id}/reviews', ['400', '513', '515'], false],
      ['get', '/buyer/cart', ['400', '401'], true],
      ['post', '/buyer/cart', ['400', '401', '513', '515'], true],
      ['post', '/buyer/checkout', ['400', '401', '513', '515', '517'], true],
    ]
    for (const [method, path, codes, token] of routes) {
      const op = doc.paths[path]?.[method]
      assert.ok(op, `${method} ${path} is described`)
      for (const code of ['200', ...codes]) assert.ok(op.responses[code], `${path} documents ${code}`)
      if (token) assert.deepEqual(op.security, TOKEN, `${path} takes a token`)
      else assert.equal(op.security, undefined, `${path} needs no login`)
      if (method === 'post') {
        const body = op.requestBody?.content['application/json']
        assert.ok(body?.example, `${path} has an example body`)
      }
    }
    const short = doc.paths['/buyer/checkout']?.post?.responses['517']?.content?.['application/json']?.schema
    assert.ok(short?.properties && 'store_id' in short.properties && 'book_id' in short.properties)
  })
})
