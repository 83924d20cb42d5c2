/**
 * The generator and the benchmarks open their database as the app does: a catalogue generated into a
 * fresh database is written in the current search text, and says so, so that the next start of the
 * app has nothing to rebuild.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { SEARCH_TEXT_VERSION } from '../../src/search/lexemes.ts'
import { openBenchDb } from '../../tools/bench/db.ts'

test('a fresh benchmark database records the current search text version', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-db-'))
  try {
    const { db } = await openBenchDb({ BENCH_DIR: dir })
    try {
      const state = await db.query<{ version: number }>('SELECT version FROM search_text_state')
      assert.deepEqual(state.rows, [{ version: SEARCH_TEXT_VERSION }])
    } finally {
      await db.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
