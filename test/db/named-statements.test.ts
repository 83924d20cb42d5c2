/**
 * Named statements (QueryOptions.name) give the same results as plain ones on both engines. On
 * PGlite they go through src/db/pglite-statements.ts, which speaks the wire protocol itself: these tests
 * pin its type handling, row counts, errors and its place in PGlite's locking.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { PG, pgCode } from '../../src/db/db.ts'
import { freshDb, signal, type TestDb } from '../support/helpers.ts'

describe('named statements', () => {
  let t: TestDb
  before(async () => {
    t = await freshDb()
    await t.db.exec(`CREATE TABLE named_t (
      id int PRIMARY KEY, big bigint, flag boolean, label text, blob bytea, tags text[], at timestamptz)`)
  })
  after(() => t.dispose())

  const insert = `INSERT INTO named_t (id, big, flag, label, blob, tags, at)
    VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`
  const select =
    'SELECT id, big, flag, label, blob, tags, at, cardinality(tags) AS n FROM named_t WHERE id = ANY ($1::int[]) ORDER BY id'

  test('parameters and results of every type match an unnamed statement', async () => {
    const at = new Date('2026-01-02T03:04:05.678Z')
    const bytes = Buffer.from([0, 1, 2, 254, 255])
    const tags = ['plain', 'with,comma', 'with "quote"', '带中文', 'back\\slash']
    const ins = await t.db.query(insert, [1, 9_007_199_254_740_000, true, "it's", bytes, tags, at], {
      name: 'named_insert',
    })
    assert.deepEqual(ins.rows, [{ id: 1 }])
    assert.equal(ins.rowCount, 1)
    await t.db.query(insert, [2, null, false, null, null, null, null], { name: 'named_insert' })

    const named = await t.db.query(select, [[1, 2, 3]], { name: 'named_select' })
    const plain = await t.db.query(select, [[1, 2, 3]])
    assert.deepEqual(named.rows, plain.rows)
    assert.equal(named.rowCount, 2)
    const [one, two] = named.rows
    assert.equal(one?.big, 9_007_199_254_740_000)
    assert.equal(one?.flag, true)
    assert.equal(one?.label, "it's")
    assert.deepEqual(Buffer.from(one?.blob as Uint8Array), bytes)
    assert.deepEqual(one?.tags, tags)
    assert.deepEqual(one?.at, at)
    assert.equal(one?.n, 5)
    assert.deepEqual(two, {
      id: 2,
      big: null,
      flag: false,
      label: null,
      blob: null,
      tags: null,
      at: null,
      n: null,
    })
  })

  test('bytes come back as they went, every byte value, empty and large, named or not', async () => {
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
    const large = Buffer.alloc(300_000, every)
    const text =
      'SELECT $1::bytea AS every, $2::bytea AS empty, $3::bytea AS large, ARRAY[$1::bytea, NULL] AS arr'
    for (const opts of [undefined, { name: 'named_bytes' }]) {
      const [row] = (
        await t.db.query<{
          every: Uint8Array
          empty: Uint8Array
          large: Uint8Array
          arr: (Uint8Array | null)[]
        }>(text, [every, Buffer.alloc(0), large], opts)
      ).rows
      assert.ok(row?.every instanceof Uint8Array)
      assert.deepEqual(Buffer.from(row.every), every)
      assert.equal(row.empty.length, 0)
      assert.ok(Buffer.from(row.large).equals(large))
      assert.deepEqual(Buffer.from(row.arr[0] as Uint8Array), every)
      assert.equal(row.arr[1], null)
    }
  })

  test('parameters whose types the server infers: arrays, nested arrays, NULLs, bytes, dates, JSON', async () => {
    const text = `SELECT $1::text[] AS texts, $2::int[] AS ints, $3::int[] AS grid, $4::bytea[] AS blobs,
      $5::timestamptz AS at, $6::jsonb AS doc, $7::boolean AS flag, $8::bigint AS big, $9::text AS plain`
    const params = [
      ['a"b', 'back\\slash', 'com,ma', '{brace}', 'NULL', '', '书', null],
      [1, null, -3],
      [
        [1, 2],
        [3, 4],
      ],
      [Buffer.from([0, 255]), null],
      new Date('2026-03-04T05:06:07.089Z'),
      { k: ['v', 1, null], s: 'quote " and \\' },
      false,
      9_007_199_254_740_000,
      'plain',
    ]
    for (const opts of [undefined, { name: 'named_inferred' }]) {
      const [row] = (await t.db.query<Record<string, unknown>>(text, params, opts)).rows
      assert.deepEqual(row?.texts, params[0])
      assert.deepEqual(row?.ints, [1, null, -3])
      assert.deepEqual(row?.grid, params[2])
      const blobs = row?.blobs as (Uint8Array | null)[]
      assert.deepEqual([...(blobs[0] as Uint8Array)], [0, 255])
      assert.equal(blobs[1], null)
      assert.deepEqual(row?.at, params[4])
      assert.deepEqual(row?.doc, params[5])
      assert.equal(row?.flag, false)
      assert.equal(row?.big, 9_007_199_254_740_000)
      assert.equal(row?.plain, 'plain')
    }
  })

  test('row counts of updates and of statements that match nothing', async () => {
    const update = 'UPDATE named_t SET flag = NOT flag WHERE id = ANY ($1::int[])'
    const both = await t.db.query(update, [[1, 2]], { name: 'named_update' })
    assert.equal(both.rowCount, 2)
    assert.deepEqual(both.rows, [])
    const none = await t.db.query(update, [[404]], { name: 'named_update' })
    assert.equal(none.rowCount, 0)
    const flags = await t.db.query<{ flag: boolean }>(
      'SELECT flag FROM named_t WHERE id IN (1, 2) ORDER BY id',
    )
    assert.deepEqual(
      flags.rows.map((r) => r.flag),
      [false, true],
    )
  })

  test('an error rejects with its code and leaves the connection usable', async () => {
    await assert.rejects(
      t.db.query(insert, [1, 0, true, 'again', null, null, null], { name: 'named_insert' }),
      (err) => pgCode(err) === PG.uniqueViolation,
    )
    // The same fields as an unnamed statement's error: message, detail, table, constraint…
    const fieldsOf = async (opts?: { name: string }) => {
      const err = await t.db.query(insert, [1, 0, true, 'again', null, null, null], opts).then(
        () => assert.fail('the insert should fail'),
        (e: Record<string, unknown>) => e,
      )
      const { message, code, detail, schema, table, constraint, severity } = err
      return { message, code, detail, schema, table, constraint, severity }
    }
    const named = await fieldsOf({ name: 'named_insert' })
    assert.deepEqual(named, await fieldsOf())
    assert.match(String(named.detail), /Key \(id\)=\(1\) already exists/)
    assert.equal(named.constraint, 'named_t_pkey')
    const after = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM named_t', [], {
      name: 'named_count',
    })
    assert.equal(after.rows[0]?.n, 2)
  })

  test('one name cannot stand for two texts', async () => {
    await t.db.query('SELECT 1 AS one', [], { name: 'named_once' })
    await assert.rejects(t.db.query('SELECT 2 AS two', [], { name: 'named_once' }))
    const again = await t.db.query<{ one: number }>('SELECT 1 AS one', [], { name: 'named_once' })
    assert.equal(again.rows[0]?.one, 1)
  })

  test('inside a transaction: sees its writes, and a rollback undoes them', async () => {
    await assert.rejects(
      t.db.transaction(async (tx) => {
        await tx.query(insert, [10, 1, true, 'in tx', null, null, null], { name: 'named_insert' })
        const seen = await tx.query<{ id: number }>(select, [[10]], { name: 'named_select' })
        assert.deepEqual(
          seen.rows.map((r) => r.id),
          [10],
        )
        // a failing named statement aborts the transaction like any other
        await tx.query(insert, [10, 1, true, 'twice', null, null, null], { name: 'named_insert' })
      }),
      (err) => pgCode(err) === PG.uniqueViolation,
    )
    const gone = await t.db.query(select, [[10]], { name: 'named_select' })
    assert.deepEqual(gone.rows, [])
  })

  test('a named statement outside a transaction does not run inside one that is open', async () => {
    const held = signal()
    const didInsert = signal()
    const tx = t.db
      .transaction(async (q) => {
        await q.query(insert, [20, 1, true, 'uncommitted', null, null, null])
        didInsert.fire()
        await held.promise
        throw new Error('roll back')
      })
      .catch((err: Error) => err.message)
    await didInsert.promise
    const outside = t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM named_t WHERE id = 20', [], {
      name: 'named_count_20',
    })
    held.fire()
    assert.equal(await tx, 'roll back')
    assert.equal((await outside).rows[0]?.n, 0)
  })
})
