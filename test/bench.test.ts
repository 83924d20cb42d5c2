/**
 * The order benchmark itself, run for a moment on a tiny workload so it keeps working: through
 * HTTP against a listening app, and raw against the database. (Figures are printed by
 * `npm run bench`, never asserted here.)
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Samples, table } from '../src/bench/stats.ts'
import { bench } from '../src/cli/bench.ts'
import { DATABASE_URL, startApp, type TestApp } from './helpers.ts'

const SAMPLE = fileURLToPath(new URL('../../shared/data/book.db', import.meta.url))
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

  test('raw, straight against the database, with books from the course catalogue when present', async () => {
    const env: Record<string, string | undefined> = {}
    if (DATABASE_URL) {
      // Its own schema, so nothing else is touched.
      const schema = `bench_${process.pid}`
      await t.db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`)
      const scoped = new URL(DATABASE_URL)
      scoped.searchParams.set('options', `-c search_path=${schema}`)
      env.DATABASE_URL = scoped.toString()
    }
    const out = await bench({ ...small, raw: true, ...(existsSync(SAMPLE) ? { bookDb: SAMPLE } : {}) }, env)
    assert.match(out, /raw \(in-process, no HTTP\)/)
    assert.match(out, /paid orders: [1-9]\d* in/)
  })
})
