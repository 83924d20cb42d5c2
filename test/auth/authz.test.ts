import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import {
  bookInfo,
  call,
  countRows,
  newShop,
  newUser,
  post,
  type Shop,
  sessionCount,
  startApp,
  stockOf,
  type TestApp,
  type User,
  uid,
} from '../support/helpers.ts'

let t: TestApp
let alice: User
let bob: User
let shop: Shop

before(async () => {
  t = await startApp()
  alice = await newUser(t.app, 'alice')
  bob = await newUser(t.app, 'bob')
  shop = await newShop(t.app, 2, 5)
})
after(() => t.close())

const book = () => shop.bookIds[0] as string

/** Each token route with a body acting as `userId`. */
function tokenRoutes(userId: string): [string, Record<string, unknown>][] {
  return [
    ['/buyer/new_order', { user_id: userId, store_id: shop.storeId, books: [{ id: book(), count: 1 }] }],
    ['/seller/create_store', { user_id: userId, store_id: uid('store') }],
    [
      '/seller/add_book',
      { user_id: userId, store_id: shop.storeId, book_info: bookInfo(uid('b')), stock_level: 1 },
    ],
    [
      '/seller/add_stock_level',
      { user_id: userId, store_id: shop.storeId, book_id: book(), add_stock_level: 1 },
    ],
    ['/auth/logout', { user_id: userId }],
  ]
}

describe('a token is only good for its own user', () => {
  test("A's token with B's user_id → 401 on every token route, nothing written", async () => {
    const counts = async () => [
      await countRows(t.db, 'orders'),
      await countRows(t.db, 'stores'),
      await countRows(t.db, 'listings'),
      await stockOf(t.db, shop.storeId, book()),
      await sessionCount(t.db, alice.userId),
      await sessionCount(t.db, bob.userId),
    ]
    const before = await counts()
    for (const [url, body] of tokenRoutes(bob.userId)) {
      const r = await post(t.app, url, body, alice.token)
      assert.equal(r.status, 401, `${url}: ${JSON.stringify(r.body)}`)
    }
    // The store owner's user_id with someone else's token too.
    for (const [url, body] of tokenRoutes(shop.seller.userId)) {
      const r = await post(t.app, url, body, bob.token)
      assert.equal(r.status, 401, url)
    }
    // And a user id that does not exist: 401, not 511 (authorization is checked first).
    for (const [url, body] of tokenRoutes(uid('ghost'))) {
      const r = await post(t.app, url, body, alice.token)
      assert.equal(r.status, 401, url)
    }
    assert.deepEqual(await counts(), before)
  })

  test('no token at all → 401 on every token route', async () => {
    for (const [url, body] of tokenRoutes(alice.userId)) {
      const r = await post(t.app, url, body)
      assert.equal(r.status, 401, url)
    }
  })

  test('Authorization: Bearer is accepted wherever the token header is', async () => {
    const seller = await newUser(t.app, 'bearer')
    const auth = { authorization: `Bearer ${seller.token}` }
    const storeId = uid('store')
    assert.equal(
      (await call(t.app, 'POST', '/seller/create_store', { user_id: seller.userId, store_id: storeId }, auth))
        .status,
      200,
    )
    const bookId = uid('book')
    assert.equal(
      (
        await call(
          t.app,
          'POST',
          '/seller/add_book',
          { user_id: seller.userId, store_id: storeId, book_info: bookInfo(bookId), stock_level: 2 },
          auth,
        )
      ).status,
      200,
    )
    assert.equal(
      (
        await call(
          t.app,
          'POST',
          '/seller/add_stock_level',
          { user_id: seller.userId, store_id: storeId, book_id: bookId, add_stock_level: 3 },
          { authorization: `bearer ${seller.token}` },
        )
      ).status,
      200,
    )
    assert.equal(await stockOf(t.db, storeId, bookId), 5)
    const o = await call(
      t.app,
      'POST',
      '/buyer/new_order',
      { user_id: seller.userId, store_id: storeId, books: [{ id: bookId, count: 1 }] },
      auth,
    )
    assert.equal(o.status, 200)
    assert.equal(await stockOf(t.db, storeId, bookId), 4)
    // A wrong token header is not rescued by a good Authorization header, or the other way round:
    // the token header, when present, is the one used.
    const mixed = await call(
      t.app,
      'POST',
      '/seller/create_store',
      { user_id: seller.userId, store_id: uid('store') },
      { token: 'wrong', authorization: `Bearer ${seller.token}` },
    )
    assert.equal(mixed.status, 401)
  })

  test("a seller acting on another seller's store → 401 and the store is untouched", async () => {
    const intruder = await newUser(t.app, 'intruder')
    const bookId = uid('book')
    const a = await post(
      t.app,
      '/seller/add_book',
      { user_id: intruder.userId, store_id: shop.storeId, book_info: bookInfo(bookId), stock_level: 3 },
      intruder.token,
    )
    assert.equal(a.status, 401)
    const listed = await countRows(t.db, 'listings')
    const s = await post(
      t.app,
      '/seller/add_stock_level',
      { user_id: intruder.userId, store_id: shop.storeId, book_id: book(), add_stock_level: 100 },
      intruder.token,
    )
    assert.equal(s.status, 401)
    assert.equal(await countRows(t.db, 'listings'), listed)
    const r = await t.db.query('SELECT 1 FROM listings WHERE store_id = $1 AND book_id = $2', [
      shop.storeId,
      bookId,
    ])
    assert.equal(r.rowCount, 0)
    // Its owner can still do both.
    const own = await post(
      t.app,
      '/seller/add_stock_level',
      { user_id: shop.seller.userId, store_id: shop.storeId, book_id: book(), add_stock_level: 1 },
      shop.seller.token,
    )
    assert.equal(own.status, 200)
  })
})
