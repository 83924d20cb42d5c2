/**
 * PGlite on its own thread (src/db/pglite-worker.ts), the way the server opens its data directory:
 * values, errors, transactions and their isolation, and durability across a reopen all behave as
 * with PGlite in the same thread.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type Db, PG, pgCode } from '../../src/db/db.ts'
import { migrate } from '../../src/db/migrate.ts'
import { openPglite } from '../../src/db/pglite.ts'
import { openPgliteThread } from '../../src/db/pglite-worker.ts'
import { signal } from '../support/helpers.ts'

describe('PGlite on its own thread', () => {
  let db: Db
  before(async () => {
    db = await openPgliteThread()
    await db.exec(`CREATE TABLE kv (k text PRIMARY KEY, v bigint NOT NULL CHECK (v >= 0), blob bytea, at timestamptz);
      INSERT INTO kv (k, v) VALUES ('counter', 0)`)
  })
  after(() => db.close())

  test('values cross the thread as they come from PGlite in this thread', async () => {
    const text = `SELECT $1::bigint AS big, $2::bytea AS blob, $3::text[] AS tags, $4::timestamptz AS at,
      $5::boolean AS flag, NULL::text AS nothing, 1.5::float8 AS f`
    const params = [
      9_007_199_254_740_000,
      Buffer.from([0, 255]),
      ['a', '书'],
      new Date('2026-05-06T07:08:09Z'),
      true,
    ]
    const here = await openPglite()
    try {
      const expected = await here.query(text, params)
      assert.deepEqual((await db.query(text, params)).rows, expected.rows)
      assert.deepEqual((await db.query(text, params, { name: 'thread_values' })).rows, expected.rows)
    } finally {
      await here.close()
    }
  })

  test('errors keep their PostgreSQL code and fields', async () => {
    await assert.rejects(db.query("INSERT INTO kv (k, v) VALUES ('counter', 1)"), (err: Error) => {
      assert.equal(pgCode(err), PG.uniqueViolation)
      assert.equal((err as Error & { constraint?: string }).constraint, 'kv_pkey')
      assert.match(err.message, /duplicate key/)
      return true
    })
    await assert.rejects(
      db.query("UPDATE kv SET v = -1 WHERE k = 'counter'"),
      (err) => pgCode(err) === PG.checkViolation,
    )
  })

  test('a transaction commits, or rolls back when its function throws', async () => {
    await db.transaction(async (tx) => {
      assert.equal(tx.inTransaction, true)
      await tx.query("INSERT INTO kv (k, v) VALUES ('committed', 1)")
      await tx.exec(
        "INSERT INTO kv (k, v) VALUES ('by exec', 2); INSERT INTO kv (k, v) VALUES ('by exec 2', 3)",
      )
    })
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO kv (k, v) VALUES ('rolled back', 1)")
        throw new Error('changed my mind')
      }),
      /changed my mind/,
    )
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO kv (k, v) VALUES ('rolled back too', 1)")
        await tx.query("INSERT INTO kv (k, v) VALUES ('counter', 1)")
      }),
      (err) => pgCode(err) === PG.uniqueViolation,
    )
    const keys = await db.query<{ k: string }>("SELECT k FROM kv WHERE k <> 'counter' ORDER BY k")
    assert.deepEqual(
      keys.rows.map((r) => r.k),
      ['by exec', 'by exec 2', 'committed'],
    )
  })

  test('transactions run one after another, and a statement outside waits for the open one', async () => {
    const held = signal()
    const written = signal()
    const first = db.transaction(async (tx) => {
      await tx.query("UPDATE kv SET v = v + 1 WHERE k = 'counter'")
      written.fire()
      await held.promise
      throw new Error('undo')
    })
    await written.promise
    // read-modify-write: would lose an update if it ran inside or alongside the first
    const second = db.transaction(async (tx) => {
      const r = await tx.query<{ v: number }>("SELECT v FROM kv WHERE k = 'counter'")
      await tx.query("UPDATE kv SET v = $1 WHERE k = 'counter'", [(r.rows[0]?.v ?? 0) + 10])
    })
    const outside = db.query<{ v: number }>("SELECT v FROM kv WHERE k = 'counter'")
    held.fire()
    await assert.rejects(first, /undo/)
    await second
    assert.equal((await outside).rows[0]?.v, 10)
    assert.equal((await db.query<{ v: number }>("SELECT v FROM kv WHERE k = 'counter'")).rows[0]?.v, 10)
  })

  test('transactions sent at once (each statement sent before BEGIN is answered) lose no update', async () => {
    const before = (await db.query<{ v: number }>("SELECT v FROM kv WHERE k = 'counter'")).rows[0]?.v ?? 0
    // read-modify-write in each: one running inside or alongside another would lose an increment
    await Promise.all(
      Array.from({ length: 25 }, () =>
        db.transaction(async (tx) => {
          const r = await tx.query<{ v: number }>("SELECT v FROM kv WHERE k = 'counter'")
          await tx.query("UPDATE kv SET v = $1 WHERE k = 'counter'", [(r.rows[0]?.v ?? 0) + 1])
        }),
      ),
    )
    assert.equal(
      (await db.query<{ v: number }>("SELECT v FROM kv WHERE k = 'counter'")).rows[0]?.v,
      before + 25,
    )
  })

  test('a transaction with no statement, or that throws before its first, ends and leaves none open', async () => {
    assert.equal(await db.transaction(async () => 'nothing asked'), 'nothing asked')
    await assert.rejects(
      db.transaction(async () => {
        throw new Error('before any statement')
      }),
      /before any statement/,
    )
    // Nothing is left open: a statement outside a transaction would wait behind it for ever.
    assert.equal((await db.query<{ n: number }>('SELECT 1 AS n')).rows[0]?.n, 1)
    assert.deepEqual(db.stats(), { total: 1, idle: 1, waiting: 0 })
  })

  test('a read-only snapshot answers before its COMMIT is acknowledged, and refuses a write', async () => {
    await assert.rejects(
      db.transaction((tx) => tx.query("UPDATE kv SET v = 0 WHERE k = 'counter'"), { readOnlySnapshot: true }),
      (err) => pgCode(err) === '25006', // read_only_sql_transaction
    )
    const v = await db.transaction(
      async (tx) => (await tx.query<{ v: number }>("SELECT v FROM kv WHERE k = 'counter'")).rows[0]?.v,
      { readOnlySnapshot: true },
    )
    // Sent at once after it: the thread has ended the read-only transaction first, so this commits.
    await db.query("UPDATE kv SET v = v + 1 WHERE k = 'counter'")
    const after = await db.query<{ v: number }>("SELECT v FROM kv WHERE k = 'counter'")
    assert.equal(after.rows[0]?.v, (v ?? 0) + 1)
    assert.notEqual(v, 0)
  })

  test('stats say one connection', () => {
    assert.deepEqual(db.stats(), { total: 1, idle: 1, waiting: 0 })
  })
})

describe('PGlite thread: opening and closing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bookstore-thread-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  test('what was committed is there after closing and reopening the data directory', async () => {
    const data = join(dir, 'pglite')
    const a = await openPgliteThread(data)
    await migrate(a)
    await a.query("INSERT INTO users (user_id, password_hash) VALUES ('kept', 'h')")
    await a.close()
    await assert.rejects(a.query('SELECT 1'), /database thread stopped/)
    await a.close() // closing twice is harmless

    const b = await openPgliteThread(data)
    try {
      assert.deepEqual(await migrate(b), [])
      const r = await b.query<{ user_id: string }>('SELECT user_id FROM users')
      assert.deepEqual(r.rows, [{ user_id: 'kept' }])
    } finally {
      await b.close()
    }
  })

  test('a data directory that cannot be opened fails the open, with the reason', async () => {
    const file = join(dir, 'not-a-directory')
    writeFileSync(file, 'x')
    await assert.rejects(openPgliteThread(join(file, 'pglite')))
  })
})
