/**
 * A lone statement or a whole transaction that fails in a way that leaves nothing behind is run
 * again on PostgreSQL (src/db/postgres.ts, `retrying`). A sequence counts the attempts: nextval is
 * not undone by a rollback.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { PG, pgCode } from '../../src/db/db.ts'
import { DATABASE_URL, freshDb, type TestDb } from '../support/helpers.ts'

describe('retries on PostgreSQL', { skip: DATABASE_URL ? false : 'needs DATABASE_URL (PostgreSQL)' }, () => {
  let t: TestDb
  before(async () => {
    t = await freshDb()
    await t.db.exec('CREATE SEQUENCE attempts_a; CREATE SEQUENCE attempts_b; CREATE SEQUENCE attempts_c')
  })
  after(() => t.dispose())

  test('a lone statement whose bookstore_assert fails once is sent again', async () => {
    const r = await t.db.query<{ ok: boolean }>(
      "SELECT bookstore_assert(nextval('attempts_a') > 1, 'first try fails') AS ok",
    )
    assert.equal(r.rows[0]?.ok, true)
    const n = await t.db.query<{ last_value: number }>('SELECT last_value FROM attempts_a')
    assert.equal(n.rows[0]?.last_value, 2)
  })

  test('a transaction that fails once is run again as a whole', async () => {
    let runs = 0
    const v = await t.db.transaction(async (tx) => {
      runs += 1
      const r = await tx.query<{ n: number }>("SELECT nextval('attempts_b')::int AS n")
      await tx.query("SELECT bookstore_assert($1::int > 1, 'first try fails')", [r.rows[0]?.n])
      return r.rows[0]?.n
    })
    assert.equal(runs, 2)
    assert.equal(v, 2)
  })

  test('a failure that persists is given up after five attempts, with its code', async () => {
    await assert.rejects(
      t.db.query("SELECT bookstore_assert(nextval('attempts_c') < 0, 'always fails')"),
      (err) => pgCode(err) === PG.assertionFailed,
    )
    const n = await t.db.query<{ last_value: number }>('SELECT last_value FROM attempts_c')
    assert.equal(n.rows[0]?.last_value, 5)
  })

  test("a failed statement's error keeps its code and its stack leads back to the caller", async () => {
    const inTransaction = () => t.db.transaction((tx) => tx.query('SELECT 1 / 0'))
    for (const failing of [() => t.db.query('SELECT 1 / 0'), inTransaction]) {
      const err = await failing().then(
        () => assert.fail('the statement succeeded'),
        (e: unknown) => e,
      )
      assert.equal(pgCode(err), '22012')
      assert.match(String((err as Error).stack), /db-retry\.test\.ts/)
    }
  })
})
