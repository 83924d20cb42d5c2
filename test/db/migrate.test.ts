import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadMigrations, migrate } from '../../src/db/migrate.ts'
import { ENGINE, freshDb } from '../support/helpers.ts'

test('a long migration is reported while it runs and when it ends; quick ones are not', async () => {
  const { db, dispose } = await freshDb()
  try {
    const lines: string[] = []
    const report = (line: string) => lines.push(line)
    // Every real migration is applied already: nothing runs, nothing is reported.
    assert.deepEqual(await migrate(db, loadMigrations(), report), [])
    const slow = { version: '999_slow_test', sql: 'SELECT pg_sleep(2.5)' }
    const quick = { version: '998_quick_test', sql: 'CREATE TABLE quick_test (x int)' }
    assert.deepEqual(await migrate(db, [quick, slow], report), ['998_quick_test', '999_slow_test'])
    // While it runs (on PostgreSQL: PGlite in this process holds the event loop until the statement
    // ends, whereas the server runs it in a thread of its own), then when it is done; the quick one
    // never.
    const running = lines.filter((l) => /^applying migration 999_slow_test… \d+ s$/.test(l))
    if (ENGINE === 'postgres') assert.ok(running.length >= 1, lines.join('\n'))
    assert.equal(lines.length, running.length + 1, lines.join('\n'))
    assert.match(lines.at(-1) ?? '', /^applied migration 999_slow_test in [23] s$/)
    // Applied once: a second run skips both and reports nothing.
    assert.deepEqual(await migrate(db, [quick, slow], report), [])
    assert.equal(lines.length, running.length + 1)
  } finally {
    await dispose()
  }
})
