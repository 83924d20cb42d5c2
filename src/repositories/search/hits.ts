/** What every search executor shares: a hit's columns, the sorts' keys and the filters as SQL. */
import type { ApiHit, Sort } from '../../api/catalog.ts'
import type { Queryable } from '../../db/db.ts'
import { query, type Sql, sql } from '../../db/sql.ts'
import type { SearchFilters } from '../../search/plan.ts'

/**
 * A hit as the statements select it: the rating's sum and count (the service turns them into the
 * average); from a text search, also the beginnings of book_intro and content, for its highlights.
 */
export type SearchHit = Omit<ApiHit, 'rating_average' | 'highlights'> & {
  rating_sum: number
  book_intro?: string | null
  content?: string | null
}

export interface SearchResult {
  total: number
  hits: SearchHit[]
  /** How many of the matches are in stock, when the count gave it (listing_counts; the facets reuse it). */
  inStock?: number
}

/** A column of the listing's ratings (migration 011), looked up for one hit of a page. */
const rating = (column: 'rating_sum' | 'rating_count') =>
  sql`coalesce((SELECT hr.${sql.ident(column)} FROM listing_ratings hr
              WHERE hr.store_id = l.store_id AND hr.book_id = l.book_id), 0) AS ${sql.ident(column)}`
/** The columns of a hit, from listings l (the score comes from the caller). */
export const HIT_COLUMNS = sql`l.store_id, l.book_id, l.title, l.author, l.publisher, l.pub_year, l.price, l.stock_level, l.tags,
  ${rating('rating_sum')}, ${rating('rating_count')}`

/**
 * How much of book_intro and content a text search reads for its hits' excerpts. left() reads only the
 * start of a long (TOASTed) value, so a page of 20 hits costs at most 20 × 2 of these; a match further
 * into a field is not excerpted.
 */
export const EXCERPT_SOURCE_CHARS = 10_000

/**
 * The columns of a hit of a text search: HIT_COLUMNS and what its highlights are made from. Every
 * statement selecting them reads only the page's rows, so the page and its excerpts come in one.
 */
export const TEXT_HIT_COLUMNS = sql`${HIT_COLUMNS},
  left(l.book_intro, ${sql.literal(EXCERPT_SOURCE_CHARS)}) AS book_intro, left(l.content, ${sql.literal(EXCERPT_SOURCE_CHARS)}) AS content`

/**
 * sort=rating_desc over a table (alias) with listing_ratings' average, rating_count and doc: highest
 * average first, then more ratings, then newest; unrated listings (no average) last. The index
 * listing_ratings_rank holds this order.
 */
function ratingKeys(alias: string): [Sql, Sql][] {
  const a = sql.ident(alias)
  return [
    [sql`${a}.average`, sql` DESC NULLS LAST`],
    [sql`${a}.rating_count`, sql` DESC`],
    [sql`${a}.doc`, sql` DESC`],
  ]
}

/** The order of sort=rating_desc over a table (alias) with the ratings' columns, as SQL. */
export const ratingOrder = (alias: string): Sql =>
  sql.join(ratingKeys(alias).map(([col, dir]) => sql`${col}${dir}`))

/** Sort keys (column, direction) of each sort; every order ends with a unique key. */
export const SORT_KEYS: Record<Exclude<Sort, 'relevance'>, [Sql, Sql][]> = {
  price_asc: [
    [sql`l.price`, sql``],
    [sql`l.store_id`, sql``],
    [sql`l.book_id`, sql``],
  ],
  price_desc: [
    [sql`l.price`, sql` DESC`],
    [sql`l.store_id`, sql` DESC`],
    [sql`l.book_id`, sql` DESC`],
  ],
  pub_year_desc: [
    [sql`l.pub_year_key`, sql` DESC NULLS LAST`],
    [sql`l.store_id`, sql``],
    [sql`l.book_id`, sql``],
  ],
  sales_desc: [
    [sql`ls.sales`, sql` DESC`],
    [sql`ls.store_id`, sql``],
    [sql`ls.book_id`, sql``],
  ],
  rating_desc: ratingKeys('lr'),
}

/** The tables a sort reads: the sales count and the ratings live in tables of their own (migrations 005 and 011). */
export function fromSql(sort: Sort): Sql {
  return sort === 'sales_desc'
    ? sql`listings l JOIN listing_sales ls ON ls.store_id = l.store_id AND ls.book_id = l.book_id`
    : sort === 'rating_desc'
      ? sql`listings l JOIN listing_ratings lr ON lr.store_id = l.store_id AND lr.book_id = l.book_id`
      : sql`listings l`
}

/** The filters of a search, as conditions over listings l. */
export function filterSql(f: SearchFilters): Sql[] {
  const tags = f.tags ?? []
  const where: Sql[] = []
  if (f.storeId !== undefined) where.push(sql`l.store_id = ${f.storeId}`)
  if (tags.length > 0) where.push(sql`l.tags @> ${tags}::text[]`)
  if (f.author !== undefined)
    where.push(sql`strpos(lower(normalize(coalesce(l.author, ''), NFKC)), ${f.author}) > 0`)
  if (f.minPrice !== undefined) where.push(sql`l.price >= ${f.minPrice}`)
  if (f.maxPrice !== undefined) where.push(sql`l.price <= ${f.maxPrice}`)
  if (f.inStock) where.push(sql`l.stock_level > 0`)
  return where
}

export const whereOf = (where: Sql[]) =>
  where.length > 0 ? sql`WHERE ${sql.join(where, sql` AND `)}` : sql.empty

/** The number of listings meeting `where` (conditions over listings l). */
export async function countWhere(q: Queryable, where: Sql[]): Promise<number> {
  const r = await query<{ n: number }>(q, sql`SELECT count(*)::int AS n FROM listings l ${whereOf(where)}`)
  return r.rows[0]?.n ?? 0
}
