/**
 * Listings queued for the search index (migration 019): inserted, not yet merged into search_bitmaps
 * and search_terms. A search reads their keys from their own columns, beside the merged rows, so it
 * sees a listing as soon as its insert commits; search_index_merge then moves them in batches.
 */
import type { Queryable } from '../../db/db.ts'
import { type Bound, query, type Sql, sql } from '../../db/sql.ts'

/**
 * Rows shaped as search_bitmaps' (kind, key, block, bits, under the name b) for the queued listings'
 * keys among (kinds[i], keys[i]): one row per listing and key, its one bit set (migration 019's
 * search_pending_bits). `where` filters b as it filters the merged rows.
 */
export function queuedBitmaps(kinds: Bound, keys: Bound, where: Sql): Sql {
  return sql`SELECT b.kind, b.key, b.block, b.bits
      FROM search_pending_bits(${kinds}::"char"[], ${keys}::text[]) b WHERE true ${where}`
}

/** Rows shaped as search_terms' (term, listings): how many queued listings hold each of the terms. */
export function queuedTerms(terms: Bound): Sql {
  return sql`SELECT term, listings FROM search_pending_terms(${terms}::text[])`
}

/** Merges up to `batch` queued listings in one transaction; returns how many it merged. */
export async function mergeQueued(q: Queryable, batch: number): Promise<number> {
  const r = await query<{ n: number }>(q, sql`SELECT search_index_merge(${batch}) AS n`)
  return r.rows[0]?.n ?? 0
}

/** Listings per merge transaction: a few hundred keep each one short. */
export const MERGE_BATCH = 256

/**
 * Sets the out-of-stock bits (kind 'o', migration 022) of up to `batch` listings queued for them in one
 * transaction; returns how many it took.
 */
export async function mergeStockQueued(q: Queryable, batch: number): Promise<number> {
  const r = await query<{ n: number }>(q, sql`SELECT search_stock_merge(${batch}) AS n`)
  return r.rows[0]?.n ?? 0
}

/**
 * Merges until no queued listing is left that another merge is not merging (or until `stop` says so):
 * the listings queued for the index, then those queued for their stock bit. Returns how many it took.
 */
export async function mergeAllQueued(q: Queryable, stop: () => boolean = () => false): Promise<number> {
  let merged = 0
  for (const merge of [mergeQueued, mergeStockQueued])
    for (;;) {
      const n = await merge(q, MERGE_BATCH)
      merged += n
      if (n < MERGE_BATCH) break
      if (stop()) return merged
    }
  return merged
}

/** How many listings are queued for the index (not counting those queued for their stock bit alone). */
export async function queuedCount(q: Queryable): Promise<number> {
  const r = await query<{ n: number }>(q, sql`SELECT count(*)::int AS n FROM search_pending`)
  return r.rows[0]?.n ?? 0
}

/** How many listings are queued for their stock bit. */
export async function stockQueuedCount(q: Queryable): Promise<number> {
  const r = await query<{ n: number }>(q, sql`SELECT count(*)::int AS n FROM search_stock_pending`)
  return r.rows[0]?.n ?? 0
}
