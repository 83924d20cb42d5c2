import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Db } from '../../src/db/db.ts'
import { insertListings } from '../../src/repositories/listings.ts'
import { type SearchFilters, searchListings } from '../../src/repositories/search.ts'
import { syntheticListing, VOCABULARY } from '../../tools/catalog/synthetic.ts'
import {
  addBook,
  addFunds,
  bookInfo,
  newStore,
  newUser,
  orderBooks,
  post,
  startApp,
  type TestApp,
  type User,
} from '../support/helpers.ts'
import { search } from '../support/search-fixtures.ts'

// Browsing by tag, price range and stock counts its total from listing_counts (migration 009): the
// totals must equal a count of the listings, and the counts must follow every write that changes a
// listing's tags, price or whether it is in stock.
let t: TestApp
let seller: User
let stores: string[]

before(async () => {
  t = await startApp()
  seller = await newUser(t.app, 'seller')
  stores = [await newStore(t.app, seller), await newStore(t.app, seller)]
  const books = Array.from({ length: 400 }, (_, i) => syntheticListing(i, { storeIds: stores, seed: 11 }))
  await t.db.transaction((tx) => insertListings(tx, books))
  // Some listings out of stock, so that in_stock counts differ from listings.
  await t.db.query('UPDATE listings SET stock_level = 0 WHERE doc % 5 = 0')
})
after(() => t.close())

/** listing_counts equals the counts made from the listings themselves, row for row (zero rows aside). */
async function assertCountsExact(db: Db) {
  const kept = `SELECT kind, tag, price, listings, in_stock FROM listing_counts WHERE listings <> 0 OR in_stock <> 0`
  const truth = `SELECT k.kind, k.tag, l.price, count(*)::int, (count(*) FILTER (WHERE l.stock_level > 0))::int
                   FROM listings l, listing_counts_keys(l.tags) k GROUP BY 1, 2, 3`
  for (const [a, b] of [
    [kept, truth],
    [truth, kept],
  ]) {
    const r = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${a} EXCEPT ${b}) x`)
    assert.equal(r.rows[0]?.n, 0, 'listing_counts differs from the listings')
  }
}

const countRows = async (db: Db, sql: string, params: unknown[] = []) =>
  (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM listings l WHERE ${sql}`, params)).rows[0]?.n

test('the counts equal the listings after a bulk load and stock updates in bulk', async () => {
  assert.ok(((await countRows(t.db, 'stock_level = 0')) ?? 0) > 50)
  await assertCountsExact(t.db)
})

test('browse totals from the counts equal a count of the listings, for every filter combination', async () => {
  const prices = (await t.db.query<{ p: number }>('SELECT price AS p FROM listings ORDER BY price')).rows.map(
    (r) => Number(r.p),
  )
  const at = (f: number) => prices[Math.floor(f * (prices.length - 1))] as number
  const ranges: [number | undefined, number | undefined][] = [
    [undefined, undefined],
    [at(0.2), undefined],
    [undefined, at(0.6)],
    [at(0.3), at(0.5)],
    [at(0.4), at(0.4)], // one exact price
    [at(0.5) + 1, at(0.5) + 1], // probably no listing at this price
    [0, 10 ** 12],
  ]
  const tags = [undefined, '小说', '历史', VOCABULARY.tags[30], '不存在的标签']
  let nonZero = 0
  let checked = 0
  for (const tag of tags)
    for (const [minPrice, maxPrice] of ranges)
      for (const inStock of [undefined, true]) {
        const filters: SearchFilters = { tags: tag === undefined ? [] : [tag], minPrice, maxPrice, inStock }
        const where = ['true']
        const params: unknown[] = []
        if (tag !== undefined) where.push(`l.tags @> ARRAY[$${params.push(tag)}::text]`)
        if (minPrice !== undefined) where.push(`l.price >= $${params.push(minPrice)}`)
        if (maxPrice !== undefined) where.push(`l.price <= $${params.push(maxPrice)}`)
        if (inStock) where.push('l.stock_level > 0')
        const expected = await countRows(t.db, where.join(' AND '), params)
        for (const sort of ['relevance', 'price_asc'] as const) {
          const r = await searchListings(t.db, { filters, sort, limit: 10, offset: 5 })
          assert.equal(r.total, expected, JSON.stringify({ filters, sort }))
          assert.equal(r.hits.length, Math.max(0, Math.min(10, (expected ?? 0) - 5)))
          for (const h of r.hits) {
            if (tag !== undefined) assert.ok(h.tags.includes(tag))
            if (inStock) assert.ok(h.stock_level > 0)
            assert.ok(h.price >= (minPrice ?? 0) && h.price <= (maxPrice ?? Number.MAX_SAFE_INTEGER))
          }
          checked++
        }
        if ((expected ?? 0) > 0) nonZero++
      }
  assert.equal(checked, 140)
  assert.ok(nonZero >= 40, `${nonZero} combinations matched something`)
})

test('several tags, an author or a store are counted from the listings and agree', async () => {
  const storeId = stores[0] as string
  const cases: [SearchFilters, string, unknown[]][] = [
    [{ tags: ['小说', '历史'], inStock: true }, `l.tags @> ARRAY['小说', '历史'] AND l.stock_level > 0`, []],
    [
      { storeId, inStock: true, minPrice: 1000 },
      'l.store_id = $1 AND l.stock_level > 0 AND l.price >= 1000',
      [storeId],
    ],
    [{ author: '张', maxPrice: 5000 }, `strpos(coalesce(l.author, ''), '张') > 0 AND l.price <= 5000`, []],
  ]
  for (const [filters, sql, params] of cases) {
    const expected = await countRows(t.db, sql, params)
    assert.ok((expected ?? 0) > 0, sql)
    const r = await searchListings(t.db, { filters, sort: 'price_asc', limit: 5, offset: 0 })
    assert.equal(r.total, expected, sql)
  }
})

test('orders that sell a book out, cancels and restocking move it in and out of the in-stock counts', async () => {
  const storeId = stores[1] as string
  const buyer = await newUser(t.app, 'buyer')
  await addFunds(t.app, buyer, 10_000_000)
  const price = 777_777
  await addBook(t.app, seller, storeId, { ...bookInfo('scarce', price), tags: ['稀缺', '小说'] }, 2)
  const inStock = async () =>
    (await search(t.app, { tag: '稀缺', min_price: price, max_price: price, in_stock: 'true' })).total
  const listed = async () => (await search(t.app, { tag: '稀缺', min_price: price, max_price: price })).total
  assert.equal(await inStock(), 1)

  // One copy of two sold: still in stock, and the counts are not touched at all.
  const snapshot = () => t.db.query('SELECT * FROM listing_counts ORDER BY kind, tag, price')
  const before = (await snapshot()).rows
  const first = await orderBooks(t.app, buyer, storeId, [{ id: 'scarce', count: 1 }])
  assert.deepEqual((await snapshot()).rows, before)
  assert.equal(await inStock(), 1)

  const second = await orderBooks(t.app, buyer, storeId, [{ id: 'scarce', count: 1 }])
  assert.equal(await inStock(), 0)
  assert.equal(await listed(), 1)
  await assertCountsExact(t.db)

  const cancel = await post(
    t.app,
    '/buyer/cancel_order',
    { user_id: buyer.userId, order_id: second },
    buyer.token,
  )
  assert.equal(cancel.status, 200)
  assert.equal(await inStock(), 1)
  await post(t.app, '/buyer/cancel_order', { user_id: buyer.userId, order_id: first }, buyer.token)
  await orderBooks(t.app, buyer, storeId, [{ id: 'scarce', count: 2 }])
  assert.equal(await inStock(), 0)
  const restock = await post(
    t.app,
    '/seller/add_stock_level',
    { user_id: seller.userId, store_id: storeId, book_id: 'scarce', add_stock_level: 3 },
    seller.token,
  )
  assert.equal(restock.status, 200)
  assert.equal(await inStock(), 1)
  await assertCountsExact(t.db)
})

test('repricing, retagging and deleting a listing move its counts in the same statement', async () => {
  const storeId = stores[0] as string
  await addBook(t.app, seller, storeId, { ...bookInfo('moving', 123_456), tags: ['搬家', '搬家'] }, 1)
  const total = async (f: Record<string, string | number>) => (await search(t.app, f)).total
  assert.equal(await total({ tag: '搬家', min_price: 123_456, max_price: 123_456 }), 1)
  await t.db.query(`UPDATE listings SET price = 654321, tags = ARRAY['新家'] WHERE book_id = 'moving'`)
  assert.equal(await total({ tag: '搬家', min_price: 0 }), 0)
  assert.equal(await total({ tag: '新家', min_price: 654_321, max_price: 654_321, in_stock: 'true' }), 1)
  await assertCountsExact(t.db)
  await t.db.query(`UPDATE listings SET stock_level = 0, price = 1 WHERE book_id = 'moving'`)
  assert.equal(await total({ tag: '新家', max_price: 1, in_stock: 'true' }), 0)
  assert.equal(await total({ tag: '新家', max_price: 1 }), 1)
  await t.db.query(`DELETE FROM listings WHERE book_id = 'moving'`)
  assert.equal(await total({ tag: '新家', max_price: 1 }), 0)
  await assertCountsExact(t.db)
})

test('concurrent sell-outs and additions at the same prices and tags keep the counts exact', async () => {
  const storeId = stores[1] as string
  const buyer = await newUser(t.app, 'buyer')
  await addFunds(t.app, buyer, 10_000_000)
  const ids = Array.from({ length: 12 }, (_, i) => `race-${i}`)
  for (const id of ids)
    await addBook(t.app, seller, storeId, { ...bookInfo(id, 4_242), tags: ['抢购', '小说'] }, 1)
  const totalInStock = async () =>
    (await search(t.app, { tag: '抢购', max_price: 4_242, in_stock: 'true' })).total
  assert.equal(await totalInStock(), 12)
  // Every order takes the last copy of two books, in opposite orders, while more books are added.
  const orders = ids.slice(0, 10).map((id, i) =>
    orderBooks(t.app, buyer, storeId, [
      { id, count: 1 },
      { id: ids[(i + 5) % 10] as string, count: 1 },
    ]).then(
      () => 'ok',
      () => 'refused',
    ),
  )
  const adds = Array.from({ length: 6 }, (_, i) =>
    addBook(t.app, seller, storeId, { ...bookInfo(`race-new-${i}`, 4_242), tags: ['抢购'] }, 1),
  )
  const outcomes = await Promise.all([...orders, ...adds])
  const placed = outcomes.filter((o) => o === 'ok').length
  assert.ok(placed >= 1)
  const soldOut = await countRows(t.db, `l.book_id LIKE 'race-%' AND stock_level = 0`)
  assert.equal(soldOut, placed * 2)
  assert.equal(await totalInStock(), 12 + 6 - placed * 2)
  await assertCountsExact(t.db)
})
