/**
 * TransactionOptions.readOnlySnapshot (src/db/db.ts), which a search's reads run in: on either engine
 * one snapshot for every statement (a write committed by another transaction meanwhile is not seen) and
 * writes refused; on PostgreSQL, no JIT.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { pgCode } from '../../src/db/db.ts'
import { DATABASE_URL, freshDb, type TestDb } from '../support/helpers.ts'

describe('a read-only snapshot transaction', () => {
  let t: TestDb
  before(async () => {
    t = await freshDb()
    await t.db.exec(
      "CREATE TABLE snap (k text PRIMARY KEY, v int NOT NULL); INSERT INTO snap VALUES ('a', 1)",
    )
  })
  after(() => t.dispose())

  test('its statements see the data as it was at the first, whatever commits meanwhile', async () => {
    let writer: Promise<unknown> | undefined
    const seen = await t.db.transaction(
      async (tx) => {
        const first = (await tx.query<{ v: number }>("SELECT v FROM snap WHERE k = 'a'")).rows[0]?.v
        // PGlite runs one transaction at a time: there the write waits for this one to end.
        writer = t.db.query("UPDATE snap SET v = v + 1 WHERE k = 'a'")
        if (t.db.engine === 'postgres') await writer
        const second = (await tx.query<{ v: number }>("SELECT v FROM snap WHERE k = 'a'")).rows[0]?.v
        return [first, second]
      },
      { readOnlySnapshot: true },
    )
    await writer
    assert.deepEqual(seen, [1, 1])
    const after = await t.db.query<{ v: number }>("SELECT v FROM snap WHERE k = 'a'")
    assert.equal(after.rows[0]?.v, 2)
  })

  test('a write in it fails, and changes nothing', async () => {
    await assert.rejects(
      t.db.transaction((tx) => tx.query("UPDATE snap SET v = 0 WHERE k = 'a'"), { readOnlySnapshot: true }),
      (err) => pgCode(err) === '25006', // read_only_sql_transaction
    )
    const r = await t.db.query<{ v: number }>("SELECT v FROM snap WHERE k = 'a'")
    assert.equal(r.rows[0]?.v, 2)
  })

  test('on PostgreSQL it is REPEATABLE READ, READ ONLY and without JIT, for that transaction only', {
    skip: DATABASE_URL ? false : 'needs DATABASE_URL (PostgreSQL)',
  }, async () => {
    const settings = await t.db.transaction(
      async (tx) =>
        (
          await tx.query<{ iso: string; ro: string; jit: string }>(
            `SELECT current_setting('transaction_isolation') AS iso,
                      current_setting('transaction_read_only') AS ro, current_setting('jit') AS jit`,
          )
        ).rows[0],
      { readOnlySnapshot: true },
    )
    assert.deepEqual(settings, { iso: 'repeatable read', ro: 'on', jit: 'off' })
    // The settings end with the transaction: a plain one, on the same pool, is as before.
    const plain = await t.db.transaction(
      async (tx) =>
        (
          await tx.query<{ iso: string; ro: string }>(
            `SELECT current_setting('transaction_isolation') AS iso, current_setting('transaction_read_only') AS ro`,
          )
        ).rows[0],
    )
    assert.deepEqual(plain, { iso: 'read committed', ro: 'off' })
  })
})
