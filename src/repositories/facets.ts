import type { Queryable } from '../db/db.ts'
import { query, sql } from '../db/sql.ts'
import { EXACT_FACET_MATCHES, FACET_TOP, type FacetKind, PRICE_BUCKETS } from '../search/facets.ts'
import type { TextQuery } from '../search/query.ts'
import { matchSql, type SearchFilters } from './search.ts'

export interface FacetCounts {
  tags?: { value: string; count: number }[]
  price?: { min: number; max: number | null; count: number }[]
  stores?: { store_id: string; count: number }[]
  in_stock: number
  /** False when the counts were estimated from the first EXACT_FACET_MATCHES matches. */
  exact: boolean
}

/** A count of the matches: as read, or scaled from the sample to the whole match. */
const scaled = (n: number, scale: number) => (scale === 1 ? n : Math.round(n * scale))

/**
 * Counts over the listings the search matches (the same conditions as the page: matchSql), all
 * filters applied, before paging. `total` is the search's exact number of matches: up to
 * EXACT_FACET_MATCHES every match is counted; above, the first EXACT_FACET_MATCHES read are counted
 * and scaled by total / EXACT_FACET_MATCHES (an estimate: the sample is in the order the rows are read).
 * `exactUpTo` lowers that bound for tests.
 */
export async function searchFacets(
  q: Queryable,
  text: TextQuery | undefined,
  filters: SearchFilters,
  kinds: ReadonlySet<FacetKind>,
  total: number,
  exactUpTo = EXACT_FACET_MATCHES,
): Promise<FacetCounts> {
  if (total === 0)
    return {
      in_stock: 0,
      exact: true,
      ...(kinds.has('tags') ? { tags: [] } : {}),
      ...(kinds.has('price') ? { price: PRICE_BUCKETS.map((b) => ({ ...b, count: 0 })) } : {}),
      ...(kinds.has('stores') && filters.storeId === undefined ? { stores: [] } : {}),
    }
  const { where } = matchSql(text, filters)
  const exact = total <= exactUpTo
  const limit = exact ? sql.empty : sql`LIMIT ${sql.literal(exactUpTo)}`
  const top = sql.literal(FACET_TOP)
  const columns = [sql`(SELECT count(*) FILTER (WHERE stock_level > 0) FROM m)::int AS in_stock`]
  if (kinds.has('tags'))
    // A tag counts once per listing (a listing may repeat a tag): only its first position is taken.
    columns.push(sql`(SELECT coalesce(json_agg(json_build_object('value', t.value, 'count', t.n)
                                               ORDER BY t.n DESC, t.value COLLATE "C"), '[]')
                        FROM (SELECT u.value, count(*)::int AS n
                                FROM m CROSS JOIN LATERAL unnest(m.tags) WITH ORDINALITY AS u(value, i)
                               WHERE array_position(m.tags, u.value) = u.i
                               GROUP BY u.value ORDER BY n DESC, u.value COLLATE "C" LIMIT ${top}) t) AS tags`)
  if (kinds.has('price')) {
    const buckets = PRICE_BUCKETS.map(({ min, max }) =>
      max === null
        ? sql`count(*) FILTER (WHERE price >= ${sql.literal(min)})`
        : sql`count(*) FILTER (WHERE price >= ${sql.literal(min)} AND price < ${sql.literal(max)})`,
    )
    columns.push(sql`(SELECT ARRAY[${sql.join(buckets)}]::int[] FROM m) AS price`)
  }
  if (kinds.has('stores') && filters.storeId === undefined)
    columns.push(sql`(SELECT coalesce(json_agg(json_build_object('store_id', s.store_id, 'count', s.n)
                                               ORDER BY s.n DESC, s.store_id COLLATE "C"), '[]')
                        FROM (SELECT store_id, count(*)::int AS n FROM m GROUP BY store_id
                               ORDER BY n DESC, store_id COLLATE "C" LIMIT ${top}) s) AS stores`)
  const r = await query<{
    in_stock: number
    tags?: { value: string; count: number }[]
    price?: number[]
    stores?: { store_id: string; count: number }[]
  }>(
    q,
    sql`WITH m AS MATERIALIZED (
          SELECT l.tags, l.price, l.store_id, l.stock_level FROM listings l
           ${where.length > 0 ? sql`WHERE ${sql.join(where, sql` AND `)}` : sql.empty} ${limit})
        SELECT ${sql.join(columns)}`,
  )
  const row = r.rows[0]
  const scale = exact ? 1 : total / exactUpTo
  const out: FacetCounts = { in_stock: scaled(row?.in_stock ?? 0, scale), exact }
  if (row?.tags) out.tags = row.tags.map((t) => ({ value: t.value, count: scaled(t.count, scale) }))
  if (row?.price)
    out.price = PRICE_BUCKETS.map((b, i) => ({ ...b, count: scaled(row.price?.[i] ?? 0, scale) }))
  if (row?.stores)
    out.stores = row.stores.map((s) => ({ store_id: s.store_id, count: scaled(s.count, scale) }))
  return out
}
