import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Queryable } from '../../src/db/db.ts'
import { mergeAllQueued, queuedCount, stockQueuedCount } from '../../src/repositories/search/pending.ts'
import { BITMAP_BLOCK } from '../../src/search/encoding.ts'

/**
 * What each bitmap kind and search_terms must hold, recomputed here from the listings' own columns
 * (written out again rather than through the migration's search_keys_of, so that a wrong rule there
 * fails too): one row per (kind, key, doc) whose bit must be set, and per term of the typo vocabulary
 * (search_typo_term, migration 026, held to the application's rule in search-typos.test.ts) the
 * listings holding it.
 */
const EXPECTED_BITS = `
  SELECT 'w' AS kind, u.lexeme AS key, l.doc FROM listings l, unnest(l.search_vec) u WHERE cardinality(u.weights) > 0
  UNION SELECT 'A', u.lexeme, l.doc FROM listings l, unnest(l.search_vec) u WHERE 'A' = ANY (u.weights)
  UNION SELECT 'B', u.lexeme, l.doc FROM listings l, unnest(l.search_vec) u WHERE 'B' = ANY (u.weights)
  UNION SELECT 'k', u.lexeme, l.doc FROM listings l, unnest(l.author_tags_vec) u WHERE 'B' = ANY (u.weights)
  UNION SELECT 'g', u.lexeme, l.doc FROM listings l, unnest(l.title_grams) u WHERE char_length(u.lexeme) = 2
  UNION SELECT 't', t, l.doc FROM listings l, unnest(l.tags) t
  UNION SELECT 's', l.store_id, l.doc FROM listings l
  UNION SELECT 'l', '', l.doc FROM listings l
  UNION SELECT 'o', '', l.doc FROM listings l WHERE l.stock_level <= 0`
const EXPECTED_TERMS = `
  SELECT term, count(DISTINCT doc)::int AS listings FROM (
    SELECT u.lexeme AS term, l.doc FROM listings l, unnest(l.search_vec) u
    UNION ALL SELECT u.lexeme, l.doc FROM listings l, unnest(l.author_tags_vec) u
    UNION ALL SELECT u.lexeme, l.doc FROM listings l, unnest(l.title_grams) u) x
  WHERE search_typo_term(term)
  GROUP BY term`

const count = async (q: Queryable, statement: string) =>
  (await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${statement}) x`)).rows[0]?.n

/**
 * Merges every queued listing (migration 019). A merge skips the listings another one is merging (the
 * server's, in a test app), so this waits, a few seconds at most, until those are merged too.
 */
export async function mergeQueue(q: Queryable): Promise<void> {
  for (let i = 0; i < 500; i++) {
    await mergeAllQueued(q)
    if ((await queuedCount(q)) === 0 && (await stockQueuedCount(q)) === 0) return
    await sleep(10)
  }
  assert.fail('the queue is still not empty after 5 s of merging')
}

/**
 * search_bitmaps and search_terms hold exactly what the listings' columns say: every bitmap as many
 * bits as listings with its key and kind, and each of those listings' bits set; every term counted
 * over exactly its listings (rows at zero stay once a term's last listing goes). `kinds` are the
 * kinds expected to be present (none is left out silently), besides 'o' when a listing is out of stock.
 */
export async function assertSearchIndexExact(q: Queryable, kinds = ['w', 'A', 'B', 'k', 'g', 't', 's', 'l']) {
  // Listings still queued have no bits yet (migration 019): merged first, as the server soon would.
  await mergeQueue(q)
  const stored = `SELECT kind::text, key, sum(bit_count(bits))::int AS n FROM search_bitmaps
                   GROUP BY 1, 2 HAVING sum(bit_count(bits)) > 0`
  const expected = `SELECT kind, key, count(*)::int AS n FROM (${EXPECTED_BITS}) e GROUP BY 1, 2`
  assert.equal(await count(q, `${stored} EXCEPT ${expected}`), 0, 'no bitmap holds a bit too many')
  assert.equal(await count(q, `${expected} EXCEPT ${stored}`), 0, 'no bitmap lacks a bit (by count)')
  assert.equal(
    await count(
      q,
      `SELECT 1 FROM (${EXPECTED_BITS}) e
        WHERE get_bit((SELECT b.bits FROM search_bitmaps b WHERE b.kind = e.kind::"char" AND b.key = e.key
                         AND b.block = (e.doc / ${BITMAP_BLOCK})::int), (e.doc % ${BITMAP_BLOCK})::int) IS DISTINCT FROM 1`,
    ),
    0,
    "every listing's bits are set",
  )
  const present = await q.query<{ kind: string }>(
    `SELECT DISTINCT kind::text AS kind FROM search_bitmaps WHERE position(B'1' IN bits) > 0`,
  )
  const outOfStock = (await count(q, 'SELECT 1 FROM listings WHERE stock_level <= 0')) ?? 0
  assert.deepEqual(
    present.rows.map((r) => r.kind).sort(),
    [...kinds, ...(outOfStock > 0 ? ['o'] : [])].sort(),
    'the kinds present',
  )
  const terms = 'SELECT term, listings FROM search_terms WHERE listings > 0'
  assert.equal(await count(q, `${terms} EXCEPT ${EXPECTED_TERMS}`), 0, 'no term counted wrong')
  assert.equal(await count(q, `${EXPECTED_TERMS} EXCEPT ${terms}`), 0, 'every term counted')
}
