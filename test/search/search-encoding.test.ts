/**
 * The search constants of src/search/encoding.ts are what the database does: the migrations spell
 * the same numbers in SQL (they ran on existing databases and are not rewritten), so this reads them
 * back from a freshly migrated database, on either engine, and fails when one side changes alone.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Db } from '../../src/db/db.ts'
import { insertListings, type NewListing } from '../../src/repositories/listings.ts'
import { mergeAllQueued } from '../../src/repositories/search/pending.ts'
import { BITMAP_BLOCK } from '../../src/search/encoding.ts'
import { SCOPE_FIELDS, type ScopeField } from '../../src/search/query.ts'
import { bulkLoadIndexes } from '../../tools/catalog/gen-catalog.ts'
import { freshDb, type TestDb } from '../support/helpers.ts'

/** One word per field, none shared: each word's bitmaps say which field it is in. */
const WORD: Record<ScopeField, string> = {
  title: 'alpha',
  author: 'bravo',
  tags: 'charlie',
  book_intro: 'delta',
  content: 'echo',
}

function listing(): NewListing {
  return {
    storeId: 'enc-store',
    bookId: 'enc-book',
    title: WORD.title,
    author: WORD.author,
    publisher: null,
    originalTitle: null,
    translator: null,
    pubYear: null,
    pages: null,
    price: 100,
    binding: null,
    isbn: null,
    authorIntro: null,
    bookIntro: WORD.book_intro,
    content: WORD.content,
    tags: [WORD.tags],
    extra: {},
    stockLevel: 1,
  }
}

describe('search constants against the database', () => {
  let t: TestDb
  let db: Db
  let doc: number
  before(async () => {
    t = await freshDb()
    db = t.db
    await db.query(`INSERT INTO users (user_id, password_hash) VALUES ('enc-owner', 'x')`)
    await db.query(`INSERT INTO stores (store_id, owner_id) VALUES ('enc-store', 'enc-owner')`)
    await db.transaction((tx) => insertListings(tx, [listing()]))
    // Queued by the insert (migration 019); its bits are read below from the merged rows.
    assert.equal(await mergeAllQueued(db), 1)
    doc = (await db.query<{ doc: number }>(`SELECT doc FROM listings`)).rows[0]?.doc ?? -1
  })
  after(() => t.dispose())

  it('when a word is in one field, then it has the bitmap kinds of that field (search_keys_of)', async () => {
    const kinds = async (key: string) =>
      (
        await db.query<{ kind: string }>(
          `SELECT DISTINCT b.kind::text AS kind FROM search_bitmaps b
            WHERE b.key = $1 AND get_bit(b.bits, $2::int) = 1`,
          [key, doc % BITMAP_BLOCK],
        )
      ).rows
        .map((r) => r.kind)
        .sort()
    const expected: Record<ScopeField, string[]> = {
      title: ['A', 'w'],
      author: ['B', 'w'],
      tags: ['B', 'k', 't', 'w'],
      book_intro: ['w'],
      content: ['w'],
    }
    for (const field of SCOPE_FIELDS) assert.deepEqual(await kinds(WORD[field]), expected[field], field)
    // A pair of neighbouring title characters; a single one has no bitmap.
    assert.deepEqual(await kinds('al'), ['g'])
    assert.deepEqual(await kinds('a'), [])
    assert.deepEqual(await kinds('enc-store'), ['s'])
  })

  it('when bitmaps are stored, then a block is BITMAP_BLOCK bits and doc / BITMAP_BLOCK picks it', async () => {
    const type = await db.query<{ t: string }>(
      `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute
        WHERE attrelid = 'search_bitmaps'::regclass AND attname = 'bits'`,
    )
    assert.equal(type.rows[0]?.t, `bit(${BITMAP_BLOCK})`)
    const bits = await db.query<{ n: number }>('SELECT length(search_bits(ARRAY[0])) AS n')
    assert.equal(bits.rows[0]?.n, BITMAP_BLOCK)
    const set = await db.query<{ set: number }>(
      `SELECT get_bit(bits, $2::int) AS set FROM search_bitmaps WHERE kind = 't' AND key = $1 AND block = $3`,
      [WORD.tags, doc % BITMAP_BLOCK, Math.floor(doc / BITMAP_BLOCK)],
    )
    assert.deepEqual(set.rows, [{ set: 1 }])
  })

  it('when gen-catalog asks for the indexes a bulk load drops, then the catalog of a fresh database gives them', async () => {
    const indexes = new Map(await bulkLoadIndexes())
    assert.deepEqual([...indexes.keys()].sort(), [
      'listings_newest',
      'listings_price',
      'listings_pub_year',
      'listings_search',
      'listings_store_docs',
      'listings_tags',
      'listings_title_grams',
    ])
    // Each definition rebuilds its index on this database.
    const def = indexes.get('listings_price') ?? ''
    assert.match(def, /^CREATE INDEX listings_price ON listings USING btree \(price, store_id, book_id\)$/)
    await db.exec('DROP INDEX listings_price')
    await db.exec(def)
    const back = await db.query(
      `SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'listings_price'`,
    )
    assert.equal(back.rowCount, 1)
  })
})
