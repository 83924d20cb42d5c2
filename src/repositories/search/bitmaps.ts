/**
 * The bitmaps plan: a search by relevance of up to three words, filtered by tags and a store at most,
 * answered from search_bitmaps (migrations 007, 010, 016, 018) and the listings queued for it (019),
 * without visiting a match that is not on the page (docs/search.md, "Bitmaps").
 */
import type { Queryable } from '../../db/db.ts'
import { query, type Sql, StatementShapes, sql } from '../../db/sql.ts'
import { BITMAP_BLOCK } from '../../search/encoding.ts'
import type { BitmapMatch, SearchPlan, SearchRequest } from '../../search/plan.ts'
import type { BitmapQuery, Word } from '../../search/query.ts'
import { AUTHOR_TAGS, ELSEWHERE, score, TITLE } from '../../search/rank.ts'
import { TYPO_PENALTY } from '../../search/typos.ts'
import { ratingOrder, type SearchHit, type SearchResult, TEXT_HIT_COLUMNS } from './hits.ts'
import { queuedBitmaps } from './pending.ts'
import { scoreSql, searchByStatement } from './statement.ts'

/**
 * The names of this plan's statements. A statement's text depends on the shape of the query only
 * (its words, kinds, tags and typo candidates are parameters), and a few dozen shapes cover the
 * searches people type.
 */
const shapes = new StatementShapes('search_bitmaps_shape', 48)

/** An empty bitmap block. */
const NO_BITS = sql`B'0'::bit(${sql.literal(BITMAP_BLOCK)})`

/**
 * A bitmap as it leaves PostgreSQL: its bytes (varbit_send's, less their 4-byte length), 2 kB a block.
 * As text it would be 16 384 characters, each looked at in JavaScript. setBits reads them.
 */
export const bitmapBytes = (bits: Sql): Sql => sql`substring(varbit_send(${bits}) from 5)`

/** The bit of offset `at` in its byte, in bitmapBytes' layout: bit 0 is the first byte's highest. */
const maskOf = (at: number) => 0x80 >> (at & 7)

/** Whether the bit of offset `at` is set. */
export const hasBit = (bytes: Uint8Array, at: number): boolean =>
  ((bytes[at >> 3] as number) & maskOf(at)) !== 0

/** Sets (`on`) or clears the bit of offset `at`. */
export function putBit(bytes: Uint8Array, at: number, on: boolean): void {
  const byte = bytes[at >> 3] as number
  bytes[at >> 3] = on ? byte | maskOf(at) : byte & ~maskOf(at)
}

/**
 * Writes the offsets of the set bits of a bitmap's bytes (bitmapBytes' layout) into `into`, in
 * ascending order; returns how many.
 */
function setBits(bytes: Uint8Array, into: Int32Array): number {
  let n = 0
  for (let byte = 0; byte < bytes.length; byte++) {
    let v = bytes[byte] as number
    while (v !== 0) {
      const bit = Math.clz32(v) - 24
      into[n++] = byte * 8 + bit
      v &= ~maskOf(bit)
    }
  }
  return n
}

/**
 * The offsets setBits writes for offsetsOf: a block's worth (64 kB), which each search would
 * otherwise allocate for each block it reads, for the garbage collector to reclaim; and a block's
 * bits, for those of one bitmap that another lacks.
 */
const SHARED_OFFSETS = new Int32Array(BITMAP_BLOCK)
const SHARED_BITS = new Uint8Array(BITMAP_BLOCK / 8)

/**
 * The offsets of the set bits of a block's bitmap (setBits), those `without` also sets left out, in
 * an array every call shares: read them before the next await, since the next call overwrites them.
 */
export function offsetsOf(bytes: Uint8Array, without?: Uint8Array): { offsets: Int32Array; n: number } {
  let of = bytes
  if (without) {
    for (let i = 0; i < SHARED_BITS.length; i++)
      SHARED_BITS[i] = (bytes[i] as number) & ~(without[i] as number)
    of = SHARED_BITS
  }
  return { offsets: SHARED_OFFSETS, n: setBits(of, SHARED_OFFSETS) }
}

/** The sums below add levels of 2, 1 and 0 a word at a time: this fails to compile if rank.ts changes them. */
export const LEVELS: readonly [typeof TITLE, typeof AUTHOR_TAGS, typeof ELSEWHERE] = [2, 1, 0]

/**
 * The columns a statement reads from search_bitmaps and the queued listings, and the match built
 * from them, as SQL over a row of `raw(where)` (one per block of the blocks `where` keeps). `col` and
 * `holds` add columns as the caller names bitmaps; `raw` must be built after the last of them.
 */
export function bitmapMatch(m: BitmapMatch) {
  const bq = m.query
  const columns: Sql[] = []
  const named = new Map<string, Sql>()
  /** A name the statement gives a column of its own: a letter and a number (x3: the sum 3 so far). */
  const id = (letter: string, n: number) => sql.ident(`${letter}${n}`)
  /** The column holding a block of the bitmap of this kind and key (a fixed kind letter). */
  const col = (kind: string, key: string) => {
    const ref = `${kind}\u0000${key}`
    let name = named.get(ref)
    if (name === undefined) {
      name = id('c', named.size)
      named.set(ref, name)
      columns.push(
        sql`coalesce(bit_or(b.bits) FILTER (WHERE b.kind = ${sql.literal(kind)} AND b.key = ${key}), ${NO_BITS}) AS ${name}`,
      )
    }
    return name
  }
  /** The listings holding the word, itself or all its parts, in a bitmap of one of the kinds. */
  const holds = (kinds: readonly string[], w: Word) => {
    const any = (lexeme: string) =>
      sql`(${sql.join(
        kinds.map((k) => col(k, lexeme)),
        sql` | `,
      )})`
    const alternatives = [
      any(w.text),
      ...(w.parts ? [sql`(${sql.join(w.parts.map(any), sql` & `)})`] : []),
      ...(w.typos ?? []).map(any),
    ]
    return alternatives.length === 1 ? any(w.text) : sql`(${sql.join(alternatives, sql` | `)})`
  }
  const all = (exprs: Sql[]) => (exprs.length > 0 ? sql`(${sql.join(exprs, sql` & `)})` : NO_BITS)
  /** The listings whose title holds a query's pair of characters (kind 'g'), when it has one. */
  const pairOf = (query: BitmapQuery) => (query.gram === null ? NO_BITS : col('g', query.gram))
  /** The listings matching a query's words (or its title pair). */
  const matching = (query: BitmapQuery) =>
    sql`(${all(query.words.flatMap((w) => query.match.map((kinds) => holds(kinds, w))))} | ${pairOf(query)})`
  const parts = [
    ...(bq ? [matching(bq)] : []),
    // Typo matches: the widened query's matches less the exact query's.
    ...(m.excluding ? [sql`~${matching(m.excluding)}`] : []),
    // The filters: each tag (kind 't') and the store (kind 's').
    ...m.tags.map((tag) => col('t', tag)),
    ...(m.storeId === undefined ? [] : [col('s', m.storeId)]),
  ]
  // Without text or filters, every listing (kind 'l').
  const match = sql`(${sql.join(parts.length > 0 ? parts : [col('l', '')], sql` & `)})`
  /** Per block (of the blocks `where` keeps), a column of each bitmap named so far. */
  const raw = (where: Sql) => {
    const refs = [...named.keys()].map((ref) => ref.split('\u0000'))
    // Bound once: the merged and the queued rows are read for the same (kind, key) pairs.
    const kinds = sql.bind(refs.map(([kind]) => kind as string))
    const keys = sql.bind(refs.map(([, key]) => key as string))
    return sql`SELECT b.block, ${sql.join(columns)}
        FROM (SELECT b.kind, b.key, b.block, b.bits
                FROM unnest(${kinds}::"char"[], ${keys}::text[]) AS k(kind, key)
                JOIN search_bitmaps b ON b.kind = k.kind AND b.key = k.key ${where}
              UNION ALL ${queuedBitmaps(kinds, keys, where)}) b
       GROUP BY b.block`
  }
  return { id, col, holds, all, pairOf, match, raw }
}

/**
 * The order of a search is a sequence of sets: tier 2, 1, 0, and within a tier the sum of the words'
 * levels (src/search/rank.ts) from high to low, newest (highest doc) first in each.
 * Per block of BITMAP_BLOCK listings, one statement builds each set's bitmap from the words' bitmaps and
 * counts it, and returns the bitmaps of the blocks of the sets that hold the page: the total is the
 * sum of the counts, the page's docs are read from those bitmaps, and its listings by doc.
 */
export async function searchBitmaps(
  q: Queryable,
  plan: Extract<SearchPlan, { kind: 'bitmaps' }>,
  req: SearchRequest,
): Promise<SearchResult> {
  const bq = plan.query
  const { id, holds, all, pairOf, match, raw } = bitmapMatch(plan)
  const n = bq.words.length
  const gram = pairOf(bq)
  if (plan.order === 'rating')
    return byRating(q, sql`SELECT block, ${match} AS bits FROM (${raw(sql.empty)}) raw`, req)
  const inTitle = bq.title ? sql`(${all(bq.words.map((w) => holds(['A'], w)))} | ${gram})` : NO_BITS
  const inAuthorTags = bq.authorTags ? all(bq.words.map((w) => holds(['B'], w))) : NO_BITS
  // Each word's level: u (2, the title holds it) or v (1, author or tags do and the title does not).
  const levels = bq.words.flatMap((w, i) => {
    const a = bq.title ? holds(['A'], w) : NO_BITS
    return [
      sql`${a} AS ${id('u', i)}`,
      sql`${bq.authorTags ? sql`(${holds(['B'], w)} & ~${a})` : NO_BITS} AS ${id('v', i)}`,
    ]
  })
  // The sums of levels a tier can hold, from high to low. A word's level is at most `top`; all words
  // at the top make tier 2 (title) or tier 1 (author and tags); in tier 1 every word has a level; tier 2
  // without a gram is every word in the title.
  const top = bq.title ? TITLE : bq.authorTags ? AUTHOR_TAGS : ELSEWHERE
  const possible = (tier: number, sum: number) =>
    sum <= n * top &&
    (tier === TITLE
      ? bq.gram !== null || sum === TITLE * n
      : tier === AUTHOR_TAGS
        ? sum >= n && sum < n * top + (bq.title ? 0 : 1)
        : top === 0 || sum < n * top)
  // Each tier's listings, from every word in the title (t2) and every word in author or tags (t1).
  const tiers = [
    [TITLE, sql`t2`],
    [AUTHOR_TAGS, sql`t1 & ~t2`],
    [ELSEWHERE, sql`~(t2 | t1)`],
  ] as const
  // The sets in the order of the search: tier, then sum of levels, both from high to low. The last
  // step below holds each tier as a column z<tier>; without words, sum0 is that step.
  const sets: { bits: Sql; score: number }[] = []
  for (const [tier, bits] of tiers)
    for (let sum = 2 * n; sum >= 0; sum--)
      if (possible(tier, sum))
        sets.push({
          bits: sql`(${id('x', sum)} & ${n > 0 ? id('z', tier) : bits})`,
          score: score(tier, sum, n) - (plan.excluding ? TYPO_PENALTY : 0),
        })
  // x0…x{2i} after the first i words: the matches whose levels add up to each sum, one word at a time.
  const steps = bq.words.map((_, i) => {
    const rest = bq.words.flatMap((_, j) => (j > i ? [sql`, ${id('u', j)}, ${id('v', j)}`] : []))
    const x = Array.from({ length: 2 * i + 3 }, (_, k) => {
      const terms = [
        ...(k <= 2 * i ? [sql`(${id('x', k)} & ~(${id('u', i)} | ${id('v', i)}))`] : []),
        ...(k >= 1 && k - 1 <= 2 * i ? [sql`(${id('x', k - 1)} & ${id('v', i)})`] : []),
        ...(k >= 2 ? [sql`(${id('x', k - 2)} & ${id('u', i)})`] : []),
      ]
      return sql`, ${sql.join(terms, sql` | `)} AS ${id('x', k)}`
    })
    // The last step also splits the tiers apart, once per block.
    const carried =
      i === n - 1
        ? sql.join(
            tiers.map(([tier, bits]) => sql`, ${bits} AS ${id('z', tier)}`),
            sql.empty,
          )
        : sql`, t2, t1`
    return sql`, ${id('sum', i + 1)} AS MATERIALIZED (SELECT block${carried}${sql.join(rest, sql.empty)}${sql.join(x, sql.empty)} FROM ${id('sum', i)})`
  })
  /** Per block: the words' bitmaps, the tiers and the sums, then each set's bitmap (s0, s1…). */
  const setBitmaps = sql`
    WITH raw AS (${raw(sql.empty)}), sum0 AS MATERIALIZED (
      SELECT block, ${inTitle} AS t2, ${inAuthorTags} AS t1${sql.join(
        levels.map((l) => sql`, ${l}`),
        sql.empty,
      )}, ${match} AS x0
        FROM raw
    )${sql.join(steps, sql.empty)}
    SELECT block, ${sql.join(sets.map((x, i) => sql`${x.bits} AS ${id('s', i)}`))} FROM ${id('sum', n)}`
  // One statement, per block: each set's count, and the bitmaps of the sets whose listings in that
  // block are on the page, as bytes (bitmapBytes), in columns s0, s1… A set's listings before a block
  // are those of the sets before it (every block) and its own in the blocks after (newer); the window
  // sums count them, and the same rule, below, picks the page out of the counts.
  const before = sets.map((_, i) => {
    const earlierSets =
      i === 0
        ? sql.empty
        : sql`sum(${sql.join(
            sets.slice(0, i).map((_, j) => id('n', j)),
            sql` + `,
          )}) OVER () + `
    return sql`${earlierSets}sum(${id('n', i)}) OVER (ORDER BY block DESC) - ${id('n', i)} AS ${id('b', i)}`
  })
  const end = req.offset + req.limit
  const byBlock = (
    await query<{ block: number; n: number[] } & Record<string, Uint8Array | null>>(
      q,
      sql`SELECT block, ARRAY[${sql.join(sets.map((_, i) => id('n', i)))}] AS n, ${sql.join(
        sets.map(
          (_, i) =>
            sql`CASE WHEN ${id('n', i)} > 0 AND ${id('b', i)} < ${end}::bigint AND ${id('b', i)} + ${id('n', i)} > ${req.offset}::bigint
                     THEN ${bitmapBytes(id('s', i))} END AS ${id('s', i)}`,
        ),
      )}
        FROM (SELECT c.*, ${sql.join(before)}
                FROM (SELECT block, ${sql.join(sets.map((_, i) => sql`${id('s', i)}, bit_count(${id('s', i)})::int AS ${id('n', i)}`))}
                        FROM (${setBitmaps}) sets) c) w`,
      shapes,
    )
  ).rows.sort((a, b) => b.block - a.block)
  let total = 0
  for (const r of byBlock) for (const x of r.n) total += x
  // A page of none only counts (the typo matches of a page within the exact ones).
  if (total <= req.offset || req.limit === 0) return { total, hits: [] }
  // The blocks of each set that hold the page, in order, and how many of each block's listings to skip and take.
  const parts: { set: number; row: (typeof byBlock)[number]; skip: number; take: number }[] = []
  let skip = req.offset
  let need = req.limit
  for (let set = 0; set < sets.length && need > 0; set++)
    for (const r of byBlock) {
      const count = r.n[set] ?? 0
      if (count <= skip) {
        skip -= count
        continue
      }
      const take = Math.min(count - skip, need)
      parts.push({ set, row: r, skip, take })
      need -= take
      skip = 0
      if (need === 0) break
    }
  const docs: number[] = []
  const scores: number[] = []
  for (const part of parts) {
    const bytes = part.row[`s${part.set}`]
    if (!bytes)
      throw new Error(
        `the bitmap of set ${part.set} in block ${part.row.block} holds part of the page but was not read`,
      )
    const { offsets, n } = offsetsOf(bytes)
    // Newest (highest doc) first: the set's bits from the last.
    for (let i = n - 1, seen = 0; i >= 0 && seen < part.skip + part.take; i--, seen++) {
      if (seen < part.skip) continue
      docs.push(part.row.block * BITMAP_BLOCK + (offsets[i] as number))
      scores.push(sets[part.set]?.score ?? 0)
    }
  }
  const r = await query<SearchHit>(
    q,
    sql`SELECT ${TEXT_HIT_COLUMNS}, p.score FROM unnest(${docs}::bigint[], ${scores}::float8[]) AS p(doc, score)
         JOIN listings l ON l.doc = p.doc ORDER BY p.score DESC, p.doc DESC`,
    { name: 'search_listings_by_doc' },
  )
  return { total, hits: r.rows }
}

/**
 * What walking the ratings costs per listing, against the statement's cost per match, in µs as
 * measured at 100 000 listings: the walk reads the index listing_ratings_rank and tests a bit of the
 * match (about 0.15 µs); the statement reads GIN entries and visits each match's row (about 10 µs).
 */
const RATING_WALK_COST = 0.15
const STATEMENT_MATCH_COST = 10

/**
 * By rating: the ratings are walked in their order (index listing_ratings_rank, every listing has a
 * row), and a listing is kept when its bit is set in the match's bitmap of its block; the walk stops
 * after the page. The match's blocks are one array, indexed by block, built once per statement. A
 * common word's page comes early in the walk. A rare word's matches are fewer than the walk would
 * read: the statement sorts them instead. The score is the relevance score, as the statement computes
 * it, of the page's listings.
 */
async function byRating(q: Queryable, matched: Sql, req: SearchRequest): Promise<SearchResult> {
  const counted = await query<{ total: number; listings: number }>(
    q,
    sql`SELECT (SELECT coalesce(sum(bit_count(m.bits)), 0)::int FROM (${matched}) m) AS total,
              (SELECT greatest(reltuples, 0)::float8 FROM pg_class WHERE oid = 'listing_ratings'::regclass) AS listings`,
    shapes,
  )
  const { total = 0, listings = 0 } = counted.rows[0] ?? {}
  if (total <= req.offset) return { total, hits: [] }
  // Before the table's first statistics (listings 0) the walk's length is unknown: sort.
  const walk = listings > 0 ? ((req.offset + req.limit) * listings) / total : Number.POSITIVE_INFINITY
  if (walk * RATING_WALK_COST > total * STATEMENT_MATCH_COST) return searchByStatement(q, req)
  const block = sql.literal(BITMAP_BLOCK)
  const page = await query<SearchHit>(
    q,
    sql`WITH m AS (${matched}),
        blocks AS (SELECT array_agg(coalesce(m.bits, ${NO_BITS}) ORDER BY g) AS bits
                     FROM generate_series(0, (SELECT max(block) FROM m)) g LEFT JOIN m ON m.block = g),
        walked AS (
          SELECT r.doc, r.average, r.rating_count FROM listing_ratings r
           WHERE get_bit((SELECT bits FROM blocks)[(r.doc / ${block})::int + 1], (r.doc % ${block})::int) = 1
           ORDER BY ${ratingOrder('r')} LIMIT ${req.limit} OFFSET ${req.offset})
        SELECT ${TEXT_HIT_COLUMNS}, ${scoreSql(req.text)}::float8 AS score
          FROM walked w JOIN listings l ON l.doc = w.doc ORDER BY ${ratingOrder('w')}`,
    shapes,
  )
  return { total, hits: page.rows }
}
