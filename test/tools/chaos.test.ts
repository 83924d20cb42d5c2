/**
 * One short round of the crash-safety check (tools/chaos.ts, `npm run chaos` for more): the real
 * server under load is killed with SIGKILL, and everything it acknowledged must still be stored,
 * with money and stock conserved. Runs on the embedded database, or on DATABASE_URL when set.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runChaos } from '../../tools/chaos.ts'
import { DATABASE_URL } from '../support/helpers.ts'

test('SIGKILL under load loses no acknowledged write and breaks no invariant', async (t) => {
  const summary = await runChaos({
    rounds: 1,
    seconds: 3,
    concurrency: 8,
    databaseUrl: DATABASE_URL,
    log: (line) => t.diagnostic(line),
  })
  assert.deepEqual(summary.violations, [])
  assert.ok(summary.ackedOrders > 0, JSON.stringify(summary))
  assert.ok(summary.storedOrders >= summary.ackedOrders)
})
