/**
 * Facets of a search (API.md, "Search, continued"): the whole match counted per tag, price bucket and
 * store, and how many are in stock. The planner (planFacets) says where they are counted: over the
 * match's bitmaps, block by block, or over the matching rows. docs/search.md, "Facets".
 */
import type { Queryable } from '../db/db.ts'
import { query, type Sql, StatementShapes, sql } from '../db/sql.ts'
import { BITMAP_BLOCK } from '../search/encoding.ts'
import { EXACT_FACET_MATCHES, FACET_TOP, type FacetKind, PRICE_BUCKETS } from '../search/facets.ts'
import { type FacetPlan, planFacets } from '../search/plan.ts'
import type { TextQuery } from '../search/query.ts'
import type { Block, FacetColumns } from './facet-columns.ts'
import { bitmapBytes, bitmapMatch, hasBit, offsetsOf, putBit } from './search/bitmaps.ts'
import { countByPrice } from './search/browse.ts'
import { matchSql, type SearchFilters } from './search.ts'

export interface FacetCounts {
  tags?: { value: string; count: number }[]
  price?: { min: number; max: number | null; count: number }[]
  stores?: { store_id: string; count: number }[]
  in_stock: number
  /** False when the counts were estimated from part of the match. */
  exact: boolean
}

/** What either way of counting finds: counts by value, most frequent first, at most FACET_TOP. */
interface Counted {
  tags: { value: string; count: number }[]
  /** One count per PRICE_BUCKETS entry. */
  price: number[]
  stores: { store_id: string; count: number }[]
  in_stock: number
}

/**
 * Counts over the listings the search matches, all filters applied, before paging. `total` is the
 * search's exact number of matches: up to `exactUpTo` (EXACT_FACET_MATCHES; lower in tests) every
 * match is counted; above, about that many, and the counts are scaled to the total. `plan`: the
 * planner's, when the caller has it already (or a test compares the two ways).
 */
export async function searchFacets(
  q: Queryable,
  columns: FacetColumns,
  text: TextQuery | undefined,
  filters: SearchFilters,
  kinds: ReadonlySet<FacetKind>,
  found: { total: number; inStock?: number | undefined },
  opts: { exactUpTo?: number; plan?: FacetPlan } = {},
): Promise<FacetCounts> {
  const exactUpTo = opts.exactUpTo ?? EXACT_FACET_MATCHES
  const plan = opts.plan ?? planFacets({ text, filters })
  const total = found.total
  const exact = total <= exactUpTo
  const counted =
    total === 0
      ? { tags: [], price: PRICE_BUCKETS.map(() => 0), stores: [], in_stock: 0, sample: 0 }
      : plan.kind === 'bitmaps'
        ? await countFromBitmaps(q, columns, plan, filters, exact ? null : exactUpTo, found.inStock)
        : await countFromRows(q, text, filters, kinds, exact ? null : exactUpTo)
  // The sample's counts scaled to the whole match; in_stock from listing_counts is exact already.
  const scale = exact || counted.sample === 0 ? 1 : total / counted.sample
  const scaled = (n: number) => (scale === 1 ? n : Math.round(n * scale))
  const fromCounts = plan.kind === 'bitmaps' && plan.stock === 'listing_counts'
  const out: FacetCounts = { in_stock: fromCounts ? counted.in_stock : scaled(counted.in_stock), exact }
  if (kinds.has('tags')) out.tags = counted.tags.map((t) => ({ value: t.value, count: scaled(t.count) }))
  if (kinds.has('price'))
    out.price = PRICE_BUCKETS.map((b, i) => ({ ...b, count: scaled(counted.price[i] ?? 0) }))
  if (kinds.has('stores') && filters.storeId === undefined)
    out.stores = counted.stores.map((s) => ({ store_id: s.store_id, count: scaled(s.count) }))
  return out
}

/** Statements of the bitmaps way, named by shape as the search's are (src/repositories/search/bitmaps.ts). */
const shapes = new StatementShapes('search_facets_shape', 16)

/**
 * From bitmaps: one statement returns the match's bitmap of each block, newest block first (those
 * holding the first `sample` matches, or all), and, when the plan needs them, which of its listings
 * are out of stock. The price and in-stock filters are applied listing by listing, and
 * each listing counts under its store, price bucket and tags, read from `columns`.
 */
async function countFromBitmaps(
  q: Queryable,
  columns: FacetColumns,
  plan: Extract<FacetPlan, { kind: 'bitmaps' }>,
  f: SearchFilters,
  sample: number | null,
  /** In stock among the whole match, when the search counted it from listing_counts already. */
  inStockCounted: number | undefined,
): Promise<Counted & { sample: number }> {
  const { match, raw, col } = bitmapMatch(plan.match)
  const size = sql.literal(BITMAP_BLOCK)
  // The block's listings out of stock: the bits of kind 'o', except for the listings queued for theirs,
  // whose stock is read from the listing (migration 022): the block's queue rows, read once, give both.
  const stock =
    plan.stock === 'bitmaps'
      ? {
          bits: col('o', ''),
          // Only the matching listings' bits: the others are never looked at.
          columns: sql`${bitmapBytes(sql`c.out & c.bits`)} AS out, s.queued, s.queued_out`,
          queue: sql`LEFT JOIN LATERAL (
              SELECT array_agg((p.doc % ${size})::int) AS queued,
                     array_agg((p.doc % ${size})::int) FILTER (WHERE l.stock_level <= 0) AS queued_out
                FROM search_stock_pending p LEFT JOIN listings l ON l.doc = p.doc
               WHERE p.doc >= c.block::bigint * ${size} AND p.doc < (c.block + 1)::bigint * ${size}) s ON true`,
        }
      : {
          bits: sql`NULL::bit(${size})`,
          columns: sql`NULL AS out, NULL::int[] AS queued, NULL::int[] AS queued_out`,
          queue: sql.empty,
        }
  const r = await query<{
    block: number
    /** How many bits `bits` has set. */
    n: number
    bits: Uint8Array
    out: Uint8Array | null
    queued: number[] | null
    queued_out: number[] | null
  }>(
    q,
    sql`WITH m AS (SELECT block, bits, out, bit_count(bits)::int AS n
                   FROM (SELECT block, ${match} AS bits, ${stock.bits} AS out FROM (${raw(sql.empty)}) raw) b),
        c AS (SELECT block, bits, out, n, sum(n) OVER (ORDER BY block DESC) - n AS before FROM m WHERE n > 0)
        SELECT c.block, c.n, ${bitmapBytes(sql`c.bits`)} AS bits, ${stock.columns} FROM c ${stock.queue}
         WHERE c.before < ${sample ?? Number.MAX_SAFE_INTEGER}::bigint ORDER BY c.block DESC`,
    shapes,
  )
  // The columns of every block, read where missing; then the count, which does not await, so that
  // every block's offsets can share one array (offsetsOf).
  const blocks = []
  for (const row of r.rows) blocks.push({ row, cols: await columns.block(q, row.block, row.bits) })
  const tally = new Tally(columns, f)
  for (const { row, cols } of blocks) tally.block(cols, row.bits, row.n, row)
  return {
    tags: top(tally.tags, columns.tagValues).map(([value, count]) => ({ value, count })),
    price: [...tally.price],
    stores: top(tally.stores, columns.storeIds).map(([store_id, count]) => ({ store_id, count })),
    in_stock:
      plan.stock === 'listing_counts'
        ? (inStockCounted ?? (await countByPrice(q, f)).in_stock)
        : tally.inStock,
    sample: tally.counted,
  }
}

/**
 * Which of the block being counted are out of stock, one bit each as bitmapBytes has them; shared,
 * since a block is counted without awaiting, and left all zero.
 */
const OUT = new Uint8Array(BITMAP_BLOCK / 8)
/** No doc out of stock. */
const NONE_OUT = new Uint8Array(BITMAP_BLOCK / 8)

/** Counts of matches, a block at a time, the price and in-stock filters applied. */
class Tally {
  readonly stores: Int32Array
  readonly tags: Int32Array
  readonly price = new Int32Array(PRICE_BUCKETS.length)
  counted = 0
  inStock = 0
  private readonly min: number
  private readonly max: number
  private readonly inStockOnly: boolean

  constructor(columns: FacetColumns, f: SearchFilters) {
    this.stores = new Int32Array(columns.storeIds.length)
    this.tags = new Int32Array(columns.tagValues.length)
    this.min = f.minPrice ?? Number.NEGATIVE_INFINITY
    this.max = f.maxPrice ?? Number.POSITIVE_INFINITY
    this.inStockOnly = f.inStock === true
  }

  /**
   * The `matches` matches of a block, the set bits of `bits`; `stock` says which of the block's
   * listings are out of stock: the bitmap `out`, corrected for the listings `queued` (those of them
   * `queued_out` are out).
   */
  block(
    cols: Block,
    bits: Uint8Array,
    matches: number,
    stock: { out: Uint8Array | null; queued: number[] | null; queued_out: number[] | null },
  ) {
    if (stock.out) OUT.set(stock.out)
    for (const at of stock.queued ?? []) putBit(OUT, at, false)
    for (const at of stock.queued_out ?? []) putBit(OUT, at, true)
    const unfiltered = this.min === Number.NEGATIVE_INFINITY && this.max === Number.POSITIVE_INFINITY
    if (unfiltered && !this.inStockOnly && 2 * matches > cols.presentCount) {
      // Most of the block matches (a search for everything matches all of it): the facets of every doc
      // read, less those of the docs the match lacks, which are fewer to visit.
      const { present, all } = cols
      addEach(this.stores, all.stores)
      addEach(this.tags, all.tags)
      addEach(this.price, all.price)
      this.counted += cols.presentCount
      this.inStock += cols.presentCount
      const lacked = offsetsOf(present, bits)
      this.add(cols, lacked.offsets, lacked.n, -1, NONE_OUT)
      let matchedOut = 0
      for (let i = 0; i < OUT.length; i++) matchedOut += bitsSet((OUT[i] as number) & (bits[i] as number))
      this.inStock -= matchedOut
    } else {
      const { offsets, n } = offsetsOf(bits)
      this.add(cols, offsets, n, 1, OUT)
    }
    OUT.fill(0)
  }

  /**
   * Adds `by` (1 or −1) to the counts of each doc at offsets[0…n) that the price and in-stock filters
   * keep; `out` has the bits of those out of stock. This runs up to 100 000 times a request.
   */
  private add(cols: Block, offsets: Int32Array, n: number, by: 1 | -1, out: Uint8Array) {
    const { store, price: prices, bucket, tagAt, tagCount, tags } = cols
    const { stores, price, min, max, inStockOnly } = this
    const counts = this.tags
    let counted = 0
    let inStock = 0
    for (let i = 0; i < n; i++) {
      const at = offsets[i] as number
      const p = prices[at] as number
      const isOut = hasBit(out, at)
      if (p < min || p > max || (inStockOnly && isOut)) continue
      counted++
      if (!isOut) inStock++
      const b = bucket[at] as number
      price[b] = (price[b] as number) + by
      const s = store[at] as number
      stores[s] = (stores[s] as number) + by
      const last = (tagAt[at] as number) + (tagCount[at] as number)
      for (let t = tagAt[at] as number; t < last; t++) {
        const tag = tags[t] as number
        counts[tag] = (counts[tag] as number) + by
      }
    }
    this.counted += by * counted
    this.inStock += by * inStock
  }
}

/**
 * Adds each count of `from` to `into`'s. `from` may be longer, with zeros only: its numbers were all
 * given before `into` was sized, and its length is rounded up.
 */
function addEach(into: Int32Array, from: Int32Array) {
  const n = Math.min(into.length, from.length)
  for (let i = 0; i < n; i++) into[i] = (into[i] as number) + (from[i] as number)
}

/** How many bits of a byte are set. */
function bitsSet(byte: number): number {
  let n = 0
  for (let v = byte; v !== 0; v &= v - 1) n++
  return n
}

/**
 * The FACET_TOP most frequent values, ties in code point order (as PostgreSQL's "C" collation orders
 * them). Only the best so far are kept, in order: a request may count thousands of stores.
 */
function top(counts: Int32Array, values: readonly string[]): [string, number][] {
  const before = (i: number, j: number) =>
    (counts[i] as number) - (counts[j] as number) || byCodePoint(values[j] as string, values[i] as string)
  const best: number[] = []
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] === 0) continue
    if (best.length === FACET_TOP && before(i, best[FACET_TOP - 1] as number) <= 0) continue
    if (best.length < FACET_TOP) best.push(i)
    let at = best.length - 1
    for (; at > 0 && before(i, best[at - 1] as number) > 0; at--) best[at] = best[at - 1] as number
    best[at] = i
  }
  return best.map((i) => [values[i] as string, counts[i] as number])
}

/**
 * Compares strings by code point. JavaScript compares UTF-16 code units, which differ from code points
 * in order only where a surrogate (U+D800–DFFF) meets a unit of U+E000–FFFF: those are moved to keep
 * code point order.
 */
function byCodePoint(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) return codePointRank(x) - codePointRank(y)
  }
  return a.length - b.length
}

const codePointRank = (unit: number) => (unit < 0xd800 ? unit : unit < 0xe000 ? unit + 0x2000 : unit - 0x800)

/**
 * From the rows: every matching listing is read (the same conditions as the page: matchSql), or the
 * first `sample` read.
 */
async function countFromRows(
  q: Queryable,
  text: TextQuery | undefined,
  f: SearchFilters,
  kinds: ReadonlySet<FacetKind>,
  sample: number | null,
): Promise<Counted & { sample: number }> {
  const { where } = matchSql(text, f)
  const top = sql.literal(FACET_TOP)
  // A tag counts once per listing (a listing may repeat a tag): only its first position is taken.
  const tags = sql`(SELECT coalesce(json_agg(json_build_object('value', t.value, 'count', t.n)
                                           ORDER BY t.n DESC, t.value COLLATE "C"), '[]')
                    FROM (SELECT u.value, count(*)::int AS n
                            FROM m CROSS JOIN LATERAL unnest(m.tags) WITH ORDINALITY AS u(value, i)
                           WHERE array_position(m.tags, u.value) = u.i
                           GROUP BY u.value ORDER BY n DESC, u.value COLLATE "C" LIMIT ${top}) t)`
  const buckets: Sql[] = PRICE_BUCKETS.map(({ min, max }) =>
    max === null
      ? sql`count(*) FILTER (WHERE price >= ${sql.literal(min)})`
      : sql`count(*) FILTER (WHERE price >= ${sql.literal(min)} AND price < ${sql.literal(max)})`,
  )
  const stores = sql`(SELECT coalesce(json_agg(json_build_object('store_id', s.store_id, 'count', s.n)
                                             ORDER BY s.n DESC, s.store_id COLLATE "C"), '[]')
                      FROM (SELECT store_id, count(*)::int AS n FROM m GROUP BY store_id
                             ORDER BY n DESC, store_id COLLATE "C" LIMIT ${top}) s)`
  const r = await query<Omit<Counted, 'price'> & { price: number[]; sample: number }>(
    q,
    sql`WITH m AS MATERIALIZED (
          SELECT l.tags, l.price, l.store_id, l.stock_level FROM listings l
           ${where.length > 0 ? sql`WHERE ${sql.join(where, sql` AND `)}` : sql.empty}
           ${sample === null ? sql.empty : sql`LIMIT ${sql.literal(sample)}`})
        SELECT (SELECT count(*) FROM m)::int AS sample,
               (SELECT count(*) FILTER (WHERE stock_level > 0) FROM m)::int AS in_stock,
               ${kinds.has('tags') ? tags : sql`'[]'::json`} AS tags,
               ${kinds.has('price') ? sql`(SELECT ARRAY[${sql.join(buckets)}]::int[] FROM m)` : sql`'{}'::int[]`} AS price,
               ${kinds.has('stores') && f.storeId === undefined ? stores : sql`'[]'::json`} AS stores`,
  )
  const row = r.rows[0]
  return row ?? { tags: [], price: [], stores: [], in_stock: 0, sample: 0 }
}
