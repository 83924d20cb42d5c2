/**
 * schema.sql is the schema the migrations leave, on either engine: when a migration changes the
 * schema, this fails until `npm run schema` has written the file again (and the diff shows the change).
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, test } from 'node:test'
import { dumpSchema, SCHEMA_FILE } from '../../tools/schema.ts'
import { freshDb, type TestDb } from '../support/helpers.ts'

let t: TestDb
before(async () => {
  t = await freshDb()
})
after(() => t.dispose())

test('when the migrations have run, then the schema is what schema.sql says', async () => {
  const dumped = await dumpSchema(t.db)
  assert.ok(
    dumped === readFileSync(SCHEMA_FILE, 'utf8'),
    'schema.sql differs from what the migrations make: run `npm run schema` and commit the file',
  )
  assert.match(dumped, /^CREATE TABLE listings \(\n {2}store_id text NOT NULL,$/m)
  assert.match(dumped, /^CREATE TRIGGER search_index_add AFTER INSERT ON listings /m)
  assert.doesNotMatch(dumped, /\b(public|t_[0-9a-f]{12})\./, 'no schema name in the file')
})

test('when the schema changes, then the dump shows the change', async () => {
  const before = await dumpSchema(t.db)
  await t.db.exec('CREATE INDEX users_balance ON users (balance)')
  try {
    const after = await dumpSchema(t.db)
    assert.notEqual(after, before)
    assert.match(after, /^CREATE INDEX users_balance ON users USING btree \(balance\);$/m)
  } finally {
    await t.db.exec('DROP INDEX users_balance')
  }
})
