import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import sqlite from 'node-sqlite3-wasm'
import { CourseDb } from '../../src/catalog/course-db.ts'
import { ImportError, importCatalog } from '../../src/catalog/import.ts'
import { main } from '../../src/cli/import.ts'
import { openPglite } from '../../src/db/pglite.ts'
import { PasswordHasher } from '../../src/security/passwords.ts'
import { makeCatalogue } from '../support/catalogue-fixture.ts'
import { freshDb, type TestDb } from '../support/helpers.ts'

const SAMPLE = fileURLToPath(new URL('../../../shared/data/book.db', import.meta.url))
let dir: string
let file: string
let t: TestDb
const hasher = new PasswordHasher(1024)

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bookstore-import-'))
  file = makeCatalogue(dir)
  t = await freshDb()
})
after(async () => {
  await t.dispose()
  rmSync(dir, { recursive: true, force: true })
})

describe('importCatalog', () => {
  test('lists every well-formed book in batches, with pictures stored once per content', async () => {
    const source = new CourseDb(file)
    const seen: number[] = []
    const r = await importCatalog(t.db, hasher, source, {
      storeId: 'mini',
      sellerId: 'importer',
      sellerPassword: 'pw',
      stock: 7,
      batchSize: 4,
      onProgress: (p) => seen.push(p.seen),
    })
    source.close()
    assert.deepEqual(r, {
      total: 26,
      seen: 26,
      added: 25,
      skipped: 0,
      invalid: 1,
      failed: 0,
      failures: [{ row: 26, id: 'bad-no-title', reason: 'no title' }],
    })
    assert.equal(seen[0], 0)
    assert.equal(seen.at(-1), 26)
    assert.ok(seen.length >= 7, 'progress after every batch')
    const rows = await t.db.query<{ n: number; stock: number; pics: number }>(
      `SELECT count(*)::int AS n, min(stock_level) AS stock,
              (SELECT count(*)::int FROM listing_pictures WHERE store_id = 'mini') AS pics
         FROM listings WHERE store_id = 'mini'`,
    )
    assert.deepEqual(rows.rows[0], { n: 25, stock: 7, pics: 16 })
    const distinct = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM pictures')
    assert.equal(distinct.rows[0]?.n, 2, 'two distinct images, however many books show them')
    const one = await t.db.query<Record<string, unknown>>(
      "SELECT title, author, pages, price, tags, extra, pub_year, content FROM listings WHERE book_id = 'b005'",
    )
    assert.deepEqual(one.rows[0], {
      title: '书名 5',
      author: '作者甲',
      pages: null,
      price: 1005,
      tags: ['小说', '经典'],
      extra: { currency_unit: '元' },
      pub_year: '2002-1',
      content: null,
    })
    const owner = await t.db.query('SELECT owner_id FROM stores WHERE store_id = $1', ['mini'])
    assert.deepEqual(owner.rows, [{ owner_id: 'importer' }])
  })

  test('running it again skips what is listed and changes nothing', async () => {
    const source = new CourseDb(file)
    const r = await importCatalog(t.db, hasher, source, { storeId: 'mini', sellerId: 'importer', stock: 99 })
    source.close()
    assert.deepEqual(r, {
      total: 26,
      seen: 26,
      added: 0,
      skipped: 25,
      invalid: 1,
      failed: 0,
      failures: [{ row: 26, id: 'bad-no-title', reason: 'no title' }],
    })
    const stock = await t.db.query<{ s: number }>(
      "SELECT max(stock_level) AS s FROM listings WHERE store_id = 'mini'",
    )
    assert.equal(stock.rows[0]?.s, 7)
  })

  test('--limit stops early', async () => {
    const source = new CourseDb(file)
    const r = await importCatalog(t.db, hasher, source, {
      storeId: 'limited',
      sellerId: 'importer',
      stock: 1,
      limit: 3,
      batchSize: 2,
    })
    source.close()
    assert.deepEqual(r, { total: 3, seen: 3, added: 3, skipped: 0, invalid: 0, failed: 0, failures: [] })
  })

  test('refuses an unknown seller without a password, and a store of someone else', async () => {
    const source = new CourseDb(file)
    await assert.rejects(
      importCatalog(t.db, hasher, source, { storeId: 'x', sellerId: 'nobody', stock: 1 }),
      (e: unknown) => e instanceof ImportError && /does not exist/.test(e.message),
    )
    await importCatalog(t.db, hasher, source, {
      storeId: 'theirs',
      sellerId: 'other',
      sellerPassword: 'p',
      stock: 1,
      limit: 1,
    })
    await assert.rejects(
      importCatalog(t.db, hasher, source, { storeId: 'theirs', sellerId: 'importer', stock: 1 }),
      (e: unknown) => e instanceof ImportError && /belongs to other/.test(e.message),
    )
    source.close()
    const stores = await t.db.query("SELECT 1 FROM stores WHERE store_id = 'x'")
    assert.equal(stores.rowCount, 0, 'nothing written for a refused import')
  })
})

describe('the course sample catalogue', () => {
  test('all 100 books of ../shared/data/book.db are imported', async (ctx) => {
    if (!existsSync(SAMPLE)) {
      ctx.skip(`${SAMPLE} is absent: the course sample catalogue lives in ../shared/data/`)
      return
    }
    const source = new CourseDb(SAMPLE)
    const r = await importCatalog(t.db, hasher, source, {
      storeId: 'course',
      sellerId: 'course-seller',
      sellerPassword: 'p',
      stock: 5,
    })
    source.close()
    assert.equal(r.added, 100)
    const check = await t.db.query<{ n: number; tagged: number; pics: number }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE cardinality(tags) > 0)::int AS tagged,
              (SELECT count(*)::int FROM listing_pictures WHERE store_id = 'course') AS pics
         FROM listings WHERE store_id = 'course'`,
    )
    assert.deepEqual(check.rows[0], { n: 100, tagged: 100, pics: 100 })
  })
})

describe('the import command', () => {
  test('a file that is not a course catalogue is refused, naming it, before the database is touched', async () => {
    const text = join(dir, 'notes.txt')
    writeFileSync(text, 'these are not books\n'.repeat(200))
    const other = join(dir, 'other.db')
    const db = new sqlite.Database(other)
    db.run('CREATE TABLE author (id TEXT)')
    db.close()
    const env = { DATA_DIR: join(dir, 'untouched') }
    for (const [file, why] of [
      [text, /notes\.txt is not a SQLite database/],
      [other, /other\.db is a SQLite database without a "book" table/],
    ] as const) {
      const errors: string[] = []
      const orig = console.error
      console.error = (m: string) => errors.push(m)
      try {
        assert.equal(await main([file, '--store', 's', '--seller', 'u', '--password', 'p'], env), 2)
      } finally {
        console.error = orig
      }
      assert.match(errors.join('\n'), why)
    }
    assert.ok(!existsSync(join(dir, 'untouched')), 'no database was created or migrated')
  })

  test('imports into the embedded database under DATA_DIR, then reports a second run as already listed', async () => {
    const env = { DATA_DIR: join(dir, 'data') }
    const logs: string[] = []
    const orig = { log: console.log, error: console.error }
    console.log = (m: string) => logs.push(m)
    console.error = (m: string) => logs.push(m)
    try {
      assert.equal(
        await main([file, '--store', 's', '--seller', 'cli', '--password', 'pw', '--batch', '10'], env),
        0,
      )
      assert.equal(await main([file, '--store', 's', '--seller', 'cli'], env), 0)
      assert.equal(await main([file, '--store', 's'], env), 2, 'missing --seller')
      assert.equal(await main([file, '--store', 's', '--seller', 'cli', '--stock', '-1'], env), 2)
      assert.equal(await main([join(dir, 'missing.db'), '--store', 's', '--seller', 'cli'], env), 2)
      assert.equal(await main(['--bogus'], env), 2)
      assert.equal(await main(['--help'], env), 0)
    } finally {
      console.log = orig.log
      console.error = orig.error
    }
    assert.ok(
      logs.some((l) =>
        /imported 25 books into store s \(0 already listed, 1 without id or title, 0 refused by the database\) on pglite/.test(
          l,
        ),
      ),
      logs.join('\n'),
    )
    assert.ok(
      logs.some((l) => /imported 0 books into store s \(25 already listed,/.test(l)),
      logs.join('\n'),
    )
    // The import left statistics behind: the embedded engine never gathers them on its own.
    const db = await openPglite(join(dir, 'data', 'pglite'))
    try {
      const r = await db.query<{ relname: string; analysed: boolean }>(
        `SELECT relname, reltuples > 0 AND relallvisible > 0 AS analysed FROM pg_class
          WHERE relname IN ('listings', 'search_bitmaps') ORDER BY relname`,
      )
      assert.deepEqual(r.rows, [
        { relname: 'listings', analysed: true },
        { relname: 'search_bitmaps', analysed: true },
      ])
    } finally {
      await db.close()
    }
  })
})
