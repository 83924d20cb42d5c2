/**
 * Facets from bitmaps (migration 022): counted block by block from the match's bitmaps, the bitmap of
 * listings out of stock and the server's copy of the listings' unchanging columns, they must equal the
 * counts over the matching rows: across a block boundary, with listings queued for the index or for
 * their stock bit, after stock is emptied and refilled, after deletes, and with a copy read before
 * listings were added. Orders that leave copies in stock queue nothing.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Db, QueryOptions } from '../../src/db/db.ts'
import { migrate } from '../../src/db/migrate.ts'
import { openPgliteThread } from '../../src/db/pglite-worker.ts'
import { FacetColumns } from '../../src/repositories/facet-columns.ts'
import { type FacetCounts, searchFacets } from '../../src/repositories/facets.ts'
import { insertListings } from '../../src/repositories/listings.ts'
import { putBit } from '../../src/repositories/search/bitmaps.ts'
import {
  mergeAllQueued,
  mergeQueued,
  mergeStockQueued,
  queuedCount,
  stockQueuedCount,
} from '../../src/repositories/search/pending.ts'
import { type SearchFilters, searchListings } from '../../src/repositories/search.ts'
import { findTypoCandidates } from '../../src/repositories/typos.ts'
import { BITMAP_BLOCK } from '../../src/search/encoding.ts'
import { FACET_KINDS } from '../../src/search/facets.ts'
import { planFacets } from '../../src/search/plan.ts'
import { parseScope, queryWords, textQuery } from '../../src/search/query.ts'
import { segmenter } from '../../src/search/segmenter.ts'
import { syntheticListing } from '../../tools/catalog/synthetic.ts'
import {
  addFunds,
  call,
  ENGINE,
  freshDb,
  newShop,
  newUser,
  orderBooks,
  post,
  signal,
  startApp,
  type TestDb,
} from '../support/helpers.ts'
import { insertAcrossBlocks } from '../support/search-fixtures.ts'
import { assertSearchIndexExact } from '../support/search-index.ts'

const STORES = ['facet-a', 'facet-b', 'facet-c']
const KINDS = new Set(FACET_KINDS)
let d: TestDb
let db: Db
/** One copy of the columns for the whole file, as a server keeps one: it must never go stale. */
const shared = new FacetColumns()

before(async () => {
  d = await freshDb({ poolSize: 10 })
  db = d.db
  await db.query(`INSERT INTO users (user_id, password_hash) VALUES ('facet-owner', 'x')`)
  for (const s of STORES)
    await db.query(`INSERT INTO stores (store_id, owner_id) VALUES ($1, 'facet-owner')`, [s])
  // 300 listings on both sides of a block boundary; the oldest 100 merged, the rest still queued.
  await insertAcrossBlocks(db, STORES, { seed: 23, below: 150, straddle: 60, above: 150 })
  assert.equal(await mergeQueued(db, 100), 100)
})
after(() => d.dispose())

const REQUESTS: { q?: string; filters: SearchFilters }[] = [
  { filters: {} },
  { filters: { tags: ['小说'] } },
  { filters: { tags: ['小说', '历史'] } },
  { filters: { storeId: 'facet-b' } },
  { filters: { minPrice: 2000, maxPrice: 9000 } },
  { filters: { inStock: true } },
  { filters: { tags: ['小说'], minPrice: 3000, inStock: true } },
  { q: '心灵', filters: {} },
  { q: '城市', filters: { tags: ['历史'] } },
  { q: '心灵 历史', filters: { inStock: true } },
  { q: '城市', filters: { storeId: 'facet-a', maxPrice: 5000 } },
  { q: '的城', filters: {} },
  { q: 'pyhton', filters: {} },
  { q: '历史', filters: { author: '王' } },
]

/** Each request's facets by its plan, and over the rows: the same, and every match counted once. */
async function compare(columns: FacetColumns, when: string) {
  const seg = segmenter()
  const all = parseScope(undefined) as Set<never>
  let fromBitmaps = 0
  let matched = 0
  for (const r of REQUESTS) {
    const candidates =
      r.q === undefined
        ? undefined
        : await findTypoCandidates(
            db,
            queryWords(seg, r.q).map((w) => w.text),
          )
    const text = r.q === undefined ? undefined : textQuery(seg, r.q, all, candidates)
    const { total } = await searchListings(db, {
      text,
      filters: r.filters,
      sort: 'relevance',
      limit: 1,
      offset: 0,
    })
    const plan = planFacets({ text, filters: r.filters })
    if (plan.kind === 'bitmaps') fromBitmaps++
    const counted = (p = plan) =>
      db.transaction((tx) => searchFacets(tx, columns, text, r.filters, KINDS, { total }, { plan: p }))
    const got: FacetCounts = await counted()
    const rows = await counted({ kind: 'rows', why: 'the reference' })
    assert.deepEqual(got, rows, `${when}: ${JSON.stringify(r)} (${plan.kind})`)
    assert.equal(
      got.price?.reduce((a, b) => a + b.count, 0),
      total,
      `${when}: every match in one bucket: ${JSON.stringify(r)}`,
    )
    if (total > 0) matched++
  }
  assert.equal(fromBitmaps, REQUESTS.length - 1, 'all but the author filter from bitmaps')
  assert.ok(matched >= REQUESTS.length - 2, `most requests match something (${matched})`)
}

/** Listings whose bit of kind 'o' disagrees with their stock (their queue rows correct them). */
const wrongBits = async () =>
  (
    await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM listings l
        WHERE (l.stock_level <= 0) IS DISTINCT FROM coalesce(get_bit(
          (SELECT b.bits FROM search_bitmaps b WHERE b.kind = 'o' AND b.key = '' AND b.block = (l.doc / 16384)::int),
          (l.doc % 16384)::int) = 1, false)`,
    )
  ).rows[0]?.n ?? 0

describe('facets from bitmaps equal the counts over the rows', () => {
  test('across a block boundary, listings merged and queued, with a new and a kept copy of the columns', async () => {
    assert.ok((await queuedCount(db)) > 100)
    await compare(new FacetColumns(), 'queued')
    await compare(shared, 'queued, kept copy')
    await mergeAllQueued(db)
    await compare(shared, 'merged')
    await assertSearchIndexExact(db)
  })

  test('stock emptied and refilled: counted from the listing while queued, from the bit once merged', async () => {
    await mergeAllQueued(db)
    const docs = (
      await db.query<{ doc: number }>(
        `SELECT doc FROM listings WHERE stock_level > 0 ORDER BY doc % 7, doc LIMIT 40`,
      )
    ).rows.map((r) => r.doc)
    await db.query('UPDATE listings SET stock_level = 0 WHERE doc = ANY($1::bigint[])', [docs])
    const refilled = docs.slice(0, 15)
    await db.query('UPDATE listings SET stock_level = 4 WHERE doc = ANY($1::bigint[])', [refilled])
    // Emptied then refilled, still queued: its bit is right, yet the queue row must not be read wrong.
    assert.equal(await stockQueuedCount(db), 40)
    assert.equal(await wrongBits(), 25, 'the bits alone would count 25 listings in stock that are not')
    await compare(shared, 'stock queued')
    // Half merged (a merge takes the oldest first), half queued.
    assert.equal(await mergeStockQueued(db, 20), 20)
    assert.ok((await wrongBits()) > 0)
    await compare(shared, 'stock half merged')
    await mergeAllQueued(db)
    assert.equal(await wrongBits(), 0)
    await compare(shared, 'stock merged')
    await assertSearchIndexExact(db)
  })

  test('listings added to a block the copy has read, and listings deleted', async () => {
    await compare(shared, 'before')
    const added = Array.from({ length: 30 }, (_, i) =>
      syntheticListing(5_000 + i, { storeIds: STORES, seed: 29, idPrefix: 'late' }),
    )
    // Some of them out of stock: queued for their bit by the insert.
    for (const [i, b] of added.entries()) b.stockLevel = i % 3 === 0 ? 0 : 5
    await db.transaction((tx) => insertListings(tx, added))
    assert.equal(await stockQueuedCount(db), 10)
    await compare(shared, 'added')
    await mergeAllQueued(db)
    // Deleted: five in stock and five out (their bits are cleared by the merge).
    await db.query(
      `DELETE FROM listings WHERE doc IN (
         (SELECT doc FROM listings WHERE stock_level > 0 ORDER BY doc DESC LIMIT 5)
         UNION ALL (SELECT doc FROM listings WHERE stock_level <= 0 ORDER BY doc LIMIT 5))`,
    )
    assert.equal(await stockQueuedCount(db), 5)
    await compare(shared, 'deleted')
    await mergeAllQueued(db)
    await compare(shared, 'deleted, merged')
    await assertSearchIndexExact(db)
  })

  test('stock crossing zero in concurrent transactions while merges run leaves every bit exact', async () => {
    await mergeAllQueued(db)
    const docs = (await db.query<{ doc: number }>('SELECT doc FROM listings ORDER BY doc LIMIT 24')).rows.map(
      (r) => r.doc,
    )
    let writing = true
    const merging = (async () => {
      while (writing) await mergeStockQueued(db, 5)
    })()
    await Promise.all(
      Array.from({ length: 6 }, async (_, w) => {
        for (let round = 0; round < 15; round++) {
          const mine = docs.filter((_, i) => i % 6 === w || i % 4 === round % 4)
          await db.transaction(async (tx) => {
            // Rows locked in doc order: the UPDATE alone visits them in the table's order, which
            // its own new row versions change, and writers crossing orders deadlock (until retries
            // run out, now and then).
            await tx.query('SELECT 1 FROM listings WHERE doc = ANY($1::bigint[]) ORDER BY doc FOR UPDATE', [
              mine,
            ])
            await tx.query(
              'UPDATE listings SET stock_level = CASE WHEN stock_level > 0 THEN 0 ELSE 3 END WHERE doc = ANY($1::bigint[])',
              [mine],
            )
          })
        }
      }),
    )
    writing = false
    await merging
    await compare(shared, 'after concurrent stock changes, before the last merge')
    await mergeAllQueued(db)
    assert.equal(await wrongBits(), 0)
    await assertSearchIndexExact(db)
  })
})

test('reading ahead reads each block once, after which a count reads no listing', async () => {
  const columns = new FacetColumns()
  assert.equal(await columns.warm(db, () => true), 0, 'stopped before the first block')
  assert.equal(await columns.warm(db, () => false), 2, 'both blocks')
  assert.equal(await columns.warm(db, () => false), 0, 'nothing left')
  const sent: string[] = []
  const recording = {
    ...db,
    query: (text: string, values?: readonly unknown[], opts?: QueryOptions) => {
      sent.push(text)
      return db.query(text, values, opts)
    },
  } as Db
  const { total } = await searchListings(db, { filters: {}, sort: 'relevance', limit: 1, offset: 0 })
  const counted = await searchFacets(recording, columns, undefined, {}, KINDS, { total })
  assert.equal(
    counted.price?.reduce((a, b) => a + b.count, 0),
    total,
  )
  assert.equal(sent.length, 1, 'the bitmaps only')
  assert.ok(!sent.some((text) => text.includes('FROM listings l WHERE')))
})

test('an order queues its listing for the stock bit only when it takes the last copy', async () => {
  const t = await startApp()
  try {
    // Every row either queue gains, logged by a trigger of this test.
    await t.db.exec(`
      CREATE TABLE queued_log (queue text, doc bigint);
      CREATE FUNCTION log_queued() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO queued_log VALUES (TG_TABLE_NAME, NEW.doc); RETURN NULL; END $$;
      CREATE TRIGGER log_stock AFTER INSERT ON search_stock_pending FOR EACH ROW EXECUTE FUNCTION log_queued();
      CREATE TRIGGER log_index AFTER INSERT ON search_pending FOR EACH ROW EXECUTE FUNCTION log_queued();`)
    const shop = await newShop(t.app, 2, 3)
    const buyer = await newUser(t.app, 'buyer')
    await addFunds(t.app, buyer, 100_000)
    const logged = async () =>
      (await t.db.query<{ queue: string }>('SELECT queue FROM queued_log ORDER BY queue')).rows.map(
        (r) => r.queue,
      )
    const inStock = async () => {
      const r = await call(t.app, 'GET', `/search/books?store_id=${shop.storeId}&facets=price`)
      return (r.body.facets as { in_stock: number }).in_stock
    }
    assert.deepEqual(await logged(), ['search_pending', 'search_pending'], 'the two books added')
    const [first, second] = shop.bookIds as [string, string]
    await orderBooks(t.app, buyer, shop.storeId, [{ id: first, count: 2 }])
    assert.deepEqual(await logged(), ['search_pending', 'search_pending'], 'copies left: nothing queued')
    assert.equal(await inStock(), 2)
    const last = await orderBooks(t.app, buyer, shop.storeId, [
      { id: first, count: 1 },
      { id: second, count: 1 },
    ])
    assert.deepEqual(await logged(), ['search_pending', 'search_pending', 'search_stock_pending'])
    assert.equal(await inStock(), 1)
    // Merged: the bit set, the queue row gone.
    await mergeAllQueued(t.db)
    assert.equal(await inStock(), 1)
    const cancelled = await post(
      t.app,
      '/buyer/cancel_order',
      { user_id: buyer.userId, order_id: last },
      buyer.token,
    )
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body))
    assert.equal(await inStock(), 2)
    assert.equal((await logged()).length, 4, 'the copy given back is queued again')
  } finally {
    await t.close()
  }
})

test('two searches that read the same new listings at once add each to the copy once', async () => {
  const columns = new FacetColumns()
  await columns.warm(db, () => false)
  // Listings added after the copy was read: each search finds them missing and reads them.
  await db.transaction((tx) =>
    insertListings(
      tx,
      Array.from({ length: 30 }, (_, i) => syntheticListing(5000 + i, { storeIds: STORES, seed: 29 })),
    ),
  )
  const docs = (await db.query<{ doc: number }>('SELECT doc::int FROM listings ORDER BY doc DESC LIMIT 30'))
    .rows
  const block = Math.floor((docs[0]?.doc ?? 0) / BITMAP_BLOCK)
  const bits = new Uint8Array(BITMAP_BLOCK / 8)
  for (const { doc } of docs.filter((d) => Math.floor(d.doc / BITMAP_BLOCK) === block))
    putBit(bits, doc % BITMAP_BLOCK, true)
  const [a, b] = await Promise.all([columns.block(db, block, bits), columns.block(db, block, bits)])
  assert.equal(a, b)
  const { n } = (
    await db.query<{ n: number }>('SELECT count(*)::int AS n FROM listings WHERE doc / $1 = $2', [
      BITMAP_BLOCK,
      block,
    ])
  ).rows[0] ?? { n: 0 }
  assert.equal(a.presentCount, n, 'each listing of the block once')
  const { total } = await searchListings(db, { filters: {}, sort: 'relevance', limit: 1, offset: 0 })
  const count = (plan = planFacets({ filters: {} })) =>
    db.transaction((tx) => searchFacets(tx, columns, undefined, {}, KINDS, { total }, { plan }))
  assert.deepEqual(await count(), await count({ kind: 'rows', why: 'the reference' }))
})

/**
 * The read-ahead (FacetColumns.warm) reads blocks outside any transaction. On PGlite, with one
 * connection, its statement waits for an open transaction: a search in that transaction that waited
 * for the read-ahead's block would wait forever, and every request after it with it. Here the
 * read-ahead's block read is held until a search's transaction is open, then sent behind it; the
 * search must read the block itself and finish.
 */
async function searchDuringReadAhead(on: Db): Promise<void> {
  const columns = new FacetColumns()
  const readAheadSent = signal()
  const searchOpen = signal()
  const held = {
    ...on,
    query: async (text: string, values?: readonly unknown[], opts?: QueryOptions) => {
      if (text.includes('json_agg')) {
        readAheadSent.fire()
        await searchOpen.promise
      }
      return on.query(text, values, opts)
    },
  } as Db
  const readAhead = columns.warm(held, () => false)
  await readAheadSent.promise
  const { last } = (await on.query<{ last: number }>('SELECT max(doc)::int AS last FROM listings'))
    .rows[0] ?? {
    last: 0,
  }
  const block = Math.floor(last / BITMAP_BLOCK)
  const search = on.transaction(async (tx) => {
    await tx.query('SELECT 1')
    searchOpen.fire()
    return (await columns.block(tx, block, null)).presentCount
  })
  let timer: NodeJS.Timeout | undefined
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the search waited for the read-ahead: deadlock')), 5000)
  })
  try {
    const read = await Promise.race([search, stuck])
    const { n } = (
      await on.query<{ n: number }>('SELECT count(*)::int AS n FROM listings WHERE doc / $1 = $2', [
        BITMAP_BLOCK,
        block,
      ])
    ).rows[0] ?? { n: -1 }
    assert.equal(read, n, 'the search read the whole block itself')
    assert.ok((await Promise.race([readAhead, stuck])) >= 1, 'the read-ahead went on after the search')
  } finally {
    clearTimeout(timer)
  }
}

describe('a search during the read-ahead of the facets columns', () => {
  test('does not wait for a block the read-ahead is reading', { timeout: 20_000 }, () =>
    searchDuringReadAhead(db),
  )

  test('nor on PGlite on its own thread, as the server opens it', {
    timeout: 30_000,
    skip: ENGINE === 'postgres' && 'a PGlite test: this run is on PostgreSQL',
  }, async () => {
    const thread = await openPgliteThread()
    try {
      await migrate(thread)
      await thread.query(`INSERT INTO users (user_id, password_hash) VALUES ('facet-owner', 'x')`)
      await thread.query(`INSERT INTO stores (store_id, owner_id) VALUES ('facet-a', 'facet-owner')`)
      await insertAcrossBlocks(thread, ['facet-a'], { seed: 31, below: 20, straddle: 10, above: 20 })
      await searchDuringReadAhead(thread)
    } finally {
      await thread.close()
    }
  })
})
