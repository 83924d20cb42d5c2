/**
 * The search constants of src/search/encoding.ts are what the database does: the migrations spell
 * the same numbers in SQL (they ran on existing databases and are not rewritten), so this reads them
 * back from a freshly migrated database, on either engine, and fails when one side changes alone.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Db } from '../../src/db/db.ts'
import { insertListings, type NewListing } from '../../src/repositories/listings.ts'
import { BITMAP_BLOCK, FIELD_BITS, TITLE_GRAM_BIT } from '../../src/search/encoding.ts'
import { SCOPE_FIELDS, type ScopeField } from '../../src/search/query.ts'
import { bulkLoadIndexes } from '../../tools/catalog/gen-catalog.ts'
import { freshDb, type TestDb } from '../support/helpers.ts'

/** One word per field, none shared: each word's postings row says which field it is in. */
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
    doc = (await db.query<{ doc: number }>(`SELECT doc FROM listings`)).rows[0]?.doc ?? -1
  })
  after(() => t.dispose())

  const fieldsOf = async (term: string) =>
    (await db.query<{ fields: number }>('SELECT fields FROM search_postings WHERE term = $1', [term])).rows[0]
      ?.fields

  it('when a word is in one field, then its postings row has that field’s bit of FIELD_BITS', async () => {
    for (const field of SCOPE_FIELDS) {
      const fields = await fieldsOf(WORD[field])
      assert.equal((fields ?? 0) & ~TITLE_GRAM_BIT, FIELD_BITS[field], `${field}: ${WORD[field]}`)
    }
  })

  it('when a term is a pair of title characters, then its postings row has TITLE_GRAM_BIT alone', async () => {
    assert.equal(await fieldsOf('al'), TITLE_GRAM_BIT)
  })

  it('when the SQL picks bitmap kinds from the field bits, then the tag bit and the gram bit are the TS ones', async () => {
    const kinds = async (term: string, fields: number) =>
      (
        await db.query<{ kind: string }>(
          'SELECT k::text AS kind FROM search_bitmap_kinds($1, $2::smallint, 0::smallint, 0::smallint, 0::smallint, 0::smallint) AS k',
          [term, fields],
        )
      ).rows.map((r) => r.kind)
    assert.deepEqual(await kinds('x', FIELD_BITS.tags), ['k'])
    assert.deepEqual(await kinds('xy', TITLE_GRAM_BIT), ['g'])
    assert.deepEqual(await kinds('xy', FIELD_BITS.title | FIELD_BITS.author | FIELD_BITS.book_intro), [])
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
      'search_postings_rank',
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
