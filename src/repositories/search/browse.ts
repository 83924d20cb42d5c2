/**
 * The browse plan: no text. The listings are read in the sort's index order, stopping after the page;
 * the total is a separate count.
 */
import type { Queryable } from '../../db/db.ts'
import { query, sql } from '../../db/sql.ts'
import type { SearchFilters, SearchPlan, SearchRequest } from '../../search/plan.ts'
import {
  countWhere,
  filterSql,
  fromSql,
  HIT_COLUMNS,
  type SearchHit,
  type SearchResult,
  SORT_KEYS,
  whereOf,
} from './hits.ts'

/**
 * The number of listings a browse matches with at most one tag, a price range and in-stock as
 * filters: the sum of listing_counts (migration 009) over the prices in the range, one row per
 * distinct price instead of one per listing.
 */
async function countByPrice(q: Queryable, f: SearchFilters): Promise<number> {
  const tag = f.tags?.[0]
  const where = [tag === undefined ? sql`kind = 'a' AND tag = ''` : sql`kind = 't' AND tag = ${tag}`]
  if (f.minPrice !== undefined) where.push(sql`price >= ${f.minPrice}`)
  if (f.maxPrice !== undefined) where.push(sql`price <= ${f.maxPrice}`)
  const r = await query<{ n: number }>(
    q,
    sql`SELECT coalesce(sum(${f.inStock ? sql`in_stock` : sql`listings`}), 0)::int AS n FROM listing_counts
      WHERE ${sql.join(where, sql` AND `)}`,
  )
  return r.rows[0]?.n ?? 0
}

export async function browse(
  q: Queryable,
  plan: Extract<SearchPlan, { kind: 'browse' }>,
  req: SearchRequest,
): Promise<SearchResult> {
  const where = filterSql(req.filters)
  const total =
    plan.count === 'listing_counts' ? await countByPrice(q, req.filters) : await countWhere(q, where)
  if (total <= req.offset) return { total, hits: [] }
  // By relevance, browsing means newest first.
  const order =
    req.sort === 'relevance'
      ? sql`l.created_at DESC, l.store_id, l.book_id`
      : sql.join(SORT_KEYS[req.sort].map(([col, dir]) => sql`${col}${dir}`))
  const r = await query<SearchHit>(
    q,
    sql`SELECT ${HIT_COLUMNS}, 0::float8 AS score FROM ${fromSql(req.sort)} ${whereOf(where)} ORDER BY ${order} LIMIT ${req.limit} OFFSET ${req.offset}`,
  )
  return { total, hits: r.rows }
}
