/**
 * Facets of a search (facets=tags,price,stores): counts over the whole match with every filter,
 * checked against the same counts computed in JavaScript over the listings the search pages through,
 * and over the generated listings themselves for searches by filters alone.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Facets } from '../../src/api/catalog.ts'
import { FacetColumns } from '../../src/repositories/facet-columns.ts'
import { searchFacets } from '../../src/repositories/facets.ts'
import { insertListings, type NewListing } from '../../src/repositories/listings.ts'
import { FACET_TOP, PRICE_BUCKETS } from '../../src/search/facets.ts'
import { parseScope, textQuery } from '../../src/search/query.ts'
import { segmenter } from '../../src/search/segmenter.ts'
import { syntheticListing } from '../../tools/catalog/synthetic.ts'
import { call, newStore, newUser, startApp, type TestApp } from '../support/helpers.ts'
import { allPages, type Hit } from '../support/search-fixtures.ts'

const N = 500
let t: TestApp
let stores: string[]
let books: NewListing[]

before(async () => {
  t = await startApp()
  const seller = await newUser(t.app, 'seller')
  stores = []
  for (let i = 0; i < 25; i++) stores.push(await newStore(t.app, seller))
  books = Array.from({ length: N }, (_, i) => syntheticListing(i, { storeIds: stores, seed: 11 }))
  // A listing that repeats a tag counts once for it.
  books.push({ ...syntheticListing(N, { storeIds: stores, seed: 11 }), tags: ['小说', '小说', '历史'] })
  await t.db.transaction(async (tx) => {
    for (let i = 0; i < books.length; i += 200) await insertListings(tx, books.slice(i, i + 200))
  })
})
after(() => t.close())

type Params = Record<string, string | number | boolean | string[]>

/** The facets as the API defines them, counted in JavaScript over the given listings. */
function reference(
  hits: { tags: readonly string[]; price: number; store_id: string; stock_level: number }[],
  storeScoped: boolean,
): Facets {
  const top = <K extends string>(counts: Map<string, number>, name: K) =>
    [...counts]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, FACET_TOP)
      .map(([v, count]) => ({ [name]: v, count }) as { [k in K]: string } & { count: number })
  const tags = new Map<string, number>()
  const byStore = new Map<string, number>()
  for (const h of hits) {
    for (const tag of new Set(h.tags)) tags.set(tag, (tags.get(tag) ?? 0) + 1)
    byStore.set(h.store_id, (byStore.get(h.store_id) ?? 0) + 1)
  }
  return {
    tags: top(tags, 'value'),
    price: PRICE_BUCKETS.map(({ min, max }) => ({
      min,
      max,
      count: hits.filter((h) => h.price >= min && (max === null || h.price < max)).length,
    })),
    ...(storeScoped ? {} : { stores: top(byStore, 'store_id') }),
    in_stock: hits.filter((h) => h.stock_level > 0).length,
  }
}

async function facetsOf(params: Params) {
  const r = await call(t.app, 'GET', `/search/books?${qs({ ...params, facets: 'tags,price,stores' })}`)
  assert.equal(r.status, 200, JSON.stringify(r.body))
  return r.body as unknown as { total: number; facets: Facets; facets_exact: boolean; books: Hit[] }
}

function qs(params: Params) {
  const out = new URLSearchParams()
  for (const [k, v] of Object.entries(params))
    for (const x of Array.isArray(v) ? v : [v]) out.append(k, String(x))
  return out.toString()
}

const SEARCHES: Params[] = [
  {},
  { q: '城市' },
  { q: '心灵' },
  { q: '心灵 历史' },
  { q: '的城', scope: 'title' },
  { q: 'python' },
  { q: '城市', scope: 'tags,title' },
  { q: '城市', tag: '小说' },
  { q: '心灵', in_stock: true, min_price: 2000, max_price: 9000 },
  { q: '历史', author: '王' },
  { tag: ['小说'] },
  { tag: ['小说', '历史'] },
  { min_price: 5000, max_price: 20_000, in_stock: true },
  { q: '城市', store_id: 'STORE0' },
  { store_id: 'STORE1', sort: 'price_asc' },
  { q: '没有这个词' },
]

describe('facets equal counts over the whole match', () => {
  test('for keyword, filter and store searches, whatever page is asked', async () => {
    let nonEmpty = 0
    for (const raw of SEARCHES) {
      const params: Params = { ...raw }
      if (params.store_id === 'STORE0') params.store_id = stores[0] as string
      if (params.store_id === 'STORE1') params.store_id = stores[1] as string
      const match = (await allPages(t.app, params, 100)).flatMap((p) => p.books)
      const expected = reference(match, params.store_id !== undefined)
      for (const page of [1, 3, 1000]) {
        const got = await facetsOf({ ...params, page, page_size: 7 })
        assert.equal(got.total, match.length)
        assert.deepEqual(got.facets, expected, `${JSON.stringify(params)} page ${page}`)
        assert.equal(got.facets_exact, true)
      }
      if (match.length > 0) nonEmpty++
    }
    assert.ok(nonEmpty >= 12, `most searches match something (${nonEmpty})`)
  })

  test('by filters alone, they equal counts over the generated listings', async () => {
    const match = books.filter((b) => b.tags.includes('小说') && b.price >= 2000 && b.stockLevel > 0)
    assert.ok(match.length > 20)
    const got = await facetsOf({ tag: '小说', min_price: 2000 })
    const expected = reference(
      books
        .filter((b) => b.tags.includes('小说') && b.price >= 2000)
        .map((b) => ({ tags: b.tags, price: b.price, store_id: b.storeId, stock_level: b.stockLevel })),
      false,
    )
    assert.deepEqual(got.facets, expected)
    assert.equal(
      (await facetsOf({ tag: '小说', min_price: 2000, in_stock: true })).facets.in_stock,
      match.length,
    )
    // The listing that repeats 小说 counts once.
    const repeated = await facetsOf({ tag: ['小说', '历史'] })
    assert.equal(repeated.facets.tags?.find((x) => x.value === '小说')?.count, repeated.total)
  })
})

describe('the facets parameter', () => {
  test('names any subset; without it the response has no facets', async () => {
    const r = await call(t.app, 'GET', '/search/books?q=城市&facets=price')
    assert.equal(r.status, 200)
    assert.deepEqual(Object.keys(r.body.facets as object).sort(), ['in_stock', 'price'])
    assert.equal((r.body.facets as Facets).price?.length, PRICE_BUCKETS.length)
    const none = await call(t.app, 'GET', '/search/books?q=城市')
    assert.equal(none.body.facets, undefined)
    assert.equal(none.body.facets_exact, undefined)
    const spaced = await call(t.app, 'GET', '/search/books?q=城市&facets=tags,%20stores')
    assert.deepEqual(Object.keys(spaced.body.facets as object).sort(), ['in_stock', 'stores', 'tags'])
  })

  test('stores are left out in one store', async () => {
    const r = await call(t.app, 'GET', `/search/books?store_id=${stores[2]}&facets=stores,tags`)
    assert.equal(r.status, 200)
    assert.deepEqual(Object.keys(r.body.facets as object).sort(), ['in_stock', 'tags'])
  })

  test('an unknown kind is 400 naming facets; an unknown store is still 513', async () => {
    for (const bad of ['colour', 'tags,colour', 'tags,,price', 'TAGS']) {
      const r = await call(t.app, 'GET', `/search/books?q=城市&facets=${encodeURIComponent(bad)}`)
      assert.equal(r.status, 400, bad)
      assert.match(r.body.message as string, /facets/)
    }
    const long = await call(t.app, 'GET', `/search/books?facets=${'tags,'.repeat(50)}`)
    assert.equal(long.status, 400)
    const r = await call(t.app, 'GET', '/search/books?store_id=nowhere&facets=tags')
    assert.equal(r.status, 513)
  })
})

test('above the exact bound, counts are scaled from a sample and marked inexact', async () => {
  const text = textQuery(segmenter(), '城市', parseScope(undefined) as Set<never>)
  const match = (await allPages(t.app, { q: '城市' }, 100)).flatMap((p) => p.books)
  const kinds = new Set(['tags', 'price', 'stores'] as const)
  const exact = await searchFacets(
    t.db,
    new FacetColumns(),
    text,
    {},
    kinds,
    { total: match.length },
    { exactUpTo: match.length },
  )
  assert.equal(exact.exact, true)
  const sampled = await searchFacets(
    t.db,
    new FacetColumns(),
    text,
    {},
    kinds,
    { total: match.length },
    { exactUpTo: Math.floor(match.length / 2) },
  )
  assert.equal(sampled.exact, false)
  const sum = (xs: { count: number }[] | undefined) => (xs ?? []).reduce((a, b) => a + b.count, 0)
  // Scaled by 2 (give or take the rounding of each count): the buckets still add up to about the match.
  assert.ok(Math.abs(sum(sampled.price) - match.length) <= PRICE_BUCKETS.length)
  assert.ok(sampled.in_stock <= match.length + 1)
})

test('a caller with a budget (the web page) gets facets over the rows only for a match within it', async () => {
  // An author filter: counted over the matching rows.
  const params = {
    q: '历史',
    author: '王',
    page: 1,
    page_size: 20,
    sort: 'relevance' as const,
    facets: 'tags,price',
  }
  const within = await t.app.services.catalog.search(params, { facetsFromRowsUpTo: 100_000 })
  assert.ok(within.total > 1)
  assert.ok(within.facets?.tags && within.facets.price)
  const over = await t.app.services.catalog.search(params, { facetsFromRowsUpTo: within.total - 1 })
  assert.equal(over.total, within.total)
  assert.deepEqual(over.books, within.books, 'the page itself is the same')
  assert.equal(over.facets, undefined)
  assert.equal(over.facets_exact, undefined)
  // Without the author, from bitmaps: counted whatever the bound.
  const word = { ...params, author: undefined }
  const fromBitmaps = await t.app.services.catalog.search(word, { facetsFromRowsUpTo: 0 })
  assert.ok(fromBitmaps.total > 1)
  assert.deepEqual(fromBitmaps.facets, (await t.app.services.catalog.search(word)).facets)
})
