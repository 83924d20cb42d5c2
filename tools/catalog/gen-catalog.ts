/**
 * Fills a database with a synthetic catalogue for the search benchmark, `npm run gen-catalog -- --n 100k`
 * (options: `npm run gen-catalog -- --help`). Listings n = 0 … N-1 are written (already present ones
 * are skipped, so a catalogue can be grown from 100 000 to 1 000 000 by running again with the larger
 * N); a third of them get synthetic star counts (rateSome). DATABASE_URL picks a PostgreSQL
 * database; otherwise an embedded PGlite under BENCH_DIR (default ./data/bench).
 */
import type { Db, Queryable } from '../../src/db/db.ts'
import { migrate } from '../../src/db/migrate.ts'
import { openPglite } from '../../src/db/pglite.ts'
import { analyseListings, insertListings } from '../../src/repositories/listings.ts'
import { searchColumns } from '../../src/search/lexemes.ts'
import { segmenter } from '../../src/search/segmenter.ts'
import { PasswordHasher } from '../../src/security/passwords.ts'
import { openBenchDb } from '../bench/db.ts'
import { syntheticListing } from './synthetic.ts'

export interface GenCatalogOptions {
  /** Listings in all, numbered 0 … listings − 1. */
  listings: number
  stores: number
  /** Listings per transaction. */
  batch: number
  seed: number
}

const OWNER = 'bench_owner'

/** The i-th store of the generated catalogue (the search benchmark picks stores by number). */
export const benchStoreId = (i: number) => `bench_store_${i}`
const storeIds = (stores: number) => Array.from({ length: stores }, (_, i) => benchStoreId(i))

/**
 * The secondary indexes of listings (not those of a key or unique constraint), by
 * name, as a freshly migrated database has them: read from its catalog (pg_indexes), then dropped for a
 * bulk load and rebuilt after it. A fresh database rather than the one being loaded, so that a load
 * stopped after the drop still rebuilds them all when it is run again.
 */
export async function bulkLoadIndexes(): Promise<[string, string][]> {
  const fresh = await openPglite()
  try {
    await migrate(fresh)
    const r = await fresh.query<{ name: string; def: string }>(
      `SELECT i.indexname AS name, pg_get_indexdef(x.indexrelid) AS def
         FROM pg_indexes i
         JOIN pg_class c ON c.relname = i.indexname AND c.relnamespace = current_schema()::regnamespace
         JOIN pg_index x ON x.indexrelid = c.oid
        WHERE i.schemaname = current_schema() AND i.tablename = 'listings'
          AND NOT x.indisunique AND NOT x.indisprimary
        ORDER BY i.indexname`,
    )
    // The catalog names the fresh database's schema; the index belongs in the loaded database's own.
    return r.rows.map((x) => [x.name, x.def.replace(' ON public.', ' ON ')])
  } finally {
    await fresh.close()
  }
}

/**
 * The triggers that keep what is derived from listings beyond their indexes: the search index's queue
 * (migration 019; the rebuild covers every listing) and the price counts (009), as listings are
 * inserted (a load only inserts).
 */
const DERIVED_TRIGGERS = [
  ['listings', 'search_index_add'],
  ['listings', 'listing_counts_add'],
] as const

const switchDerivedTriggers = async (q: Queryable, to: 'ENABLE' | 'DISABLE') => {
  for (const [table, trigger] of DERIVED_TRIGGERS)
    await q.query(`ALTER TABLE ${table} ${to} TRIGGER ${trigger}`)
}

/** Turns those triggers back on and builds every bitmap, term count and price count, in one transaction. */
async function buildDerived(db: Db): Promise<void> {
  await db.transaction(async (tx) => {
    await switchDerivedTriggers(tx, 'ENABLE')
    await tx.query('SELECT search_index_rebuild()')
    await tx.query('SELECT listing_counts_rebuild()')
  })
}

/**
 * Star counts for about a third of the listings (those not rated yet), so that sort=rating_desc has
 * ratings to order: a synthetic catalogue has no orders, hence no reviews, and the counts stand in for
 * them (in a catalogue of the server they always equal its reviews). Derived from doc, so every run
 * gives the same counts.
 */
async function rateSome(db: Db): Promise<void> {
  const r = await db.query(
    `UPDATE listing_ratings SET n1 = (doc * 7) % 3, n2 = (doc * 13) % 2, n3 = (doc * 5) % 4,
                               n4 = (doc * 17) % 6, n5 = 1 + (doc * 11) % 9
      WHERE doc % 3 = 0 AND rating_count = 0`,
  )
  if (r.rowCount > 0) process.stderr.write(`  gave ${r.rowCount} listings synthetic star counts\n`)
}

export async function genCatalog(
  o: GenCatalogOptions,
  env: Record<string, string | undefined>,
): Promise<void> {
  const N = o.listings
  const { db, where } = await openBenchDb(env)
  const stores = storeIds(o.stores)
  const hash = await new PasswordHasher(1024).hash(crypto.randomUUID())
  await db.query('INSERT INTO users (user_id, password_hash) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
    OWNER,
    hash,
  ])
  await db.query(
    'INSERT INTO stores (store_id, owner_id) SELECT s, $2 FROM unnest($1::text[]) AS s ON CONFLICT DO NOTHING',
    [stores, OWNER],
  )
  const stale = await db.query(`SELECT 1 FROM pg_trigger WHERE tgname = ANY($1) AND tgenabled = 'D'`, [
    DERIVED_TRIGGERS.map(([, trigger]) => trigger),
  ])
  if (stale.rows.length > 0) {
    process.stderr.write(
      'an earlier load stopped before building the bitmaps and counts: building them now…\n',
    )
    await buildDerived(db)
  }
  const before = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM listings')).rows[0]?.n ?? 0
  const start = Math.max(0, Math.min(before, N))
  process.stderr.write(`${where}: ${before} listings; writing ${N - start} more (up to ${N})\n`)
  // Bulk loads are faster with the search indexes built once at the end, when many rows arrive.
  const rebuild = N - start > before
  const indexes = await bulkLoadIndexes()
  if (rebuild) {
    for (const [name] of indexes) await db.query(`DROP INDEX IF EXISTS ${name}`)
    // The search bitmaps and term counts (migration 016) and price counts (009) are built in one pass at the end, too.
    await switchDerivedTriggers(db, 'DISABLE')
  }

  const t0 = performance.now()
  let done = 0
  let inFlight: Promise<number> = Promise.resolve(0)
  const seg = segmenter()
  for (let from = start; from < N; from += o.batch) {
    const batch = Array.from({ length: Math.min(o.batch, N - from) }, (_, i) =>
      syntheticListing(from + i, { storeIds: stores, seed: o.seed, idPrefix: 'bench_' }),
    )
    // One batch is written while the next one is generated and segmented.
    const columns = batch.map((l) => searchColumns(seg, l))
    done += await inFlight
    inFlight = db.transaction((tx) => insertListings(tx, batch, columns))
    const s = (performance.now() - t0) / 1000
    const rate = done / Math.max(s, 0.001)
    process.stderr.write(
      `\r  ${from - start}/${N - start} listings  ${rate.toFixed(0)}/s  eta ${((N - from) / Math.max(rate, 1)).toFixed(0)} s   `,
    )
  }
  done += await inFlight
  const loadS = (performance.now() - t0) / 1000
  process.stderr.write(
    `\n  wrote ${done} listings in ${loadS.toFixed(1)} s (${(done / loadS).toFixed(0)}/s)\n`,
  )
  if (rebuild) {
    const t1 = performance.now()
    for (const [name, create] of indexes) {
      process.stderr.write(`  building ${name}…\n`)
      await db.exec(create.replace('CREATE INDEX', 'CREATE INDEX IF NOT EXISTS'))
    }
    process.stderr.write('  building the search bitmaps and term counts and the price counts…\n')
    await buildDerived(db)
    process.stderr.write(`  indexes and bitmaps built in ${((performance.now() - t1) / 1000).toFixed(1)} s\n`)
  }
  await rateSome(db)
  process.stderr.write('  updating planner statistics…\n')
  await analyseListings(db)
  await db.close()
}
