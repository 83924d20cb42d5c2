import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Converter } from 'opencc-js'
import { insertListings, type NewListing } from '../../src/repositories/listings.ts'
import { normalise } from '../../src/search/segmenter.ts'
import { syntheticListing } from '../../tools/catalog/synthetic.ts'
import { newStore, newUser, startApp, type TestApp } from '../support/helpers.ts'
import { allPages, ids, search } from '../support/search-fixtures.ts'

// Searches over a generated catalogue, checked against the same listings filtered in JavaScript.
const N = 400
let t: TestApp
let stores: string[]
let books: NewListing[]

before(async () => {
  t = await startApp()
  const seller = await newUser(t.app, 'seller')
  stores = [await newStore(t.app, seller), await newStore(t.app, seller), await newStore(t.app, seller)]
  // Every third listing is written in traditional characters (Taiwan forms): search folds them.
  const traditional = Converter({ from: 'cn', to: 'tw' })
  books = Array.from({ length: N }, (_, i) => {
    const l = syntheticListing(i, { storeIds: stores, seed: 7 })
    if (i % 3 !== 0) return l
    const tw = (s: string | null) => (s === null ? null : traditional(s))
    return { ...l, title: traditional(l.title), bookIntro: tw(l.bookIntro), content: tw(l.content) }
  })
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
/** The reference scan's notion of a text holding a word: as search folds both (src/search/fold.ts). */
const holds = (text: string, word: string) => normalise(text).includes(normalise(word))
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
  for (const sort of ['relevance', 'price_asc', 'price_desc', 'pub_year_desc', 'sales_desc', 'rating_desc']) {
    const got = await walk({ tag, min_price: 3000, max_price: 15_000, in_stock: true, sort }, 9)
    assert.deepEqual(new Set(got), new Set(expected), sort)
  }
})

test('a keyword search finds the same listings on every sort, each sort in order across pages', async () => {
  const q = '城市'
  const byRelevance = await walk({ q }, 7)
  assert.ok(byRelevance.length > 20, 'a common word')
  for (const sort of ['price_asc', 'price_desc', 'pub_year_desc', 'sales_desc', 'rating_desc']) {
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

test('rating_desc orders by average, then count, then newest, unrated last, on every search path', async () => {
  // Star counts set straight in the table (how reviews keep them is tested in reviews and
  // ratings-property): about half the listings rated, with many ties of average and of count.
  await t.db.query(
    `UPDATE listing_ratings SET n1 = (doc * 7) % 3, n2 = 0, n3 = (doc * 5) % 2, n4 = 0, n5 = (doc * 11) % 4
      WHERE doc % 2 = 0`,
  )
  const rated = await t.db.query<{ key: string; doc: number; avg: number | null; n: number }>(
    `SELECT store_id || '/' || book_id AS key, doc, average AS avg, rating_count AS n FROM listing_ratings`,
  )
  const byKey = new Map(rated.rows.map((r) => [r.key, r]))
  assert.ok(rated.rows.filter((r) => r.n > 0).length > N / 3, 'many listings are rated')
  const order = (a: string, b: string) => {
    const x = byKey.get(a)
    const y = byKey.get(b)
    if (!x || !y) throw new Error('a listing without ratings row')
    if (x.avg === null || y.avg === null)
      return (x.avg === null ? 1 : 0) - (y.avg === null ? 1 : 0) || y.doc - x.doc
    return y.avg - x.avg || y.n - x.n || y.doc - x.doc
  }
  const cases: Record<string, string | number | boolean | string[]>[] = [
    {},
    { store_id: stores[0] as string },
    { tag: '小说' },
    { tag: '小说', min_price: 3000, max_price: 15_000, in_stock: true },
    { q: '城市' },
    { q: '城市', store_id: stores[1] as string },
    { q: '城市', tag: '小说' },
    { q: '心灵 城市' },
    { q: '心灵', scope: 'title' },
    { q: '城', min_price: 2000 },
  ]
  for (const params of cases) {
    const got = await walk({ ...params, sort: 'rating_desc' }, 13)
    const same = await walk({ ...params, sort: 'price_asc' }, 50)
    assert.deepEqual(
      new Set(got),
      new Set(same),
      `rating_desc finds the same listings: ${JSON.stringify(params)}`,
    )
    assert.deepEqual(got, [...got].sort(order), `in rating order: ${JSON.stringify(params)}`)
  }
  // Hits carry the rating as the API rounds it.
  const page = await search(t.app, { sort: 'rating_desc', page_size: 5 })
  for (const hit of page.books) {
    const r = byKey.get(`${hit.store_id}/${hit.book_id}`)
    assert.equal(hit.rating_count, r?.n)
    assert.equal(hit.rating_average, r?.avg == null ? null : Math.round(r.avg * 100 + 1e-9) / 100)
  }
  await t.db.query('UPDATE listing_ratings SET n1 = 0, n2 = 0, n3 = 0, n4 = 0, n5 = 0')
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

for (const word of ['心灵', '心靈', '岁月', '歲月'])
  test(`a title word (${word}) finds every listing whose title holds it, in either script, those first, then other matches`, async () => {
    const inTitle = new Set(books.filter((b) => holds(b.title, word)).map(key))
    assert.ok(inTitle.size > 5)
    // Both scripts are among them.
    assert.ok([...inTitle].some((k) => books.find((b) => key(b) === k)?.title.includes(word)))
    assert.ok([...inTitle].some((k) => !books.find((b) => key(b) === k)?.title.includes(word)))
    const got = await walk({ q: word }, 20)
    assert.deepEqual(new Set(got.slice(0, inTitle.size)), inTitle)
    // Every other listing mentioning the word somewhere is found as well.
    const anywhere = books.filter((b) =>
      [b.title, b.bookIntro ?? '', b.content ?? ''].some((s) => holds(s, word)),
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
