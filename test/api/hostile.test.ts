/**
 * Hostile request bodies found by the property-based tests, kept as plain examples: each is
 * refused with 400 naming the field, and nothing is stored.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { LIMITS } from '../../src/limits.ts'
import { bookInfo, newShop, post, type Shop, startApp, stockOf, type TestApp } from '../support/helpers.ts'

let t: TestApp
let shop: Shop
before(async () => {
  t = await startApp()
  shop = await newShop(t.app, 1, 5)
})
after(() => t.close())

function nest(leaf: unknown, levels: number): unknown {
  let v = leaf
  for (let i = 0; i < levels; i++) v = { a: v }
  return v
}

async function listings(): Promise<number> {
  const r = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM listings')
  return r.rows[0]?.n ?? -1
}

function addBook(info: Record<string, unknown>) {
  return post(
    t.app,
    '/seller/add_book',
    { user_id: shop.seller.userId, store_id: shop.storeId, book_info: info, stock_level: 1 },
    shop.seller.token,
  )
}

describe('deeply nested extra fields of book_info', () => {
  test('a NUL character below the depth the guard used to search is refused, not a 500', async () => {
    const before = await listings()
    const r = await addBook({ ...bookInfo('deep-nul'), extra: nest('x\u0000y', 40) })
    assert.equal(r.status, 400, JSON.stringify(r.body))
    assert.match(r.body.message, /^body\/book_info\/extra/)
    assert.equal(await listings(), before)
  })

  test('a lone surrogate deep down is refused, not a 500', async () => {
    const r = await addBook({ ...bookInfo('deep-surrogate'), extra: nest('x\ud800y', 40) })
    assert.equal(r.status, 400, JSON.stringify(r.body))
  })

  test('arrays nested thousands deep are refused, not a 500', async () => {
    const body = `{"user_id":${JSON.stringify(shop.seller.userId)},"store_id":${JSON.stringify(shop.storeId)},"stock_level":1,"book_info":{"id":"deep-arrays","title":"t","price":1,"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`
    const res = await t.app.inject({
      method: 'POST',
      url: '/seller/add_book',
      headers: { token: shop.seller.token, 'content-type': 'application/json' },
      payload: body,
    })
    assert.equal(res.statusCode, 400, res.body)
    assert.match(res.json().message, /nested more than/)
    assert.equal(await listings(), 1)
  })

  test('nesting within the limit is still kept as an extra field', async () => {
    const extra = nest('leaf', LIMITS.maxJsonDepth - 4)
    const r = await addBook({ ...bookInfo('nested-ok'), extra })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    const row = await t.db.query<{ extra: Record<string, unknown> }>(
      'SELECT extra FROM listings WHERE store_id = $1 AND book_id = $2',
      [shop.storeId, 'nested-ok'],
    )
    assert.deepEqual(row.rows[0]?.extra, { extra })
  })
})

describe('add_stock_level', () => {
  test('adds copies and answers the new stock level (it used to fail on every call)', async () => {
    const bookId = shop.bookIds[0] as string
    const before = await stockOf(t.db, shop.storeId, bookId)
    const r = await post(
      t.app,
      '/seller/add_stock_level',
      { user_id: shop.seller.userId, store_id: shop.storeId, book_id: bookId, add_stock_level: 7 },
      shop.seller.token,
    )
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.stock_level, before + 7)
    assert.equal(await stockOf(t.db, shop.storeId, bookId), before + 7)
  })

  test('stock that would pass the 32-bit limit is refused with 400 and left as it was', async () => {
    const bookId = shop.bookIds[0] as string
    const before = await stockOf(t.db, shop.storeId, bookId)
    const r = await post(
      t.app,
      '/seller/add_stock_level',
      {
        user_id: shop.seller.userId,
        store_id: shop.storeId,
        book_id: bookId,
        add_stock_level: LIMITS.maxStock,
      },
      shop.seller.token,
    )
    assert.equal(r.status, 400, JSON.stringify(r.body))
    assert.match(r.body.message, /add_stock_level/)
    assert.equal(await stockOf(t.db, shop.storeId, bookId), before)
  })

  test('an unknown book is 515', async () => {
    const r = await post(
      t.app,
      '/seller/add_stock_level',
      { user_id: shop.seller.userId, store_id: shop.storeId, book_id: 'no-such-book', add_stock_level: 1 },
      shop.seller.token,
    )
    assert.equal(r.status, 515, JSON.stringify(r.body))
  })
})
