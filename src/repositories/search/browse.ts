/**
 * The browse plan: no text. The listings are read in the sort's index order, stopping after the page;
 * the total is a separate count.
 */
import type { Queryable } from '../../db/db.ts'
import { query, StatementShapes, sql } from '../../db/sql.ts'
import { filtersMatch, type SearchFilters, type SearchPlan, type SearchRequest } from '../../search/plan.ts'
import { bitmapMatch } from './bitmaps.ts'
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
 * countByPrice's statements, named by which ends of the range they have: every plan reads the primary
 * key's range, whatever the tag and prices, so a prepared plan serves them all (and saves PGlite half
 * the statement's time, which went to parsing and planning it).
 */
const byPriceShapes = new StatementShapes('search_count_by_price_shape', 8)

/**
 * How many listings a browse with at most one tag and a price range as filters matches, and how many
 * of them are in stock: the sums of listing_counts (migration 009) over the prices in the range, one
 * row per distinct price instead of one per listing.
 */
export async function countByPrice(
  q: Queryable,
  f: SearchFilters,
): Promise<{ listings: number; in_stock: number }> {
  const tag = f.tags?.[0]
  const where = [tag === undefined ? sql`kind = 'a' AND tag = ''` : sql`kind = 't' AND tag = ${tag}`]
  if (f.minPrice !== undefined) where.push(sql`price >= ${f.minPrice}`)
  if (f.maxPrice !== undefined) where.push(sql`price <= ${f.maxPrice}`)
  const r = await query<{ listings: number; in_stock: number }>(
    q,
    sql`SELECT coalesce(sum(listings), 0)::int AS listings, coalesce(sum(in_stock), 0)::int AS in_stock
          FROM listing_counts WHERE ${sql.join(where, sql` AND `)}`,
    byPriceShapes,
  )
  return r.rows[0] ?? { listings: 0, in_stock: 0 }
}

/** Statements counting a browse's match from bitmaps, named by shape (the tags and store it names). */
const shapes = new StatementShapes('search_browse_count_shape', 8)

/**
 * How many listings hold every tag and the store: their bitmaps ANDed block by block (no filter: the
 * bitmap of every listing, kind 'l'), the listings queued for the index included (bitmapMatch).
 */
async function countFromBitmaps(q: Queryable, f: SearchFilters): Promise<number> {
  const { match, raw } = bitmapMatch(filtersMatch(f))
  const r = await query<{ n: number }>(
    q,
    sql`SELECT coalesce(sum(bit_count(${match})), 0)::int AS n FROM (${raw(sql.empty)}) raw`,
    shapes,
  )
  return r.rows[0]?.n ?? 0
}

export async function browse(
  q: Queryable,
  plan: Extract<SearchPlan, { kind: 'browse' }>,
  req: SearchRequest,
): Promise<SearchResult> {
  const where = filterSql(req.filters)
  const counts = plan.count === 'listing_counts' ? await countByPrice(q, req.filters) : undefined
  const total = counts
    ? counts[req.filters.inStock ? 'in_stock' : 'listings']
    : plan.count === 'bitmaps'
      ? await countFromBitmaps(q, req.filters)
      : await countWhere(q, where)
  const inStock = counts ? { inStock: counts.in_stock } : {}
  if (total <= req.offset) return { total, hits: [], ...inStock }
  // By relevance, browsing means newest first.
  const order =
    req.sort === 'relevance'
      ? sql`l.created_at DESC, l.store_id, l.book_id`
      : sql.join(SORT_KEYS[req.sort].map(([col, dir]) => sql`${col}${dir}`))
  const r = await query<SearchHit>(
    q,
    sql`SELECT ${HIT_COLUMNS}, 0::float8 AS score FROM ${fromSql(req.sort)} ${whereOf(where)} ORDER BY ${order} LIMIT ${req.limit} OFFSET ${req.offset}`,
  )
  return { total, hits: r.rows, ...inStock }
}
