import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Db } from '../../src/db/db.ts'
import { loadMigrations, migrate } from '../../src/db/migrate.ts'
import { query, type Sql, sql } from '../../src/db/sql.ts'
import { insertListings } from '../../src/repositories/listings.ts'
import { queuedBitmaps, queuedTerms } from '../../src/repositories/search/pending.ts'
import { reindexSearchText } from '../../src/repositories/search-text.ts'
import { BITMAP_BLOCK } from '../../src/search/encoding.ts'
import { syntheticListing } from '../../tools/catalog/synthetic.ts'
import {
  addBook,
  addFunds,
  bookInfo,
  freshDb,
  newStore,
  newUser,
  orderBooks,
  pay,
  startApp,
  stockOf,
  type TestApp,
  type User,
} from '../support/helpers.ts'
import { insertAcrossBlocks } from '../support/search-fixtures.ts'
import { assertSearchIndexExact, mergeQueue } from '../support/search-index.ts'

// search_bitmaps and search_terms are kept from the listings' own columns by the triggers of
// migration 016, in the statement that changes the listings: every way a listing is written, added
// or removed must leave them exactly as a recomputation from the columns says.
let t: TestApp
let seller: User
let stores: string[]

before(async () => {
  t = await startApp()
  seller = await newUser(t.app, 'seller')
  stores = [await newStore(t.app, seller), await newStore(t.app, seller)]
  await insertAcrossBlocks(t.db, stores, { seed: 11, below: 120, straddle: 42, above: 120 })
})
after(() => t.close())

/** The `n` of a statement's one row: SQL text with its parameters, or a statement built with `sql`. */
const one = async (db: Db, statement: string | Sql, params: unknown[] = []): Promise<number> => {
  const r =
    typeof statement === 'string'
      ? await db.query<{ n: number }>(statement, params)
      : await query<{ n: number }>(db, statement)
  const n = r.rows[0]?.n
  assert.equal(typeof n, 'number', typeof statement === 'string' ? statement : statement.compile().text)
  return n as number
}

/**
 * A bitmap row set as a search reads it: merged rows and the queued listings' bits (migration 019).
 * Listings added through the API are merged in the background a moment later; these counts are the
 * same before and after.
 */
const bitmaps = (kindList: string[], keyList: string[]) => {
  const kinds = sql.bind(kindList)
  const keys = sql.bind(keyList)
  return sql`SELECT kind, key, block, bits FROM search_bitmaps b
       WHERE (kind, key) IN (SELECT * FROM unnest(${kinds}::"char"[], ${keys}::text[]))
      UNION ALL ${queuedBitmaps(kinds, keys, sql.empty)}`
}

/** Listings holding the word (kind 'w') and carrying the tag, from the bitmaps alone. */
const wordAndTag = (word: string, tag: string) =>
  one(
    t.db,
    sql`SELECT coalesce(sum(bit_count(w & g)), 0)::int AS n
          FROM (SELECT bit_or(bits) FILTER (WHERE kind = 'w') AS w, bit_or(bits) FILTER (WHERE kind = 't') AS g
                  FROM (${bitmaps(['w', 't'], [word, tag])}) b GROUP BY block) x`,
  )
const termCount = (term: string) =>
  one(
    t.db,
    sql`SELECT coalesce(sum(listings), 0)::int AS n
          FROM (SELECT listings FROM search_terms WHERE term = ${term} UNION ALL
                SELECT listings FROM (${queuedTerms(sql.bind([term]))}) q) x`,
  )
const storeBits = (storeId: string) =>
  one(t.db, sql`SELECT coalesce(sum(bit_count(bits)), 0)::int AS n FROM (${bitmaps(['s'], [storeId])}) b`)

/** Every row of the bitmaps and term counts, with the transaction that last wrote it. */
const searchRows = async () => [
  (await t.db.query('SELECT kind, key, block, bits::text, xmin::text FROM search_bitmaps ORDER BY 1, 2, 3'))
    .rows,
  (await t.db.query('SELECT term, listings, xmin::text FROM search_terms ORDER BY 1')).rows,
]

test('bulk loads across two blocks: every kind, store bits and term counts exact', async () => {
  assert.equal(await one(t.db, `SELECT count(DISTINCT doc / ${BITMAP_BLOCK})::int AS n FROM listings`), 2)
  await assertSearchIndexExact(t.db)
  const perStore = await t.db.query<{ store_id: string; n: number }>(
    'SELECT store_id, count(*)::int AS n FROM listings GROUP BY 1',
  )
  for (const r of perStore.rows) assert.equal(await storeBits(r.store_id), r.n, r.store_id)
})

test('books added through the API, one at a time and 16 at once, keep every bit and count exact', async () => {
  const storeId = stores[0] as string
  // Terms are counted for the typo vocabulary only (Latin words of 4 letters or more, migration 026).
  const words = () => Promise.all([wordAndTag('星云', '天文'), termCount('nebula'), storeBits(storeId)])
  const [pairs, terms, inStore] = await words()
  await addBook(t.app, seller, storeId, {
    ...bookInfo('nebula-first'),
    title: '星云 Nebula 初卷',
    author: '王星云',
    tags: ['天文', '科普'],
    book_intro: '关于星云的一本书 about nebulae and stars',
    content: '星云 是 宇宙 中 的 气体 与 尘埃 clouds of gas and dust',
  })
  assert.deepEqual(await words(), [pairs + 1, terms + 1, inStore + 1])
  await Promise.all(
    Array.from({ length: 16 }, (_, i) =>
      addBook(t.app, seller, storeId, {
        ...bookInfo(`nebula-${i}`),
        title: `星云 Nebula 第${i}卷`,
        tags: ['天文', '科普', `卷${i}`],
      }),
    ),
  )
  assert.deepEqual(await words(), [pairs + 17, terms + 17, inStore + 17])
  assert.equal(await termCount('星云'), 0, 'a Chinese word is no typo candidate')
  await assertSearchIndexExact(t.db)
})

test('a retagged, then reworded listing moves only its bits and counts', async () => {
  const storeId = stores[1] as string
  await addBook(t.app, seller, storeId, {
    ...bookInfo('retag'),
    title: '青铜时代札记 Bronze',
    tags: ['考古', '新标签'],
  })
  assert.equal(await wordAndTag('青铜', '新标签'), 1)
  const bronze = await termCount('bronze')
  await t.db.query(
    `UPDATE listings SET tags = ARRAY['另一个标签'] WHERE store_id = $1 AND book_id = 'retag'`,
    [storeId],
  )
  assert.equal(await wordAndTag('青铜', '新标签'), 0)
  assert.equal(await wordAndTag('青铜', '另一个标签'), 1)
  await assertSearchIndexExact(t.db)

  await t.db.query(
    `UPDATE listings SET title = '白银时代', search_vec = $2::tsvector, title_grams = ''::tsvector
      WHERE store_id = $1 AND book_id = 'retag'`,
    [storeId, `'白银':1A '时代':2A 'silver':3A`],
  )
  assert.equal(await wordAndTag('青铜', '另一个标签'), 0)
  assert.equal(await wordAndTag('白银', '另一个标签'), 1)
  assert.equal(await termCount('bronze'), bronze - 1)
  assert.equal(await termCount('silver'), 1)
  await assertSearchIndexExact(t.db)
})

test('an order that changes only stock rewrites no row of the bitmaps or term counts', async () => {
  const storeId = stores[0] as string
  const buyer = await newUser(t.app, 'buyer')
  await addFunds(t.app, buyer, 1_000_000)
  // Nothing queued is left for the server's merger to change between the two reads.
  await mergeQueue(t.db)
  const rows = await searchRows()
  const order = await orderBooks(t.app, buyer, storeId, [{ id: 'nebula-first', count: 2 }])
  assert.equal((await pay(t.app, buyer, order)).status, 200)
  assert.equal(await stockOf(t.db, storeId, 'nebula-first'), 8)
  await t.db.query('UPDATE listings SET stock_level = stock_level + 1 WHERE store_id = $1', [storeId])
  assert.deepEqual(await searchRows(), rows)
})

test('deleted listings, one and many per statement, leave no bit and no count behind', async () => {
  const storeId = stores[1] as string
  await t.db.query(`DELETE FROM listings WHERE store_id = $1 AND book_id = 'retag'`, [storeId])
  assert.equal(await wordAndTag('白银', '另一个标签'), 0)
  assert.equal(await termCount('silver'), 0)
  await assertSearchIndexExact(t.db)
  const nebulae = await termCount('nebula')
  const r = await t.db.query(`DELETE FROM listings WHERE book_id LIKE 'nebula-%'`)
  assert.equal(r.rowCount, 17)
  assert.equal(await termCount('nebula'), nebulae - 17)
  await t.db.query('DELETE FROM listings WHERE store_id = $1', [storeId])
  assert.equal(await storeBits(storeId), 0)
  await assertSearchIndexExact(t.db)
})

test('the search text rebuild moves each batch by statement and leaves every bit and count exact', async () => {
  const storeId = stores[0] as string
  const listed = await one(t.db, 'SELECT count(*)::int AS n FROM listings')
  assert.ok(listed > 100)
  // As if the store's listings had been indexed by an older version of the search text.
  await t.db.query(
    `UPDATE listings SET search_vec = '''旧词'':1A ''oldword'':2A', author_tags_vec = '', title_grams = '''旧'' ''词'' ''旧词'''
      WHERE store_id = $1`,
    [storeId],
  )
  const old = await one(t.db, 'SELECT count(*)::int AS n FROM listings WHERE store_id = $1', [storeId])
  assert.equal(await termCount('oldword'), old)
  // Every listing left is in that store: none has author or tag words now.
  await assertSearchIndexExact(t.db, ['w', 'A', 'g', 't', 's', 'l'])
  await t.db.query('UPDATE search_text_state SET version = 1, rebuilding = NULL, rebuilt_to = 0')
  const seen: number[] = []
  assert.equal(await reindexSearchText(t.db, (done) => seen.push(done), 50), listed)
  assert.equal(seen.at(-1), listed)
  assert.equal(await termCount('oldword'), 0)
  await assertSearchIndexExact(t.db)
  // The stand-aside is for the rebuild's own transaction only: a later update moves its entries itself.
  await t.db.query(`UPDATE listings SET search_vec = '''旧词'':1A ''oldword'':2A' WHERE store_id = $1`, [
    storeId,
  ])
  assert.equal(await termCount('oldword'), old)
  // Titles are all that search_vec holds now ('B' gone); tags are still words of author_tags_vec.
  await assertSearchIndexExact(t.db, ['w', 'A', 'k', 'g', 't', 's', 'l'])
})

test('migration 018 joins the blocks of 8 192 listings in pairs, leaving every bit where a block of 16 384 puts it', async () => {
  const all = loadMigrations()
  const own = await freshDb({ migrations: all.filter((m) => m.version < '018') })
  try {
    await own.db.query(`INSERT INTO users (user_id, password_hash) VALUES ('m18-owner', 'x')`)
    await own.db.query(
      `INSERT INTO stores (store_id, owner_id) VALUES ('m18-a', 'm18-owner'), ('m18-b', 'm18-owner')`,
    )
    // Runs of listings across each old boundary: 8 192 and 24 576 fall inside a new block, 16 384 between two.
    let n = 0
    for (const from of [1, 8150, 16350, 24540]) {
      await own.db.query(`ALTER TABLE listings ALTER COLUMN doc RESTART WITH ${from}`)
      const books = Array.from({ length: 70 }, (_, i) =>
        syntheticListing(n + i, { storeIds: ['m18-a', 'm18-b'], seed: 18 }),
      )
      n += books.length
      await own.db.transaction((tx) => insertListings(tx, books))
    }
    assert.equal(await one(own.db, 'SELECT count(DISTINCT block)::int AS n FROM search_bitmaps'), 4)
    assert.deepEqual(
      await migrate(own.db, all),
      all.filter((m) => m.version >= '018').map((m) => m.version),
    )
    assert.equal(await one(own.db, 'SELECT count(DISTINCT block)::int AS n FROM search_bitmaps'), 2)
    await assertSearchIndexExact(own.db)
    // The sparse rows are stored compressed; the bits of a word in every listing are not.
    const stored = await own.db.query<{ compressed: boolean; n: number }>(
      `SELECT pg_column_compression(bits) IS NOT NULL AS compressed, count(*)::int AS n
         FROM search_bitmaps GROUP BY 1 ORDER BY 1`,
    )
    assert.ok((stored.rows.find((r) => r.compressed)?.n ?? 0) > 0, JSON.stringify(stored.rows))
  } finally {
    await own.dispose()
  }
})
