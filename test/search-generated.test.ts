import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { insertListings, type NewListing } from '../src/repositories/listings.ts'
import { syntheticListing } from '../tools/catalog/synthetic.ts'
import { newStore, newUser, startApp, type TestApp } from './helpers.ts'
import { allPages, ids, search } from './search-fixtures.ts'

// Searches over a generated catalogue, checked against the same listings filtered in JavaScript.
const N = 400
let t: TestApp
let stores: string[]
let books: NewListing[]

before(async () => {
  t = await startApp()
  const seller = await newUser(t.app, 'seller')
  stores = [await newStore(t.app, seller), await newStore(t.app, seller), await newStore(t.app, seller)]
  books = Array.from({ length: N }, (_, i) => syntheticListing(i, { storeIds: stores, seed: 7 }))
  const inserted = await t.db.transaction(async (tx) => {
    let n = 0
    for (let i = 0; i < N; i += 150) n += await insertListings(tx, books.slice(i, i + 150))
    // Loading the same rows again inserts nothing.
    n += await insertListings(tx, books.slice(0, 10))
    return n
  })
  assert.equal(inserted, N)
})
after(() => t.close())

const key = (b: { storeId: string; bookId: string }) => `${b.storeId}/${b.bookId}`
const keys = (p: { books: { store_id: string; book_id: string }[] }[]) =>
  p.flatMap((x) => x.books.map((b) => `${b.store_id}/${b.book_id}`))

/** Walks every page and checks the paging invariants; returns the keys in order. */
async function walk(params: Record<string, string | number | boolean | string[]>, pageSize: number) {
  const pages = await allPages(t.app, params, pageSize)
  const total = pages[0]?.total ?? 0
  for (const [i, p] of pages.entries()) {
    assert.equal(p.total, total, 'total is the same on every page')
    const last = i === pages.length - 1
    if (!last) assert.equal(p.books.length, pageSize, `page ${i + 1} is full`)
  }
  const all = keys(pages)
  assert.equal(all.length, total, 'the pages together hold exactly total books')
  assert.equal(new Set(all).size, total, 'no book appears twice')
  return all
}

test('browsing everything pages through every listing once, in the same order as one big page', async () => {
  const all = await walk({}, 37)
  assert.equal(all.length, N)
  const big = keys(await allPages(t.app, {}, 100))
  assert.deepEqual(all, big)
})

test('a tag filter with price range and stock finds exactly the matching listings, on every sort', async () => {
  const tag = '小说'
  const expected = books
    .filter((b) => b.tags.includes(tag) && b.price >= 3000 && b.price <= 15_000 && b.stockLevel > 0)
    .map(key)
  assert.ok(expected.length > 10, 'the generator makes some such books')
  for (const sort of ['relevance', 'price_asc', 'price_desc', 'pub_year_desc', 'sales_desc']) {
    const got = await walk({ tag, min_price: 3000, max_price: 15_000, in_stock: true, sort }, 9)
    assert.deepEqual(new Set(got), new Set(expected), sort)
  }
})

test('a keyword search finds the same listings on every sort, each sort in order across pages', async () => {
  const q = '城市'
  const byRelevance = await walk({ q }, 7)
  assert.ok(byRelevance.length > 20, 'a common word')
  for (const sort of ['price_asc', 'price_desc', 'pub_year_desc', 'sales_desc']) {
    const got = await walk({ q, sort }, 7)
    assert.deepEqual(new Set(got), new Set(byRelevance), sort)
    // Small pages walk the same order as one big page.
    assert.deepEqual(got, keys(await allPages(t.app, { q, sort }, 100)), sort)
  }
  for (const [sort, sign] of [
    ['price_asc', 1],
    ['price_desc', -1],
  ] as const) {
    const prices = (await allPages(t.app, { q, sort }, 9)).flatMap((p) => p.books.map((b) => b.price))
    assert.deepEqual(
      prices,
      [...prices].sort((x, y) => sign * (x - y)),
      sort,
    )
  }
})

test('price_asc pages are ordered across page boundaries', async () => {
  const pages = await allPages(t.app, { sort: 'price_asc', store_id: stores[1] as string }, 13)
  const prices = pages.flatMap((p) => p.books.map((b) => b.price))
  assert.deepEqual(
    prices,
    [...prices].sort((x, y) => x - y),
  )
  assert.equal(prices.length, books.filter((b) => b.storeId === stores[1]).length)
})

test('a title word finds every listing whose title contains it, those first, then other matches', async () => {
  const word = '心灵'
  const inTitle = new Set(books.filter((b) => b.title.includes(word)).map(key))
  assert.ok(inTitle.size > 5)
  const got = await walk({ q: word }, 20)
  assert.deepEqual(new Set(got.slice(0, inTitle.size)), inTitle)
  // Every other listing mentioning the word somewhere is found as well.
  const anywhere = books.filter((b) =>
    [b.title, b.bookIntro ?? '', b.content ?? ''].some((s) => s.includes(word)),
  )
  assert.deepEqual(new Set(got), new Set(anywhere.map(key)))
})

test('store-scoped keyword search only returns that store', async () => {
  const store = stores[2] as string
  const got = await walk({ q: '历史', store_id: store }, 11)
  assert.ok(got.length > 0)
  assert.ok(got.every((k) => k.startsWith(`${store}/`)))
  const site = await search(t.app, { q: '历史', page_size: 1 })
  assert.ok(site.total > got.length)
})

test('scores never increase down the relevance order', async () => {
  const pages = await allPages(t.app, { q: '城市 历史' }, 25)
  const scores = pages.flatMap((p) => p.books.map((b) => b.score))
  assert.ok(scores.length > 0)
  for (let i = 1; i < scores.length; i++) assert.ok((scores[i - 1] as number) >= (scores[i] as number))
  assert.deepEqual(ids(pages[0] as never).length, Math.min(25, scores.length))
})
