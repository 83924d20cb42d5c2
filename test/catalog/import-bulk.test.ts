/**
 * The import of a catalogue shaped like the course's book_lx.db (gen-course-db: long texts, covers
 * shared by several books, repeated ids) lists exactly what adding the same books one by one through
 * add_book lists: the same listings, pictures (each content stored once), search results and
 * suggestions. An interrupted import resumes where it stopped; a book the database refuses is
 * reported and its batch's other books are listed.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import sqlite from 'node-sqlite3-wasm'
import { CourseDb } from '../../src/catalog/course-db.ts'
import { importCatalog } from '../../src/catalog/import.ts'
import { bookstoreCli } from '../../src/cli/main.ts'
import { BITMAP_BLOCK } from '../../src/search/encoding.ts'
import { PasswordHasher } from '../../src/security/passwords.ts'
import { genCourseDb } from '../../tools/catalog/gen-course-db.ts'
import { addToolCommands } from '../../tools/cli.ts'
import { addBook, call, newStore, newUser, startApp, type TestApp, type User } from '../support/helpers.ts'
import { allPages } from '../support/search-fixtures.ts'
import { assertSearchIndexExact } from '../support/search-index.ts'

const BOOKS = 120
const hasher = new PasswordHasher(1024)
let dir: string
let file: string
let t: TestApp
let seller: User
/** The file's rows in order (a repeated id keeps its first row, as the import does). */
let rows: { id: string; info: Record<string, unknown>; picture: Buffer | null }[]

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bookstore-import-bulk-'))
  file = join(dir, 'book_lx.db')
  const log = console.log
  console.log = () => {}
  try {
    // small pictures keep the test quick; their number and sharing are as in a real catalogue
    await genCourseDb({ books: BOOKS, out: file, seed: 7, pictureBytes: 3000 })
  } finally {
    console.log = log
  }
  const db = new sqlite.Database(file, { readOnly: true })
  const seen = new Set<string>()
  rows = []
  for (const r of db.all('SELECT * FROM book ORDER BY rowid') as Record<string, unknown>[]) {
    const id = String(r.id)
    if (seen.has(id)) continue
    seen.add(id)
    const { picture, tags, ...fields } = r
    const info = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null && v !== ''))
    info.tags = String(tags ?? '')
      .split('\n')
      .filter((x) => x !== '')
    rows.push({ id, info, picture: picture ? Buffer.from(picture as Uint8Array) : null })
  }
  db.close()
  t = await startApp()
  seller = await newUser(t.app, 'seller')
})
after(async () => {
  await t.close()
  rmSync(dir, { recursive: true, force: true })
})

const importInto = async (storeId: string, opts: { batchSize?: number; signal?: AbortSignal } = {}) => {
  const source = new CourseDb(file)
  try {
    return await importCatalog(t.db, hasher, source, {
      storeId,
      sellerId: seller.userId,
      stock: 10,
      batchSize: opts.batchSize ?? 25,
      ...(opts.signal ? { signal: opts.signal } : {}),
      onProgress: () => {},
    })
  } finally {
    source.close()
  }
}

/** A store's listings as add_book would show them: every column but the store and the internal ids. */
async function listingsOf(storeId: string) {
  const r = await t.db.query<Record<string, unknown>>(
    `SELECT book_id, title, author, publisher, original_title, translator, pub_year, pages, price, binding,
            isbn, author_intro, book_intro, content, tags, extra, stock_level,
            search_vec::text AS search_vec, author_tags_vec::text AS author_tags_vec,
            title_grams::text AS title_grams,
            (SELECT array_agg(encode(sha256, 'hex') ORDER BY idx) FROM listing_pictures p
              WHERE p.store_id = l.store_id AND p.book_id = l.book_id) AS pictures
       FROM listings l WHERE store_id = $1 ORDER BY book_id`,
    [storeId],
  )
  return r.rows
}

describe('importing a book_lx-shaped catalogue', () => {
  let imported: string
  let oneByOne: string

  before(async () => {
    imported = await newStore(t.app, seller)
    oneByOne = await newStore(t.app, seller)
    const r = await importInto(imported)
    assert.equal(r.added, rows.length)
    assert.equal(r.skipped, BOOKS - rows.length, 'a repeated id is skipped, as already listed')
    for (const row of rows)
      await addBook(t.app, seller, oneByOne, {
        ...row.info,
        pictures: row.picture ? [row.picture.toString('base64')] : [],
      })
  })

  test('the file repeats ids and covers, as a real catalogue does', () => {
    assert.ok(rows.length < BOOKS, 'some ids come twice')
    const covers = rows.flatMap((r) => (r.picture ? [r.picture.toString('hex')] : []))
    assert.ok(new Set(covers).size < covers.length, 'some covers are shared')
    assert.ok(covers.length < rows.length, 'some books have no picture')
  })

  test('the listings, their search columns and pictures equal those added one by one', async () => {
    const a = await listingsOf(imported)
    const b = await listingsOf(oneByOne)
    assert.equal(a.length, rows.length)
    assert.deepEqual(a, b)
    const expected = new Map(
      rows.map((r) => [r.id, r.picture ? [createHash('sha256').update(r.picture).digest('hex')] : null]),
    )
    for (const l of a) assert.deepEqual(l.pictures, expected.get(l.book_id as string), `${l.book_id}`)
  })

  test('the search bits of each book equal those of the book added one by one, and are exact', async () => {
    // Every bitmap bit each listing has but its store's (which differs by design).
    const bits = async (store: string) =>
      (
        await t.db.query<Record<string, unknown>>(
          `SELECT l.book_id, b.kind::text AS kind, b.key
             FROM listings l JOIN search_bitmaps b ON b.block = (l.doc / ${BITMAP_BLOCK})::int
            WHERE l.store_id = $1 AND b.kind <> 's' AND get_bit(b.bits, (l.doc % ${BITMAP_BLOCK})::int) = 1
            ORDER BY l.book_id, b.kind::text COLLATE "C", b.key COLLATE "C"`,
          [store],
        )
      ).rows
    // The import merges each batch itself: none of its listings is left queued (migration 019).
    const queued = await t.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM search_pending p JOIN listings l ON l.doc = p.doc WHERE l.store_id = $1',
      [imported],
    )
    assert.equal(queued.rows[0]?.n, 0)
    // The books added one by one are merged in the background; this merges what is left, then checks.
    await assertSearchIndexExact(t.db)
    const a = await bits(imported)
    assert.ok(a.length > rows.length * 50, 'long texts give many bits')
    assert.deepEqual(a, await bits(oneByOne))
  })

  test('each picture content is stored once, and served as the file has it', async () => {
    const distinct = new Set(rows.flatMap((r) => (r.picture ? [r.picture.toString('hex')] : [])))
    const stored = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM pictures')
    assert.equal(stored.rows[0]?.n, distinct.size)
    const withPicture = rows.find((r) => r.picture) as (typeof rows)[number]
    const res = await t.app.inject({
      method: 'GET',
      url: `/stores/${imported}/books/${withPicture.id}/pictures/0`,
    })
    assert.equal(res.statusCode, 200)
    assert.deepEqual(res.rawPayload, withPicture.picture)
  })

  test('searches in the store find the same books in the same order', async () => {
    const queries = ['心灵', '历史', '小说', 'science', '城市 历史', '王', 'notes', '美丽的']
    for (const q of queries) {
      const a = await allPages(t.app, { q, store_id: imported }, 50)
      const b = await allPages(t.app, { q, store_id: oneByOne }, 50)
      const strip = (pages: typeof a) => ({
        total: pages[0]?.total,
        ids: pages.flatMap((p) => p.books.map((x) => x.book_id)),
      })
      assert.deepEqual(strip(a), strip(b), q)
      assert.ok((a[0]?.total ?? 0) > 0, `${q} finds something`)
    }
    // Browsing (no words) lists newest first: books of one batch share their transaction's time, so
    // only the set is compared there.
    const tagged = async (store: string) =>
      (await allPages(t.app, { tag: '小说', store_id: store }, 100))
        .flatMap((p) => p.books.map((x) => x.book_id))
        .sort()
    assert.deepEqual(await tagged(imported), await tagged(oneByOne))
  })

  test('suggestions in the store are the same', async () => {
    for (const q of ['心', '城市', 'xin', '小']) {
      const get = async (store: string) => {
        const r = await call(t.app, 'GET', `/search/suggest?${new URLSearchParams({ q, store_id: store })}`)
        assert.equal(r.status, 200)
        return (r.body.suggestions as { text: string; kind: string; book_id: string | null }[]).map(
          (s) => `${s.kind}:${s.text}:${s.book_id}`,
        )
      }
      const a = await get(imported)
      assert.deepEqual(a, await get(oneByOne), q)
      assert.ok(a.length > 0, `${q} completes`)
    }
  })
})

describe('an interrupted import', () => {
  test('stops after a whole batch, and running it again lists the rest', async () => {
    const store = await newStore(t.app, seller)
    const stop = new AbortController()
    const source = new CourseDb(file)
    const first = await importCatalog(t.db, hasher, source, {
      storeId: store,
      sellerId: seller.userId,
      stock: 10,
      batchSize: 25,
      signal: stop.signal,
      onProgress: (p) => {
        if (p.seen >= 50) stop.abort()
      },
    })
    source.close()
    assert.equal(first.seen, 50, 'two batches, then the stop')
    const half = await listingsOf(store)
    assert.equal(half.length, first.added)
    // nothing half-listed: each listed book has its picture when the file gives one
    const byId = new Map(rows.map((r) => [r.id, r]))
    for (const l of half) assert.equal(l.pictures === null, byId.get(l.book_id as string)?.picture === null)
    const second = await importInto(store)
    assert.equal(second.added, rows.length - first.added)
    assert.equal(second.skipped, BOOKS - second.added)
    assert.equal((await listingsOf(store)).length, rows.length)
  })
})

describe('a book the database refuses', () => {
  test('is reported with its reason, and the other books of its batch are listed', async () => {
    const bad = join(dir, 'bad.db')
    const db = new sqlite.Database(bad)
    db.run(`CREATE TABLE book (id TEXT, title TEXT, author TEXT, publisher TEXT, original_title TEXT,
      translator TEXT, pub_year TEXT, pages INT, price INT, currency_unit TEXT, binding TEXT, isbn TEXT,
      author_intro TEXT, book_intro TEXT, content TEXT, tags TEXT, picture BLOB)`)
    const cover = Buffer.from('ffd8ffe000104a464946000102030405', 'hex')
    for (let i = 0; i < 6; i++)
      db.run('INSERT INTO book (id, title, price, tags, picture) VALUES (?, ?, ?, ?, ?)', [
        i === 3 ? 'x'.repeat(300) : `ok${i}`,
        `书 ${i}`,
        100 + i,
        '小说',
        cover,
      ])
    db.close()
    const store = await newStore(t.app, seller)
    const source = new CourseDb(bad)
    const r = await importCatalog(t.db, hasher, source, {
      storeId: store,
      sellerId: seller.userId,
      stock: 1,
      batchSize: 10,
    })
    source.close()
    assert.equal(r.added, 5)
    assert.equal(r.failed, 1)
    assert.equal(r.failures.length, 1)
    assert.equal(r.failures[0]?.id, 'x'.repeat(300))
    assert.match(r.failures[0]?.reason ?? '', /book_id_check|check constraint/)
    const listed = await t.db.query<{ book_id: string; pics: number }>(
      `SELECT l.book_id, (SELECT count(*)::int FROM listing_pictures p
                           WHERE p.store_id = l.store_id AND p.book_id = l.book_id) AS pics
         FROM listings l WHERE l.store_id = $1 ORDER BY 1`,
      [store],
    )
    assert.deepEqual(
      listed.rows,
      ['ok0', 'ok1', 'ok2', 'ok4', 'ok5'].map((book_id) => ({ book_id, pics: 1 })),
    )
  })
})

describe('the gen-course-db command', () => {
  test('writes a file the import reads, with the course layout and the books asked for', async () => {
    const out = join(dir, 'cli.db')
    const orig = { log: console.log, error: console.error }
    const said: string[] = []
    console.log = (m: string) => said.push(m)
    try {
      await addToolCommands(bookstoreCli({}), {}).parseAsync([
        'node',
        'bookstore',
        'gen-course-db',
        '--n',
        '12',
        '--out',
        out,
        '--picture-bytes',
        '1000',
      ])
    } finally {
      console.log = orig.log
    }
    assert.ok(
      said.some((l) => /wrote 12 books/.test(l)),
      said.join('\n'),
    )
    const source = new CourseDb(out)
    try {
      assert.equal(source.count(), 12)
      const [first] = source.batches(12)
      assert.ok(first)
      for (const b of first.books) {
        const text = `${b.author_intro}${b.book_intro}${b.content}`
        assert.ok(Buffer.byteLength(text) > 2000, 'about 3 KB of text a book')
      }
      assert.ok(first.books.some((b) => b.pictures.length === 1 && (b.pictures[0]?.length ?? 0) >= 600))
    } finally {
      source.close()
    }
  })
})
