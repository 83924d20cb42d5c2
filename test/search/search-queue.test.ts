/**
 * The search index's queue (migration 019): an insert queues its listings, and search_index_merge
 * moves them into the bitmaps and term counts later, in batches. Until then a search reads them from
 * their own columns beside the merged rows, so what it answers does not depend on what is merged; a
 * delete or an edit of a queued listing, or one a merge is moving, must leave the index exact.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Db, Queryable } from '../../src/db/db.ts'
import { insertListings } from '../../src/repositories/listings.ts'
import {
  mergeAllQueued,
  mergeQueued,
  queuedCount,
  stockQueuedCount,
} from '../../src/repositories/search/pending.ts'
import { type SearchRequest, searchListings } from '../../src/repositories/search.ts'
import { findTypoCandidates } from '../../src/repositories/typos.ts'
import { planSearch } from '../../src/search/plan.ts'
import { parseScope, textQuery } from '../../src/search/query.ts'
import { segmenter } from '../../src/search/segmenter.ts'
import { SearchMerger } from '../../src/services/search-merger.ts'
import { syntheticListing, VOCABULARY } from '../../tools/catalog/synthetic.ts'
import {
  addBook,
  bookInfo,
  DATABASE_URL,
  freshDb,
  newStore,
  newUser,
  startApp,
  type TestDb,
} from '../support/helpers.ts'
import { byStatement, insertAcrossBlocks } from '../support/search-fixtures.ts'
import { assertSearchIndexExact } from '../support/search-index.ts'

const STORES = ['queue-a', 'queue-b']
let d: TestDb
let db: Db

before(async () => {
  d = await freshDb()
  db = d.db
  await db.query(`INSERT INTO users (user_id, password_hash) VALUES ('queue-owner', 'x')`)
  for (const s of STORES)
    await db.query(`INSERT INTO stores (store_id, owner_id) VALUES ($1, 'queue-owner')`, [s])
  await insertAcrossBlocks(db, STORES, { seed: 19, below: 150, straddle: 60, above: 150 })
})
after(() => d.dispose())

let n = 10_000
/** A listing of its own, inserted (and so queued) in a transaction of its own. */
async function insertOne(over: Partial<ReturnType<typeof syntheticListing>> = {}) {
  const listing = { ...syntheticListing(n++, { storeIds: STORES, seed: 19, idPrefix: 'one' }), ...over }
  await db.transaction((tx) => insertListings(tx, [listing]))
  const r = await db.query<{ doc: number }>('SELECT doc FROM listings WHERE store_id = $1 AND book_id = $2', [
    listing.storeId,
    listing.bookId,
  ])
  return { ...listing, doc: r.rows[0]?.doc as number }
}

test('searches read queued listings beside merged ones, and answer the same once all are merged', async () => {
  // The oldest 120 merged; the other 180, on both sides of the block boundary, still queued.
  assert.equal(await mergeQueued(db, 120), 120)
  assert.equal(await queuedCount(db), 180)
  const seg = segmenter()
  const all = parseScope(undefined) as Set<never>
  const words = [...VOCABULARY.nouns.slice(0, 8), ...VOCABULARY.tags.slice(0, 4), '的', '心灵 历史', 'python']
  const requests: SearchRequest[] = []
  for (const word of words)
    for (const filters of [{}, { tags: ['小说'] }, { storeId: STORES[1] as string }])
      for (const sort of ['relevance', 'rating_desc'] as const)
        for (const page of [
          { limit: 20, offset: 0 },
          { limit: 7, offset: 13 },
        ])
          requests.push({ text: textQuery(seg, word, all), filters, sort, ...page })
  const fromBitmaps = requests.filter((r) => planSearch(r).kind === 'bitmaps').length
  assert.ok(fromBitmaps >= 100, `${fromBitmaps} of ${requests.length} from the bitmaps`)
  const answers = []
  let found = 0
  for (const req of requests) {
    const r = await searchListings(db, req)
    assert.deepEqual(r, await searchListings(db, byStatement(req)), JSON.stringify(req))
    answers.push(r)
    if (r.total > 0) found++
  }
  assert.ok(found >= 100, `${found} searches found something`)
  // The listings inserted out of stock are queued for their stock bit too.
  const outOfStock = await stockQueuedCount(db)
  assert.ok(outOfStock > 0)
  assert.equal(await mergeAllQueued(db), 180 + outOfStock)
  assert.equal(await queuedCount(db), 0)
  assert.equal(await stockQueuedCount(db), 0)
  for (const [i, req] of requests.entries())
    assert.deepEqual(await searchListings(db, req), answers[i], JSON.stringify(req))
  await assertSearchIndexExact(db)
})

test('a queued listing is found under exactly the keys search_keys_of gives it, odd characters included', async () => {
  await mergeAllQueued(db)
  const odd = ["it's", 'a\\b', "\\'", 'a:b', 'x & y', '!(z)', 'w:*', '😀']
  await insertOne({ title: `Quirk ${odd.join(' ')}`, tags: odd })
  await insertOne({ title: '心灵的力量', author: 'Ärger', tags: ['传记', '传记'] })
  // Every key the queued listings have, by search_keys_of, and keys they do not have.
  const keys = await db.query<{ kind: string | null; key: string; listings: number }>(
    `SELECT e.kind::text AS kind, e.key, count(DISTINCT p.doc)::int AS listings
       FROM search_pending p JOIN listings l ON l.doc = p.doc,
            search_keys_of(l.store_id, l.tags, l.search_vec, l.author_tags_vec, l.title_grams) e
      GROUP BY 1, 2`,
  )
  const bits = keys.rows.filter((k) => k.kind !== null)
  const terms = keys.rows.filter((k) => k.kind === null)
  assert.ok(bits.some((k) => k.kind === 't' && k.key === "it's"))
  // Every lexeme of the three columns; the terms are those of the typo vocabulary (migration 026).
  const lexemes = (
    await db.query<{ lexeme: string }>(
      `SELECT DISTINCT u.lexeme FROM search_pending p JOIN listings l ON l.doc = p.doc,
              unnest(tsvector_to_array(l.search_vec) || tsvector_to_array(l.author_tags_vec)
                     || tsvector_to_array(l.title_grams)) AS u(lexeme)`,
    )
  ).rows.map((r) => r.lexeme)
  assert.ok(lexemes.includes('心灵') && !terms.some((t) => t.key === '心灵'))
  assert.ok(terms.some((t) => t.key === 'quirk'))
  const absent = ['w', 'A', 'B', 'k', 'g', 't', 's', 'l'].map((kind) => ({ kind, key: `absent'\\${kind}` }))
  // Every lexeme asked under every kind of lexeme: one of the wrong weight or of another column is not
  // a key of that kind (the author's words are in author_tags_vec with weight A, not 'k').
  const isKey = new Set(bits.map((k) => `${k.kind} ${k.key}`))
  const crossed = lexemes.flatMap((lexeme) =>
    ['w', 'A', 'B', 'k', 'g']
      .filter((kind) => !isKey.has(`${kind} ${lexeme}`))
      .map((kind) => ({ kind, key: lexeme })),
  )
  assert.ok(crossed.some((k) => k.kind === 'k' && k.key === 'arger'))
  const asked = [...bits, ...absent, ...crossed]
  const found = await db.query<{ kind: string; key: string; n: number }>(
    `SELECT kind::text AS kind, key, count(*)::int AS n FROM search_pending_bits($1::"char"[], $2::text[]) GROUP BY 1, 2`,
    [asked.map((k) => k.kind), asked.map((k) => k.key)],
  )
  const expected = new Map(bits.map((k) => [`${k.kind} ${k.key}`, k.listings]))
  assert.deepEqual(
    new Map(found.rows.map((r) => [`${r.kind} ${r.key}`, r.n])),
    expected,
    'every key found in as many queued listings as have it, and no other',
  )
  const counted = await db.query<{ term: string; listings: number }>(
    'SELECT term, listings FROM search_pending_terms($1::text[])',
    [[...lexemes, ...terms.map((t) => t.key), "absent'\\"]],
  )
  assert.deepEqual(
    new Map(counted.rows.map((r) => [r.term, r.listings])),
    new Map(terms.map((t) => [t.key, t.listings])),
  )
  await mergeAllQueued(db)
})

test("a queued listing's words are typo candidates before it is merged", async () => {
  await insertOne({ title: 'Zephyrine Almanac' })
  assert.equal(await queuedCount(db), 1)
  const candidates = await findTypoCandidates(db, ['zephyrin'])
  assert.deepEqual([...candidates.candidates], [['zephyrin', ['zephyrine']]])
  assert.deepEqual([...candidates.absent], ['zephyrin'])
  await mergeAllQueued(db)
  assert.deepEqual(await findTypoCandidates(db, ['zephyrin']), candidates)
})

test('a queued listing deleted, retagged or reworded is merged as it is then, counted once', async () => {
  const gone = await insertOne({ tags: ['独有标签甲'] })
  const retagged = await insertOne({ tags: ['独有标签乙'] })
  const reworded = await insertOne()
  assert.equal(await queuedCount(db), 3)
  await db.query('DELETE FROM listings WHERE doc = $1', [gone.doc])
  await db.query(`UPDATE listings SET tags = ARRAY['独有标签丙'] WHERE doc = $1`, [retagged.doc])
  await db.query(`UPDATE listings SET search_vec = '''zzqueueword'':1A', title_grams = '' WHERE doc = $1`, [
    reworded.doc,
  ])
  assert.equal(await queuedCount(db), 2, 'the deleted listing left the queue')
  await assertSearchIndexExact(db)
  const tagBits = await db.query<{ key: string; n: number }>(
    `SELECT key, sum(bit_count(bits))::int AS n FROM search_bitmaps
      WHERE kind = 't' AND key IN ('独有标签甲', '独有标签乙', '独有标签丙') GROUP BY 1 ORDER BY key COLLATE "C"`,
  )
  assert.deepEqual(tagBits.rows, [{ key: '独有标签丙', n: 1 }])
  const word = await db.query('SELECT listings FROM search_terms WHERE term = $1', ['zzqueueword'])
  assert.deepEqual(word.rows, [{ listings: 1 }])
})

describe('merges beside other writers', {
  skip: DATABASE_URL ? false : 'needs DATABASE_URL (PostgreSQL)',
}, () => {
  /** Runs `work` in a transaction that stays open until the returned release() is called. */
  async function held<T>(work: (tx: Queryable) => Promise<T>) {
    let release = () => {}
    const gate = new Promise<void>((r) => {
      release = r
    })
    let started = () => {}
    const ready = new Promise<void>((r) => {
      started = r
    })
    const done = db.transaction(async (tx) => {
      const out = await work(tx)
      started()
      await gate
      return out
    })
    await ready
    return { release, done }
  }
  /** Whether a promise settles within a short while (a statement waiting on a lock does not). */
  const settlesSoon = (p: Promise<unknown>) =>
    Promise.race([p.then(() => true), sleep(300).then(() => false)])

  test('a delete or an update of listings a merge is moving waits for it, then moves what it set', async () => {
    await mergeAllQueued(db)
    const [a, b, c] = [await insertOne(), await insertOne(), await insertOne()]
    const merge = await held((tx) => mergeQueued(tx, 2)) // a and b, the oldest
    const deleting = db.query('DELETE FROM listings WHERE doc = $1', [a.doc])
    const retagging = db.query(`UPDATE listings SET tags = ARRAY['合并中改的标签'] WHERE doc = $1`, [b.doc])
    const other = mergeQueued(db, 10) // skips a and b; may wait on bitmap rows the first one holds
    assert.equal(await settlesSoon(deleting), false, 'the delete waits for the merge')
    assert.equal(await settlesSoon(retagging), false, 'the update waits for the merge')
    merge.release()
    assert.equal(await merge.done, 2)
    assert.equal(await other, 1, `only ${c.bookId} was left for the second merge`)
    await deleting
    await retagging
    assert.equal(await queuedCount(db), 0)
    await assertSearchIndexExact(db)
  })

  test('a listing whose update holds its queue row is left by the merge, and merged after from its new columns', async () => {
    await mergeAllQueued(db)
    const e = await insertOne()
    const editing = await held((tx) =>
      tx.query(`UPDATE listings SET tags = ARRAY['编辑中的标签'] WHERE doc = $1`, [e.doc]),
    )
    assert.equal(await mergeQueued(db, 10), 0, 'the merge skips the row the update holds')
    editing.release()
    await editing.done
    assert.equal(await mergeQueued(db, 10), 1)
    await assertSearchIndexExact(db)
    const tagged = await db.query<{ n: number }>(
      `SELECT sum(bit_count(bits))::int AS n FROM search_bitmaps WHERE kind = 't' AND key = '编辑中的标签'`,
    )
    assert.equal(tagged.rows[0]?.n, 1)
  })
})

test('the merger empties the queue in the background, and at its start what was queued before', async () => {
  await insertOne()
  await insertOne()
  const merger = new SearchMerger(db, undefined, { delayMs: 0, intervalMs: 50 })
  merger.start()
  for (let i = 0; i < 200 && (await queuedCount(db)) > 0; i++) await sleep(10)
  assert.equal(await queuedCount(db), 0, 'merged at start')
  await insertOne()
  merger.queued()
  for (let i = 0; i < 200 && (await queuedCount(db)) > 0; i++) await sleep(10)
  assert.equal(await queuedCount(db), 0, 'merged once told')
  await merger.stop()
  await insertOne()
  merger.queued() // stopped: the listing stays queued for the next start
  await sleep(150)
  assert.equal(await queuedCount(db), 1)
  await assertSearchIndexExact(db)
})

test('books added through the API are merged by the server soon after, and found before and after', async () => {
  const t = await startApp()
  try {
    const seller = await newUser(t.app, 'seller')
    const store = await newStore(t.app, seller)
    for (let i = 0; i < 5; i++)
      await addBook(t.app, seller, store, { ...bookInfo(`merged-${i}`), title: `合并测试之书 ${i}` })
    for (let i = 0; i < 300 && (await queuedCount(t.db)) > 0; i++) await sleep(10)
    assert.equal(await queuedCount(t.db), 0)
    await assertSearchIndexExact(t.db, ['w', 'A', 'g', 's', 'l'])
  } finally {
    await t.close()
  }
})
