import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { insertListings, type NewListing } from '../../src/repositories/listings.ts'
import { type SearchRequest, searchListings } from '../../src/repositories/search.ts'
import { quote } from '../../src/search/lexemes.ts'
import { parseScope, textQuery } from '../../src/search/query.ts'
import { segmenter } from '../../src/search/segmenter.ts'
import { syntheticListing, VOCABULARY } from '../../tools/catalog/synthetic.ts'
import {
  addBook,
  bookInfo,
  newStore,
  newUser,
  startApp,
  type TestApp,
  type User,
} from '../support/helpers.ts'
import { byStatement, search } from '../support/search-fixtures.ts'
import { assertSearchIndexExact, mergeQueue } from '../support/search-index.ts'

// One-term searches, whichever plan answers them, must answer exactly what the tsvector statement
// answers: same total, same listings in the same order, same scores.
const N = 300
let t: TestApp
let seller: User
let stores: string[]

const extra = (id: string, storeId: string, over: Partial<NewListing>): NewListing => ({
  ...syntheticListing(0, { storeIds: [storeId] }),
  bookId: id,
  ...over,
})

before(async () => {
  t = await startApp()
  seller = await newUser(t.app, 'seller')
  stores = [await newStore(t.app, seller), await newStore(t.app, seller)]
  const books = Array.from({ length: N }, (_, i) => syntheticListing(i, { storeIds: stores, seed: 11 }))
  const s = stores[0] as string
  // Corner cases: a word only as a title substring, quotes and backslashes, author-only and tag-only words.
  books.push(
    extra('gram', s, { title: '女生日记', author: null, tags: [], bookIntro: null, content: null }),
    extra('quote', s, { title: "O'Neil back\\slash", author: "o'neil", tags: ['back\\slash'] }),
    extra('author-only', s, {
      title: '无题',
      author: '鲁迅',
      tags: ['杂文'],
      bookIntro: '鲁迅的杂文',
      content: null,
    }),
    extra('tag-only', s, { title: '无题', author: null, tags: ['鲁迅'], bookIntro: null, content: '鲁迅' }),
  )
  await t.db.transaction((tx) => insertListings(tx, books))
})
after(() => t.close())

test('a word is found in the fields that hold it, and a title pair only in the title', async () => {
  const found = async (q: string, scope: string) =>
    (await search(t.app, { q, scope })).books.map((b) => b.book_id)
  // 鲁迅: author and intro of one listing, tag and content of another.
  assert.deepEqual(await found('鲁迅', 'author'), ['author-only'])
  assert.deepEqual(await found('鲁迅', 'tags'), ['tag-only'])
  assert.deepEqual((await found('鲁迅', 'book_intro,content')).sort(), ['author-only', 'tag-only'])
  assert.deepEqual(await found('鲁迅', 'title'), [])
  // 生日 is only a pair of characters of 女生日记: found in the title, nowhere else.
  assert.ok((await found('生日', 'title')).includes('gram'))
  assert.ok(!(await found('生日', 'book_intro')).includes('gram'))
  await assertSearchIndexExact(t.db)
})

test('one-term searches equal the tsvector search, on every scope and page, site-wide or in a store, by relevance and by rating', async () => {
  const seg = segmenter()
  const terms = [
    ...VOCABULARY.nouns.slice(0, 30),
    ...VOCABULARY.tags.slice(0, 30),
    '生日',
    '红',
    '心',
    '鲁迅',
    'python',
    "o'neil",
    'back\\slash',
    '不存在的词',
  ]
  const scopes = [
    undefined,
    'title',
    'tags',
    'author',
    'title,tags',
    'author,tags',
    'book_intro,content',
    'title,author,tags,book_intro',
  ]
  const pages = [
    { limit: 20, offset: 0 },
    { limit: 7, offset: 14 },
    { limit: 10, offset: 100_000 },
  ]
  // Ratings with many ties of average and count (set straight in the table), so that the rating order
  // has to be followed to the doc.
  await t.db.query(
    `UPDATE listing_ratings SET n1 = (doc * 7) % 3, n3 = (doc * 5) % 2, n5 = (doc * 11) % 4 WHERE doc % 2 = 0`,
  )
  // With statistics, a common word site-wide walks the ratings in order and a rare one sorts its
  // matches (the bitmaps plan by rating): both must give the statement's answer.
  await t.db.exec('ANALYZE listing_ratings')
  let byRating = 0
  let byIndex = 0
  let byScope = 0
  let nonEmpty = 0
  let inStore = 0
  for (const term of terms) {
    for (const scopeText of scopes) {
      const scope = parseScope(scopeText)
      assert.ok(scope)
      const text = textQuery(seg, term, scope)
      if (text.terms.length !== 1) continue
      if (text.bitmaps) byIndex++
      else byScope++
      for (const storeId of [undefined, stores[0], 'no-such-store']) {
        for (const page of pages) {
          for (const sort of ['relevance', 'rating_desc'] as const) {
            const req: SearchRequest = { text, filters: { storeId }, sort, ...page }
            const fast = await searchListings(t.db, req)
            const slow = await searchListings(t.db, byStatement(req))
            assert.deepEqual(
              fast,
              slow,
              `${term} in ${scopeText ?? 'every field'}, ${storeId}, at ${page.offset}, by ${sort}`,
            )
            if (sort === 'rating_desc') {
              if (fast.hits.length > 0) byRating++
              continue
            }
            if (fast.hits.length > 0) nonEmpty++
            if (storeId === stores[0] && fast.hits.length > 0) inStore++
          }
        }
      }
    }
  }
  assert.ok(byIndex >= 200, `${byIndex} one-term queries have a bitmap form`)
  assert.ok(byScope >= 100, `${byScope} are left to the statement`)
  assert.ok(nonEmpty >= 600, `${nonEmpty} of them found something`)
  assert.ok(inStore >= 250, `${inStore} of them in one store`)
  assert.ok(byRating >= 600, `${byRating} found something by rating`)
  await t.db.query('UPDATE listing_ratings SET n1 = 0, n3 = 0, n5 = 0')
})

test('a book added through the API is found at once, with its count', async () => {
  const storeId = stores[1] as string
  await addBook(t.app, seller, storeId, { ...bookInfo('fresh-1'), title: '量子纠缠手记', tags: ['物理'] })
  const r = await search(t.app, { q: '量子纠缠手记' })
  assert.equal(r.status, 200)
  assert.equal(r.total, 1)
  assert.deepEqual(
    r.books.map((b) => b.book_id),
    ['fresh-1'],
  )
  assert.ok((r.books[0]?.score ?? 0) >= 2, 'a title match is in the title tier')
  await assertSearchIndexExact(t.db)
})

test('books added concurrently with shared words keep every count exact', async () => {
  const storeId = stores[1] as string
  const before = (await search(t.app, { q: '星辰大海' })).total
  await Promise.all(
    Array.from({ length: 16 }, (_, i) =>
      addBook(t.app, seller, storeId, {
        ...bookInfo(`together-${i}`),
        title: `星辰大海 第${i}卷`,
        tags: ['科幻', '星辰大海'],
        book_intro: '关于星辰大海的故事',
      }),
    ),
  )
  const r = await search(t.app, { q: '星辰大海', page_size: 100 })
  assert.equal(r.total, before + 16)
  assert.equal(r.books.length, before + 16)
  await assertSearchIndexExact(t.db)
})

test('changing or removing a listing changes its bits and counts in the same statement', async () => {
  const one = async (sql: string, params: unknown[] = []) =>
    (await t.db.query<{ n: number }>(sql, params)).rows[0]?.n
  const countOf = (term: string) => one('SELECT listings AS n FROM search_terms WHERE term = $1', [term])
  const storeId = stores[1] as string
  await addBook(t.app, seller, storeId, { ...bookInfo('changing'), title: 'oldtitleword' })
  const oldWord = (await search(t.app, { q: 'oldtitleword' })).total
  assert.equal(oldWord, 1)
  await t.db.query(
    `UPDATE listings SET title = 'newtitleword', search_vec = $3::tsvector, title_grams = ''::tsvector
      WHERE store_id = $1 AND book_id = $2`,
    [storeId, 'changing', `${quote('newtitleword')}:1A`],
  )
  assert.equal((await search(t.app, { q: 'oldtitleword' })).total, 0)
  assert.equal((await search(t.app, { q: 'newtitleword' })).total, 1)
  // A stock change leaves the search structures alone. The queue is merged first, so that the
  // server's merger does not change them between the two reads.
  await mergeQueue(t.db)
  const index = 'SELECT kind, key, block, bits::text FROM search_bitmaps ORDER BY 1, 2, 3'
  const rows = (await t.db.query(index)).rows
  await t.db.query('UPDATE listings SET stock_level = 0 WHERE store_id = $1 AND book_id = $2', [
    storeId,
    'changing',
  ])
  assert.deepEqual((await t.db.query(index)).rows, rows)
  await assertSearchIndexExact(t.db)

  const before = await countOf('newtitleword')
  await t.db.query('DELETE FROM listings WHERE store_id = $1 AND book_id = $2', [storeId, 'changing'])
  assert.equal(await countOf('newtitleword'), (before ?? 0) - 1)
  assert.equal((await search(t.app, { q: 'newtitleword' })).total, 0)
  await assertSearchIndexExact(t.db)
})
