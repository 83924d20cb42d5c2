/**
 * The order benchmark itself, run for a moment on a tiny workload so it keeps working: through
 * HTTP against a listening app, and raw against the database. (Figures are printed by
 * `npm run bench`, never asserted here.)
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { after, afterEach, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { loadConfig } from '../../src/config.ts'
import { floorTarget, openFloor } from '../../tools/bench/floor.ts'
import { benchAccount } from '../../tools/bench/order-account.ts'
import { bench } from '../../tools/bench/orders-command.ts'
import { Samples, table } from '../../tools/bench/stats.ts'
import { DATABASE_URL, startApp, type TestApp } from '../support/helpers.ts'
import { bookstore } from '../support/processes.ts'

const SAMPLE = fileURLToPath(new URL('../../../shared/data/book.db', import.meta.url))
const small = { concurrency: 2, durationS: 1, sellers: 1, stores: 1, books: 5, buyers: 2, workers: 1 }

describe('Samples', () => {
  test('nearest-rank quantiles', () => {
    const s = new Samples()
    assert.ok(Number.isNaN(s.quantile(0.5)))
    for (let i = 1; i <= 100; i++) s.add(i)
    assert.equal(s.count, 100)
    assert.equal(s.quantile(0.5), 50)
    assert.equal(s.quantile(0.99), 99)
    assert.equal(s.quantile(1), 100)
    assert.equal(s.quantile(0), 1)
  })

  test('table pads columns', () => {
    assert.equal(table(['a', 'bb'], [['ccc', 1]]), 'a    bb\nccc  1 ')
  })
})

describe('bench', () => {
  let t: TestApp
  let url: string
  before(async () => {
    t = await startApp()
    url = await t.app.listen({ port: 0, host: '127.0.0.1' })
  })
  after(() => t.close())

  test('through HTTP: orders are placed and paid, and the report says so', async () => {
    const out = await bench({ ...small, raw: false, url }, {})
    assert.match(out, /paid orders: [1-9]\d* in/)
    assert.match(out, /new_order\s+\d+/)
    const paid = await t.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM orders WHERE status = 'paid'",
    )
    assert.ok((paid.rows[0]?.n ?? 0) > 0)
    const unpaid = await t.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM orders WHERE status = 'unpaid'",
    )
    assert.equal(unpaid.rows[0]?.n, 0, 'every order placed was paid')
  })

  /** Schemas the runs below made, dropped when each test ends (the suite leaves nothing behind). */
  const ownSchemas: string[] = []
  afterEach(async () => {
    for (const schema of ownSchemas.splice(0)) await t.db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  })

  /** A database of its own for a run that opens its own connections: a schema on PostgreSQL. */
  async function ownEnv(name: string): Promise<Record<string, string | undefined>> {
    if (!DATABASE_URL) return {}
    const schema = `${name}_${process.pid}`
    ownSchemas.push(schema)
    await t.db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`)
    const scoped = new URL(DATABASE_URL)
    scoped.searchParams.set('options', `-c search_path=${schema}`)
    return { DATABASE_URL: scoped.toString() }
  }

  test('raw, through the services, with books from the course catalogue when present', async () => {
    const env = await ownEnv('bench')
    const out = await bench({ ...small, raw: true, ...(existsSync(SAMPLE) ? { bookDb: SAMPLE } : {}) }, env)
    assert.match(out, /raw \(in-process, no HTTP\)/)
    assert.match(out, /paid orders: [1-9]\d* in/)
  })

  test('compare: floor, raw and HTTP (a server of its own) side by side, with both ratios', async () => {
    const env = await ownEnv('bench_compare')
    const out = await bench({ ...small, raw: false, compare: 1 }, { ...process.env, ...env })
    assert.match(
      out,
      /floor vs raw vs HTTP \(1 server process\), (pglite|postgres), concurrency 2, 1 s per run, 1 rounds/,
    )
    const row = out.split('\n').find((l) => l.startsWith('1 '))
    assert.ok(row, out)
    const [, floor, raw, http, ofRaw, , ofFloor] = row.trim().split(/\s+/).map(Number)
    assert.ok((floor ?? 0) > 0 && (raw ?? 0) > 0 && (http ?? 0) > 0, out)
    // The rates are printed rounded to whole orders/s, the ratios from the unrounded ones.
    const within = (pct: number, h: number, base: number) =>
      pct >= (100 * (h - 0.5)) / (base + 0.5) - 0.05 && pct <= (100 * (h + 0.5)) / (base - 0.5) + 0.05
    assert.ok(within(ofRaw as number, http as number, raw as number), out)
    assert.ok(within(ofFloor as number, http as number, floor as number), out)
    const lat = row.match(/([\d.]+) \/ ([\d.]+)\s*$/)
    assert.ok(lat && Number(lat[1]) > 0 && Number(lat[1]) <= Number(lat[2]), `HTTP p50 ≤ p99: ${row}`)
    assert.match(out, /\nmedian\s+\d+\s+\d+\s+\d+\s+\d+\.\d %\s+\d+\.\d %\s+[\d.]+ \/ [\d.]+/)
  })

  test('floor: one run, on tables of its own, dropped afterwards', async () => {
    const env = await ownEnv('bench_one_floor')
    const out = await bench({ ...small, raw: false, floor: true }, { ...process.env, ...env })
    assert.match(out, /floor \(minimal transactions on tables of their own\)/)
    assert.match(out, /paid orders: [1-9]\d* in/)
    if (DATABASE_URL) {
      const left = await t.db.query("SELECT 1 FROM pg_namespace WHERE nspname ~ '^bench_floor_[0-9a-f]{8}$'")
      assert.equal(left.rowCount, 0, 'the floor drops its schema')
    }
  })

  test('bench-account needs a PostgreSQL server', async () => {
    await assert.rejects(benchAccount({ concurrency: 2, durationS: 1, top: 5 }, {}), /needs DATABASE_URL/)
  })

  test('bench-account on PostgreSQL: statements per paid order for floor and raw, or how to enable pg_stat_statements', async (ctx) => {
    if (!DATABASE_URL) return ctx.skip('DATABASE_URL is not set')
    const env = await ownEnv('bench_account')
    let out: string
    try {
      out = await benchAccount({ concurrency: 2, durationS: 1, top: 5 }, env)
    } catch (err) {
      assert.match(String(err), /shared_preload_libraries = 'pg_stat_statements'/)
      return
    }
    assert.match(out, /^floor: [1-9]\d* paid orders in/m)
    assert.match(out, /^raw: [1-9]\d* paid orders in/m)
    assert.match(out, /per paid order, top-level statements: [\d.]+ calls/)
  })

  test('the runs leave no schema behind on PostgreSQL', async (ctx) => {
    if (!DATABASE_URL) return ctx.skip('the embedded runs use temporary directories, removed after each run')
    const left = await t.db.query<{ nspname: string }>(
      "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench%' AND nspname LIKE $1",
      [`%_${process.pid}`],
    )
    assert.deepEqual(left.rows, [])
  })

  test('compare refuses --url, --raw and --floor, which it would ignore; one run takes one mode', async () => {
    const refused = /drop --url, --raw and --floor/
    await assert.rejects(bench({ ...small, raw: false, url, compare: 2 }, {}), refused)
    await assert.rejects(bench({ ...small, raw: true, compare: 2 }, {}), refused)
    await assert.rejects(bench({ ...small, raw: false, floor: true, compare: 2 }, {}), refused)
    await assert.rejects(bench({ ...small, raw: true, floor: true }, {}), /pick one/)
    await assert.rejects(bench({ ...small, raw: false, floor: true, url }, {}), /drop --raw and --floor/)
  })
})

describe('the floor: what it does is what it claims', () => {
  test('an order takes stock and writes its lines; payment flips the status, debits, and records it once', async () => {
    const floor = await openFloor(loadConfig(DATABASE_URL ? { DATABASE_URL } : {}))
    try {
      const f = floorTarget(floor.db)
      const read = async <T>(sql: string, params: unknown[] = []) =>
        (await floor.db.query<T & Record<string, unknown>>(sql, params)).rows
      await f.register('bea', 'pw')
      await f.addFunds('bea', 'pw', 1000)
      await f.addBook('sam', 't', 's1', { id: 'b', title: 'B', price: 30 }, 5)
      await f.addBook('sam', 't', 's1', { id: 'a', title: 'A', price: 100 }, 2)

      // short of stock: nothing is written, nothing taken
      assert.equal(
        await f.newOrder('bea', 't', 's1', [
          { id: 'a', count: 3 },
          { id: 'b', count: 1 },
        ]),
        undefined,
      )
      assert.deepEqual(await read('SELECT book_id, level FROM stock ORDER BY book_id'), [
        { book_id: 'a', level: 2 },
        { book_id: 'b', level: 5 },
      ])
      assert.equal((await read('SELECT 1 FROM orders')).length, 0)

      const id = await f.newOrder('bea', 't', 's1', [
        { id: 'b', count: 4 },
        { id: 'a', count: 2 },
      ])
      assert.ok(id)
      assert.deepEqual(await read('SELECT book_id, level FROM stock ORDER BY book_id'), [
        { book_id: 'a', level: 0 },
        { book_id: 'b', level: 1 },
      ])
      assert.deepEqual(await read('SELECT total, status FROM orders'), [{ total: 320, status: 'unpaid' }])
      assert.deepEqual(await read('SELECT book_id, count, price FROM order_items ORDER BY book_id'), [
        { book_id: 'a', count: 2, price: 100 },
        { book_id: 'b', count: 4, price: 30 },
      ])

      assert.equal(await f.payment('bea', 'pw', 't', id), true)
      assert.equal(await f.payment('bea', 'pw', 't', id), false, 'paid once only')
      assert.deepEqual(await read('SELECT balance FROM users'), [{ balance: 680 }])
      assert.deepEqual(await read("SELECT amount FROM ledger WHERE kind = 'payment'"), [{ amount: -320 }])
      assert.deepEqual(await read('SELECT status FROM orders'), [{ status: 'paid' }])

      // not enough money: the status flip is rolled back with the debit
      await f.addBook('sam', 't', 's1', { id: 'c', title: 'C', price: 700 }, 1)
      const dear = await f.newOrder('bea', 't', 's1', [{ id: 'c', count: 1 }])
      assert.ok(dear)
      assert.equal(await f.payment('bea', 'pw', 't', dear), false)
      assert.deepEqual(await read('SELECT status FROM orders WHERE order_id = $1', [dear]), [
        { status: 'unpaid' },
      ])
      assert.deepEqual(await read('SELECT balance FROM users'), [{ balance: 680 }])
    } finally {
      await floor.close()
    }
  })
})

describe('bench --url, when the server stops during the run', () => {
  test('prints what it measured and why it stopped, exits 1, and shows no stack trace', async () => {
    const t = await startApp()
    const url = await t.app.listen({ port: 0, host: '127.0.0.1' })
    let closed = false
    try {
      const run = bookstore(
        ['bench', '--url', url, '-c', '2', '-d', '60', '--books', '5', '--buyers', '2'],
        {},
      )
      // once orders are being paid, the server goes away
      for (let i = 0; i < 600; i++) {
        const r = await t.db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM orders WHERE status = 'paid'",
        )
        if ((r.rows[0]?.n ?? 0) >= 5) break
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      await t.app.close()
      closed = true
      const { code } = await run.exit
      assert.equal(code, 1, run.output())
      assert.match(run.output(), /paid orders: [1-9]\d* in/)
      assert.match(run.output(), /bench: stopped early: /)
      assert.doesNotMatch(run.output(), /^\s+at /m)
    } finally {
      if (!closed) await t.app.close()
      await t.close()
    }
  })
})
