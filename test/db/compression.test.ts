/**
 * Wide values are compressed with lz4 where the server has it (migration 025), pglz elsewhere
 * (PGlite is built without lz4): read back, per value, from a listing just added and merged.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { insertListings, type NewListing } from '../../src/repositories/listings.ts'
import { mergeAllQueued } from '../../src/repositories/search/pending.ts'
import { syntheticListing } from '../../tools/catalog/synthetic.ts'
import { ENGINE, freshDb, type TestDb } from '../support/helpers.ts'

let t: TestDb
before(async () => {
  t = await freshDb()
})
after(() => t.dispose())

/** A listing whose intro and content are well over the 2 KB from which a row's values get compressed. */
function wideListing(): NewListing {
  const text = '美丽心灵 a beautiful mind 数学 经济学 '.repeat(150)
  return {
    ...syntheticListing(0, { storeIds: ['zip-store'] }),
    bookId: 'zip-book',
    bookIntro: text,
    content: text,
  }
}

test('when a wide listing is added and merged, then its values and its bitmaps are compressed with lz4 where the server has it', async () => {
  const { db } = t
  const lz4 = (
    await db.query<{ lz4: boolean }>(
      `SELECT 'lz4' = ANY (enumvals) AS lz4 FROM pg_settings WHERE name = 'default_toast_compression'`,
    )
  ).rows[0]?.lz4
  // Debian's PostgreSQL is built with lz4; PGlite is not.
  assert.equal(lz4, ENGINE === 'postgres')
  const expected = lz4 ? 'lz4' : 'pglz'

  await db.query(`INSERT INTO users (user_id, password_hash) VALUES ('zip-owner', 'x')`)
  await db.query(`INSERT INTO stores (store_id, owner_id) VALUES ('zip-store', 'zip-owner')`)
  await db.transaction((tx) => insertListings(tx, [wideListing()]))
  assert.equal(await mergeAllQueued(db), 1)

  const listing = await db.query<Record<string, string | null>>(
    `SELECT pg_column_compression(book_intro) AS book_intro, pg_column_compression(content) AS content
       FROM listings`,
  )
  assert.deepEqual(listing.rows, [{ book_intro: expected, content: expected }])
  const bitmaps = await db.query<{ method: string | null; n: number }>(
    `SELECT pg_column_compression(bits) AS method, count(*)::int AS n FROM search_bitmaps GROUP BY 1`,
  )
  assert.equal(bitmaps.rows.length, 1, JSON.stringify(bitmaps.rows))
  assert.equal(bitmaps.rows[0]?.method, expected)
  assert.ok((bitmaps.rows[0]?.n ?? 0) > 10)
})
