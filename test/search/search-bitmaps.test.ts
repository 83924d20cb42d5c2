import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Db } from '../../src/db/db.ts'
import { searchBitmaps } from '../../src/repositories/search/bitmaps.ts'
import { type SearchRequest, searchListings } from '../../src/repositories/search.ts'
import { BITMAP_BLOCK } from '../../src/search/encoding.ts'
import { planSearch, type SearchPlan } from '../../src/search/plan.ts'
import { parseScope, textQuery } from '../../src/search/query.ts'
import { segmenter } from '../../src/search/segmenter.ts'
import { VOCABULARY } from '../../tools/catalog/synthetic.ts'
import {
  addBook,
  bookInfo,
  newStore,
  newUser,
  startApp,
  type TestApp,
  type User,
} from '../support/helpers.ts'
import { byStatement, insertAcrossBlocks, search } from '../support/search-fixtures.ts'
import { assertSearchIndexExact } from '../support/search-index.ts'

// Searches by relevance of up to three words, filtered by tags and a store at most, are answered from
// search_bitmaps: they must answer exactly what the tsvector statement answers, and the bitmaps must
// follow every change.
let t: TestApp
let seller: User
let stores: string[]

before(async () => {
  t = await startApp()
  seller = await newUser(t.app, 'seller')
  stores = [await newStore(t.app, seller), await newStore(t.app, seller)]
  await insertAcrossBlocks(t.db, stores, { seed: 7, below: 150, straddle: 72, above: 150 })
})
after(() => t.close())

type BitmapsPlan = Extract<SearchPlan, { kind: 'bitmaps' }>

const one = async (db: Db, sql: string) => (await db.query<{ n: number }>(sql)).rows[0]?.n

test('the bitmaps and term counts hold exactly what the listings say after bulk loads across two blocks', async () => {
  assert.equal(await one(t.db, `SELECT count(DISTINCT doc / ${BITMAP_BLOCK})::int AS n FROM listings`), 2)
  await assertSearchIndexExact(t.db)
})

test('one word, with tag filters or in a store, from the bitmaps equals the tsvector search, on every page', async () => {
  const seg = segmenter()
  const all = parseScope(undefined) as Set<never>
  const words = [
    ...VOCABULARY.nouns.slice(0, 24),
    ...VOCABULARY.tags.slice(0, 8),
    '的',
    'python',
    '不存在的词',
  ]
  const filterSets = [
    {},
    { tags: ['小说'] },
    { tags: ['历史'] },
    { tags: ['文学', '中国'] },
    { tags: [VOCABULARY.tags[20] as string] },
    { tags: ['不存在的标签'] },
    { storeId: stores[0] as string },
    { storeId: stores[1] as string, tags: ['小说'] },
    { storeId: 'no-such-store' },
  ]
  const pages = [
    { limit: 20, offset: 0 },
    { limit: 7, offset: 14 },
    { limit: 3, offset: 40 },
    { limit: 10, offset: 100_000 },
  ]
  let answered = 0
  let fromBitmaps = 0
  let nonEmpty = 0
  for (const word of words) {
    const text = textQuery(seg, word, all)
    for (const filters of filterSets) {
      for (const page of pages) {
        const req: SearchRequest = { text, filters, sort: 'relevance', ...page }
        const plan = planSearch(req)
        const what = `${word} with ${JSON.stringify(filters)} at ${page.offset}`
        // One character also matches titles holding it, which no bitmap records: the statement answers.
        assert.equal(plan.kind, text.bitmaps ? 'bitmaps' : 'statement', what)
        if ([...word].length === 1) assert.equal(text.bitmaps, null, what)
        if (plan.kind === 'bitmaps') fromBitmaps++
        const slow = await searchListings(t.db, byStatement(req))
        assert.deepEqual(await searchListings(t.db, req), slow, what)
        answered++
        if (slow.hits.length > 0) nonEmpty++
      }
    }
  }
  assert.ok(fromBitmaps >= 900, `${fromBitmaps} of ${answered} searches from bitmaps`)
  assert.ok(nonEmpty >= 150, `${nonEmpty} of them found something`)
})

test('several words, or one word in a scope, from the bitmaps equal the tsvector statement, on every page', async () => {
  const seg = segmenter()
  const n = VOCABULARY.nouns
  const g = VOCABULARY.tags
  const queries = [
    ...Array.from({ length: 10 }, (_, i) => `${n[i]} ${g[i]}`),
    ...Array.from({ length: 4 }, (_, i) => `${n[i]} ${n[i + 10]}`),
    `${n[0]} ${n[1]} ${g[2]}`,
    `${g[0]} ${g[1]} ${g[3]} ${g[4]}`, // four words: too many for the bitmaps
    ...g.slice(0, 6),
    '外国文学',
    '历史小说',
    '中国历史',
    ...n.slice(0, 3).map((w) => `的${w.slice(0, 1)}`),
    '心',
    'python 编程',
    '不存在的词 小说',
  ]
  const scopes = [undefined, 'title', 'tags', 'title,tags', 'author,tags', 'title,author,tags', 'author']
  const tagSets = [[], ['小说'], ['文学', '中国']]
  const pages = [
    { limit: 20, offset: 0 },
    { limit: 7, offset: 13 },
    { limit: 50, offset: 60 },
    { limit: 10, offset: 100_000 },
  ]
  let answered = 0
  let nonEmpty = 0
  let deep = 0
  let withinTier = 0
  for (const q of queries)
    for (const scopeName of scopes) {
      const text = textQuery(seg, q, parseScope(scopeName) as Set<never>)
      if (!text.bitmaps) continue
      for (const tags of tagSets)
        for (const page of pages) {
          const req: SearchRequest = { text, filters: { tags }, sort: 'relevance', ...page }
          const slow = await searchListings(t.db, byStatement(req))
          const what = `${q} in ${scopeName ?? 'all'} with [${tags}] at ${page.offset}`
          const plan: BitmapsPlan = {
            kind: 'bitmaps',
            order: 'relevance',
            excluding: null,
            query: text.bitmaps,
            tags,
            storeId: undefined,
            why: '',
          }
          assert.deepEqual(await searchBitmaps(t.db, plan, req), slow, what)
          assert.deepEqual(await searchListings(t.db, req), slow, `${what}: searchListings`)
          answered++
          if (slow.hits.length > 0) nonEmpty++
          if (page.offset > 0 && slow.hits.length > 0) deep++
          const scores = slow.hits.map((h) => h.score)
          if (
            scores.some(
              (x, i) => i > 0 && Math.floor(x) === Math.floor(scores[i - 1] as number) && x !== scores[i - 1],
            )
          )
            withinTier++
        }
    }
  assert.ok(answered >= 1000, `${answered} searches from bitmaps`)
  assert.ok(withinTier >= 30, `${withinTier} pages ordered by the sum of levels within a tier`)
  assert.ok(nonEmpty >= 300, `${nonEmpty} of them found something`)
  assert.ok(deep >= 50, `${deep} of them past the first page`)
})

test('queries the bitmaps cannot decide exactly keep to the tsvector statement', () => {
  const seg = segmenter()
  const cases: [string, string | undefined][] = [
    ['小说 历史 文学 中国', undefined], // more than three words
    ['小说 历史', 'book_intro'], // intro and content have no bitmaps
    ['小说 历史', 'title,content'],
    ['的心灵', 'title'], // a substring of three characters needs the title text
    ['心', 'title'], // single characters of titles have no bitmaps
  ]
  for (const [q, scope] of cases)
    assert.equal(textQuery(seg, q, parseScope(scope) as Set<never>).bitmaps, null, `${q} in ${scope}`)
  // One word over every field ranks by the same rule as any query, and the bitmaps hold it.
  const one = textQuery(seg, '小说', parseScope(undefined) as Set<never>)
  assert.deepEqual(one.bitmaps?.match, [['w']])
})

test('the bitmaps and term counts follow added, retagged, reworded and deleted listings in the same statement', async () => {
  const storeId = stores[1] as string
  const find = async (q: string, tag: string) => (await search(t.app, { q, tag })).total
  await addBook(t.app, seller, storeId, {
    ...bookInfo('retag'),
    title: '青铜时代札记',
    tags: ['考古', '新标签'],
  })
  assert.equal(await find('青铜', '新标签'), 1)
  await t.db.query(
    `UPDATE listings SET tags = ARRAY['另一个标签'] WHERE store_id = $1 AND book_id = 'retag'`,
    [storeId],
  )
  assert.equal(await find('青铜', '新标签'), 0)
  assert.equal(await find('青铜', '另一个标签'), 1)
  await assertSearchIndexExact(t.db)

  // A stock change that leaves copies in stock names no search column or tag and crosses no zero:
  // no trigger fires, and no row of the bitmaps or term counts is even rewritten (xmin is the
  // transaction that last wrote the row). One that crosses zero queues the listing for its bit of
  // kind 'o' (test/search/search-facets-bitmaps.test.ts).
  const state = async () => [
    (await t.db.query('SELECT kind, key, block, bits::text, xmin::text FROM search_bitmaps ORDER BY 1, 2, 3'))
      .rows,
    (await t.db.query('SELECT term, listings, xmin::text FROM search_terms ORDER BY 1')).rows,
  ]
  const before = await state()
  const changed = await t.db.query(
    'UPDATE listings SET stock_level = stock_level + 1 WHERE store_id = $1 AND stock_level > 0',
    [storeId],
  )
  assert.ok(changed.rowCount > 0)
  assert.deepEqual(await state(), before)
  assert.equal((await t.db.query('SELECT 1 FROM search_stock_pending')).rowCount, 0)

  await t.db.query(
    `UPDATE listings SET title = '白银时代', search_vec = $2::tsvector, title_grams = ''::tsvector
      WHERE store_id = $1 AND book_id = 'retag'`,
    [storeId, `'白银':1A '时代':2A`],
  )
  assert.equal(await find('青铜', '另一个标签'), 0)
  assert.equal(await find('白银', '另一个标签'), 1)
  await assertSearchIndexExact(t.db)

  await t.db.query(`DELETE FROM listings WHERE store_id = $1 AND book_id = 'retag'`, [storeId])
  assert.equal(await find('白银', '另一个标签'), 0)
  await assertSearchIndexExact(t.db)
})

test('books added concurrently with shared words and tags keep every total exact', async () => {
  const storeId = stores[0] as string
  const before = (await search(t.app, { q: '星云', tag: '天文' })).total
  await Promise.all(
    Array.from({ length: 16 }, (_, i) =>
      addBook(t.app, seller, storeId, {
        ...bookInfo(`nebula-${i}`),
        title: `星云 第${i}卷`,
        tags: ['天文', '科普', `卷${i}`],
      }),
    ),
  )
  const r = await search(t.app, { q: '星云', tag: '天文', page_size: 100 })
  assert.equal(r.total, before + 16)
  assert.equal(r.books.length, before + 16)
  assert.equal((await search(t.app, { q: '星云', tag: ['天文', '卷3'] })).total, 1)
  await assertSearchIndexExact(t.db)
})
