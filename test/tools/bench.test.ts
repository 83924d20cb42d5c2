/**
 * The order benchmark itself, run for a moment on a tiny workload so it keeps working: through
 * HTTP against a listening app, and raw against the database. (Figures are printed by
 * `npm run bench`, never asserted here.)
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { after, afterEach, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
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

  test('compare: raw and HTTP (a server of its own) side by side, with the ratio', async () => {
    const env = await ownEnv('bench_compare')
    const out = await bench({ ...small, raw: false, compare: 1 }, { ...process.env, ...env })
    assert.match(
      out,
      /raw vs HTTP \(1 server process\), (pglite|postgres), concurrency 2, 1 s per run, 1 rounds/,
    )
    const row = out.split('\n').find((l) => l.startsWith('1 '))
    assert.ok(row, out)
    const [, raw, http, ratio] = row.trim().split(/\s+/).map(Number)
    assert.ok((raw ?? 0) > 0 && (http ?? 0) > 0, out)
    // The rates are printed rounded to whole orders/s, the ratio from the unrounded ones.
    const [r, h, pct] = [raw as number, http as number, ratio as number]
    assert.ok(pct >= (100 * (h - 0.5)) / (r + 0.5) - 0.05 && pct <= (100 * (h + 0.5)) / (r - 0.5) + 0.05, out)
    const lat = row.match(/([\d.]+) \/ ([\d.]+)\s*$/)
    assert.ok(lat && Number(lat[1]) > 0 && Number(lat[1]) <= Number(lat[2]), `HTTP p50 ≤ p99: ${row}`)
    assert.match(out, /\nmedian\s+\d+\s+\d+\s+\d+\.\d %\s+[\d.]+ \/ [\d.]+/)
  })

  test('the runs leave no schema behind on PostgreSQL', async (ctx) => {
    if (!DATABASE_URL) return ctx.skip('the embedded runs use temporary directories, removed after each run')
    const left = await t.db.query<{ nspname: string }>(
      "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench%' AND nspname LIKE $1",
      [`%_${process.pid}`],
    )
    assert.deepEqual(left.rows, [])
  })

  test('compare refuses --url and --raw, which it would ignore', async () => {
    await assert.rejects(bench({ ...small, raw: false, url, compare: 2 }, {}), /drop --url and --raw/)
    await assert.rejects(bench({ ...small, raw: true, compare: 2 }, {}), /drop --url and --raw/)
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
