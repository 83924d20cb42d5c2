/**
 * The committed SQL of the dynamic statements (src/repositories/__sql__/) is what the code sends: when
 * a change alters a statement, this fails until `npm run sql-snapshots` has written the files again
 * (and the diff shows the change). The snapshots are made on an embedded database of their own
 * whichever engine the suite runs on, so that they do not depend on it.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { SNAPSHOT_DIR, sqlSnapshots } from '../../tools/sql-snapshots.ts'

test('when the code builds its dynamic statements, then they are the committed snapshots', async () => {
  const files = await sqlSnapshots()
  assert.deepEqual([...files.keys()].sort(), ['choices.sql', 'orders.sql', 'search.sql'])
  for (const [file, text] of files) {
    let committed = ''
    try {
      committed = readFileSync(`${SNAPSHOT_DIR}${file}`, 'utf8')
    } catch {}
    assert.ok(
      text === committed,
      `src/repositories/__sql__/${file} differs from the SQL the code sends: run \`npm run sql-snapshots\` and commit the file`,
    )
  }
  // Every case sent something, and no statement still numbers its own placeholders wrongly.
  const search = files.get('search.sql') ?? ''
  // Every plan kind has its statements in the file.
  for (const kind of ['browse', 'bitmaps', 'statement', 'typos'])
    assert.match(search, new RegExp(`^-- ## .* — plan: ${kind}`, 'm'), kind)
  assert.match(search, /WITH raw AS \(/)
  assert.doesNotMatch(search, /\$0\b|undefined/)
})
