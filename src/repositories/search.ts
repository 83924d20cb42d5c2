import type { ApiHit, Sort } from '../api/catalog.ts'
import type { Queryable } from '../db/db.ts'
import { query, type Sql, sql } from '../db/sql.ts'
import { BITMAP_BLOCK, TITLE_GRAM_BIT } from '../search/encoding.ts'
import type { BitmapQuery, PostingsQuery, TextQuery, TypoQuery, Word } from '../search/query.ts'
import { TYPO_PENALTY } from '../search/typos.ts'

export interface SearchFilters {
  storeId?: string | undefined
  /** Exact tags; a listing must carry all of them. */
  tags?: readonly string[] | undefined
  /** Normalised text the author must contain. */
  author?: string | undefined
  minPrice?: number | undefined
  maxPrice?: number | undefined
  inStock?: boolean | undefined
}

export interface SearchRequest {
  /** undefined: browse by filters alone. */
  text?: TextQuery | undefined
  filters: SearchFilters
  sort: Sort
  limit: number
  offset: number
}

/** A hit as the statements select it: the rating's sum and count (the service turns them into the average). */
export type SearchHit = Omit<ApiHit, 'rating_average' | 'highlights'> & { rating_sum: number }

/**
 * The rank within a tier of a query other than one word over every field: each word adds 2 when the
 * title holds it, else 1 when author or tags do, out of 2 per word (so the rank stays below 1). The
 * bitmap search (searchBitmaps) computes the same sums from bitmaps.
 */
function levelRank(levels: NonNullable<TextQuery['levels']>): Sql {
  const level = ({ title, authorTags }: (typeof levels)[number]) => {
    const when = [
      ...(title ? [sql`WHEN l.search_vec @@ ${title}::tsquery THEN 2`] : []),
      ...(authorTags ? [sql`WHEN l.search_vec @@ ${authorTags}::tsquery THEN 1`] : []),
    ]
    return when.length > 0 ? sql`CASE ${sql.join(when, sql` `)} ELSE 0 END` : sql`0`
  }
  return sql`(${sql.join([sql`0`, ...levels.map(level)], sql` + `)})::float8 / ${sql.literal(2 * levels.length + 1)}`
}

/** Each row's text match, as SQL: conditions (for WHERE) and the score expression. */
function textSql(t: TextQuery): { match: Sql; score: Sql } {
  const alternatives: Sql[] = []
  // The words are matched and ranked by: one parameter for both.
  const words = t.words ? sql.bind(t.words) : null
  let substringHit = sql`false`
  if (words) {
    let cond = sql`l.search_vec @@ ${words}::tsquery`
    if (t.split) {
      const parts = [sql`ts_filter(l.author_tags_vec, ${`{${t.split.authorOrTags}}`}::"char"[])`]
      if (t.split.others.length > 0)
        parts.unshift(sql`ts_filter(l.search_vec, ${`{${t.split.others.join(',')}}`}::"char"[])`)
      cond = sql`${cond} AND (${sql.join(parts, sql` || `)}) @@ ${t.split.plain}::tsquery`
    }
    alternatives.push(sql`(${cond})`)
  }
  if (t.substring) {
    // The same parameters in the match and in the score.
    substringHit = sql`(l.title_grams @@ ${sql.bind(t.substring.grams)}::tsquery)`
    alternatives.push(substringHit)
  }
  // ts_rank_cd normalisation 32 maps the rank into [0, 1), below the tiers added to it.
  const rank = t.levels
    ? levelRank(t.levels)
    : words
      ? sql`ts_rank_cd(l.search_vec, ${words}::tsquery, 32)`
      : sql`0`
  const titleHit = t.inTitle ? sql`l.search_vec @@ ${t.inTitle}::tsquery` : sql`false`
  const authorTagsHit = t.inAuthorTags ? sql`l.search_vec @@ ${t.inAuthorTags}::tsquery` : sql`false`
  return {
    match: alternatives.length > 0 ? sql`(${sql.join(alternatives, sql` OR `)})` : sql`false`,
    // Title matches (whole words or, for short queries, a substring) rank above author/tag matches,
    // which rank above intro/content matches; within a tier, by cover density for one word over every
    // field, else by the words' levels (then newest first, by the caller's order).
    score: sql`(CASE WHEN ${titleHit} OR ${substringHit} THEN 2 WHEN ${authorTagsHit} THEN 1 ELSE 0 END + ${rank})`,
  }
}

/** A column of the listing's ratings (migration 011), looked up for one hit of a page. */
const rating = (column: 'rating_sum' | 'rating_count') =>
  sql`coalesce((SELECT hr.${sql.ident(column)} FROM listing_ratings hr
              WHERE hr.store_id = l.store_id AND hr.book_id = l.book_id), 0) AS ${sql.ident(column)}`
/** The columns of a hit, from listings l (the score comes from the caller). */
const HIT_COLUMNS = sql`l.store_id, l.book_id, l.title, l.author, l.publisher, l.pub_year, l.price, l.stock_level, l.tags,
  ${rating('rating_sum')}, ${rating('rating_count')}`

/** ts_rank_cd's default weights of A, B, C, D, as the float4 values it computes with. */
const RANK_WEIGHT: Record<string, Sql> = {
  A: sql`1::real::float8`,
  B: sql`0.4::real::float8`,
  C: sql`0.2::real::float8`,
  D: sql`0.1::real::float8`,
}

const BY_SCORE = sql`p.score DESC, p.doc DESC`
/** The page's rows (doc, score[, total]) in order, then their listings by key. */
const page = (rows: Sql, extra = sql.empty, order = BY_SCORE) =>
  sql`SELECT ${HIT_COLUMNS}, p.score${extra} FROM (${rows}) p JOIN listings l ON l.doc = p.doc ORDER BY ${order}`

/**
 * sort=rating_desc over postings: each posting joined to its listing's ratings by doc (index
 * listing_ratings_doc, migration 011), in the order of SORT_KEYS.rating_desc.
 */
const RATED_POSTINGS = sql`JOIN listing_ratings r ON r.doc = p.doc`
const RATING_COLUMNS = sql`, r.average, r.rating_count`
const ratingOrder = (alias: 'p' | 'r') =>
  sql`${sql.ident(alias)}.average DESC NULLS LAST, ${sql.ident(alias)}.rating_count DESC, p.doc DESC`

/**
 * One term, no filter but perhaps a store, by relevance (or by rating, below): read from search_postings (migration 006)
 * instead of visiting every matching listing. Over every field and the whole site, the stored score is
 * the score: the page is the top of the index search_postings_rank and the total is kept in
 * search_terms. Over some fields (in one store, or a scope searchBitmaps leaves), the rows of the term
 * that have one of them are ranked as the tsvector statement ranks them, from the stored counts of
 * positions per weight (over every field the weighted count, else the word's level). In one
 * store, the store's listings (index listings_store_docs, migration 008) are looked up in the term's
 * postings. Either way only the page's listings are read. By rating (sort=rating_desc), the same
 * postings are joined to their listings' ratings by doc and ordered as the tsvector statement orders
 * them; the score is computed as for relevance.
 */
async function searchPostings(
  q: Queryable,
  pq: PostingsQuery,
  req: SearchRequest,
  storeId: string | undefined,
): Promise<{ total: number; hits: SearchHit[] }> {
  const byRating = req.sort === 'rating_desc'
  const term = sql.bind(pq.term)
  if (pq.allFields && storeId === undefined) {
    const total =
      (await query<{ n: number }>(q, sql`SELECT listings AS n FROM search_terms WHERE term = ${term}`))
        .rows[0]?.n ?? 0
    if (total <= req.offset) return { total, hits: [] }
    const rows = byRating
      ? (await ratingWalkPays(q, total, req))
        ? // The ratings in order (index listing_ratings_rank), each looked up in the word's postings
          // (OFFSET 0 keeps the planner from turning the lookup into a join it would start from the postings).
          sql`SELECT r.doc, p.score${RATING_COLUMNS} FROM listing_ratings r
             CROSS JOIN LATERAL (SELECT p.score FROM search_postings p WHERE p.term = ${term} AND p.doc = r.doc OFFSET 0) p
            ORDER BY r.average DESC NULLS LAST, r.rating_count DESC, r.doc DESC LIMIT ${req.limit} OFFSET ${req.offset}`
        : // The word's postings, each looked up in the ratings, then sorted.
          sql`SELECT p.doc, p.score${RATING_COLUMNS} FROM search_postings p ${RATED_POSTINGS} WHERE p.term = ${term}
            ORDER BY ${ratingOrder('r')} LIMIT ${req.limit} OFFSET ${req.offset}`
      : sql`SELECT doc, score FROM search_postings WHERE term = ${term} ORDER BY score DESC, doc DESC LIMIT ${req.limit} OFFSET ${req.offset}`
    const r = await query<SearchHit>(q, page(rows, sql.empty, byRating ? ratingOrder('p') : undefined))
    return { total, hits: r.rows }
  }
  // 2 in the title (as `inTitle` says it), else 1 in author or tags, each when in scope; else 0.
  const byField = (inTitle: Sql) =>
    sql`CASE WHEN ${pq.title ? inTitle : sql`false`} THEN 2 WHEN ${pq.authorTags ? sql`p.b > 0` : sql`false`} THEN 1 ELSE 0 END`
  // The tier counts a title substring too; the word's level counts the word alone.
  const tier = byField(
    pq.fields & TITLE_GRAM_BIT
      ? sql`(p.a > 0 OR p.fields & ${sql.literal(TITLE_GRAM_BIT)} <> 0)`
      : sql`p.a > 0`,
  )
  // From the primary key's columns (not the stored score), so that the postings are read from the index
  // alone: over every field the weighted count of positions, else the word's level (see levelRank).
  const s = sql.join(
    Object.entries(RANK_WEIGHT).map(([w, weight]) => sql`p.${sql.ident(w.toLowerCase())} * ${weight}`),
    sql` + `,
  )
  const rank = pq.allFields ? sql`((${s}) / (${s} + 1))::real` : sql`(${byField(sql`p.a > 0`)})::float8 / 3`
  const score = sql`(${tier} + ${rank})`
  const fields = sql.bind(pq.fields)
  const rated = byRating ? RATED_POSTINGS : sql.empty
  const rows =
    storeId === undefined
      ? sql`search_postings p ${rated} WHERE p.term = ${term} AND p.fields & ${fields} <> 0`
      : sql`listings s JOIN search_postings p ON p.term = ${term} AND p.doc = s.doc ${rated}
          WHERE s.store_id = ${storeId} AND p.fields & ${fields} <> 0`
  const r = await query<SearchHit & { total: number }>(
    q,
    page(
      sql`SELECT p.doc, ${score} AS score${byRating ? RATING_COLUMNS : sql.empty}, count(*) OVER ()::int AS total FROM ${rows}
        ORDER BY ${byRating ? ratingOrder('r') : sql`score DESC, p.doc DESC`}
        LIMIT ${req.limit} OFFSET ${req.offset}`,
      sql`, p.total`,
      byRating ? ratingOrder('p') : undefined,
    ),
  )
  if (r.rows.length === 0) {
    if (req.offset === 0) return { total: 0, hits: [] }
    const c = await query<{ n: number }>(q, sql`SELECT count(*)::int AS n FROM ${rows}`)
    return { total: c.rows[0]?.n ?? 0, hits: [] }
  }
  return { total: r.rows[0]?.total ?? 0, hits: r.rows.map(({ total: _, ...hit }) => hit) }
}

/**
 * Whether a page of one word site-wide by rating is found sooner by walking the ratings in order and
 * keeping the listings that hold the word (about (offset + limit) × listings / matches steps) than
 * by sorting all the word's matches (one step per match): a common word's best-rated matches come
 * early in the walk, a rare word's are few to sort. The planner cannot tell, as it does not know how
 * common the word is; search_terms does. The number of listings is the statistics' estimate (none
 * before the table was first analysed: then the matches are sorted).
 */
async function ratingWalkPays(q: Queryable, matches: number, req: SearchRequest): Promise<boolean> {
  const r = await q.query<{ n: number }>(
    `SELECT greatest(reltuples, 0)::float8 AS n FROM pg_class WHERE oid = 'listing_ratings'::regclass`,
  )
  const listings = r.rows[0]?.n ?? 0
  return listings > 0 && ((req.offset + req.limit) * listings) / matches < matches
}

/**
 * What a filtered walk costs against the tsvector statement, in units of one GIN entry read (about
 * 0.1 µs), as measured at 1 000 000 listings: the walk reads a posting and tests a bit in about 4.5 µs;
 * the statement reads the word's GIN entries and then visits each match (about 10 µs).
 */
const WALK_COST = 45
const MATCH_COST = 100
/** A walk expected to read no more postings than this (about 20 ms) is taken whatever the statement would cost. */
const SHORT_WALK = 5_000
/**
 * One term over every field, filtered by tags, by relevance: the total is the popcount of the AND of
 * the word's and the tags' bitmaps (search_bitmaps), and the page is the top of the word's ranked
 * postings with the listings that lack a tag skipped. The stored score is the score, as for the
 * unfiltered search. Returns null when the walk would cost more than the tsvector statement (few
 * matches deep in a common word's postings): that statement then answers.
 */
export async function searchTagged(
  q: Queryable,
  pq: PostingsQuery,
  tags: readonly string[],
  req: SearchRequest,
  walkCost = WALK_COST,
): Promise<{ total: number; hits: SearchHit[] } | null> {
  // A word of one character also matches the titles holding it, which no bitmap records (migration 010).
  if (pq.fields & TITLE_GRAM_BIT && [...pq.term].length < 2) return null
  const term = sql.bind(pq.term)
  // Each tag is looked up in both statements: one parameter per tag.
  const keys = tags.map((tag) => sql.bind(tag))
  const joins = sql.join(
    keys.map((key, i) => {
      const t = sql.ident(`t${i}`)
      return sql`JOIN search_bitmaps ${t} ON ${t}.kind = 't' AND ${t}.key = ${key} AND ${t}.block = w.block`
    }),
    sql` `,
  )
  const and = sql.join([sql`w.bits`, ...keys.map((_, i) => sql`${sql.ident(`t${i}`)}.bits`)], sql` & `)
  // A word of two characters also matches the titles holding it as a pair (kind 'g', migration 010).
  const kinds = pq.fields & TITLE_GRAM_BIT ? sql`('w', 'g')` : sql`('w')`
  const counts = (
    await query<{ total: number; word: number | null }>(
      q,
      sql`SELECT (SELECT coalesce(sum(bit_count(${and})), 0)::int
                 FROM (SELECT block, bit_or(bits) AS bits FROM search_bitmaps
                        WHERE kind IN ${kinds} AND key = ${term} GROUP BY block) w ${joins}) AS total,
              (SELECT listings FROM search_terms WHERE term = ${term}) AS word`,
    )
  ).rows[0]
  const total = counts?.total ?? 0
  if (total <= req.offset) return { total, hits: [] }
  // The tags keep about total/word of the postings read, wherever the walk is.
  const word = counts?.word ?? 0
  const walk = ((req.offset + req.limit) * word) / total
  if (walk > SHORT_WALK && walk * walkCost > word + MATCH_COST * total) return null
  const block = sql.literal(BITMAP_BLOCK)
  const kept = keys.map(
    (key) => sql`get_bit((SELECT b.bits FROM search_bitmaps b
                        WHERE b.kind = 't' AND b.key = ${key} AND b.block = (p.doc / ${block})::int),
                      (p.doc % ${block})::int) = 1`,
  )
  const r = await query<SearchHit>(
    q,
    page(sql`SELECT p.doc, p.score FROM search_postings p WHERE p.term = ${term} AND ${sql.join(kept, sql` AND `)}
           ORDER BY p.score DESC, p.doc DESC LIMIT ${req.limit} OFFSET ${req.offset}`),
  )
  return { total, hits: r.rows }
}

/** An empty bitmap block. */
const NO_BITS = sql`B'0'::bit(${sql.literal(BITMAP_BLOCK)})`

/**
 * A query other than one word over every field, by relevance, with tag filters at most, from
 * search_bitmaps (migrations 007 and 010). Its order is a sequence of sets: tier 2, 1, 0, and within a
 * tier the sum of the words' levels (levelRank) from high to low, newest (highest doc) first in each.
 * Per block of 8 192 listings, one statement builds each set's bitmap from the words' bitmaps and
 * counts it: the total is the sum, and the counts say which blocks of which sets hold the page. A
 * second statement returns those blocks' bitmaps, and the page's listings are read by doc.
 */
export async function searchBitmaps(
  q: Queryable,
  bq: BitmapQuery,
  tags: readonly string[],
  req: SearchRequest,
): Promise<{ total: number; hits: SearchHit[] }> {
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
    return w.parts ? sql`(${any(w.text)} | (${sql.join(w.parts.map(any), sql` & `)}))` : any(w.text)
  }
  const n = bq.words.length
  const all = (exprs: Sql[]) => (exprs.length > 0 ? sql`(${sql.join(exprs, sql` & `)})` : NO_BITS)
  const gram = bq.gram === null ? NO_BITS : col('g', bq.gram)
  const tagBits = [...new Set(tags)].map((tag) => col('t', tag))
  const match = sql`((${all(bq.words.flatMap((w) => bq.match.map((kinds) => holds(kinds, w))))} | ${gram})
                  ${sql.join(
                    tagBits.map((t) => sql`& ${t}`),
                    sql` `,
                  )})`
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
  const top = bq.title ? 2 : bq.authorTags ? 1 : 0
  const possible = (tier: number, sum: number) =>
    sum <= n * top &&
    (tier === 2
      ? bq.gram !== null || sum === 2 * n
      : tier === 1
        ? sum >= n && sum < n * top + (bq.title ? 0 : 1)
        : top === 0 || sum < n * top)
  // Each tier's listings, from every word in the title (t2) and every word in author or tags (t1).
  const tiers = [
    [2, sql`t2`],
    [1, sql`t1 & ~t2`],
    [0, sql`~(t2 | t1)`],
  ] as const
  // The sets in the order of the search: tier, then sum of levels, both from high to low. The last
  // step below holds each tier as a column z<tier>; without words, sum0 is that step.
  const sets: { bits: Sql; score: number }[] = []
  for (const [tier, bits] of tiers)
    for (let sum = 2 * n; sum >= 0; sum--)
      if (possible(tier, sum))
        sets.push({
          bits: sql`(${id('x', sum)} & ${n > 0 ? id('z', tier) : bits})`,
          score: tier + sum / (2 * n + 1),
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
  const refs = [...named.keys()].map((ref) => ref.split('\u0000'))
  const kinds = refs.map(([kind]) => kind)
  const keys = refs.map(([, key]) => key)
  /** Per block (of the blocks `where` keeps): the words' bitmaps, the tiers and the sums, then `output`. */
  const statement = (output: Sql, where: Sql) => sql`
    WITH raw AS (
      SELECT b.block, ${sql.join(columns)}
        FROM unnest(${kinds}::"char"[], ${keys}::text[]) AS k(kind, key)
        JOIN search_bitmaps b ON b.kind = k.kind AND b.key = k.key ${where}
       GROUP BY b.block
    ), sum0 AS MATERIALIZED (
      SELECT block, ${inTitle} AS t2, ${inAuthorTags} AS t1${sql.join(
        levels.map((l) => sql`, ${l}`),
        sql.empty,
      )}, ${match} AS x0
        FROM raw
    )${sql.join(steps, sql.empty)}
    SELECT block, ${output} FROM ${id('sum', n)}`
  const byBlock = (
    await query<{ block: number; n: number[] }>(
      q,
      statement(sql`ARRAY[${sql.join(sets.map((x) => sql`bit_count(${x.bits})::int`))}] AS n`, sql.empty),
    )
  ).rows.sort((a, b) => b.block - a.block)
  let total = 0
  for (const r of byBlock) for (const x of r.n) total += x
  if (total <= req.offset) return { total, hits: [] }
  // The blocks of each set that hold the page, in order, and how many of each block's listings to skip and take.
  const parts: { set: number; block: number; skip: number; take: number }[] = []
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
      parts.push({ set, block: r.block, skip, take })
      need -= take
      skip = 0
      if (need === 0) break
    }
  // Then the bitmaps of those blocks of those sets.
  const used = [...new Set(parts.map((x) => x.set))]
  const bitmaps = await query<{ block: number; bits: string[] }>(
    q,
    statement(
      sql`ARRAY[${sql.join(used.map((set) => sql`${sets[set]?.bits ?? NO_BITS}::text`))}] AS bits`,
      sql`AND b.block = ANY(${[...new Set(parts.map((x) => x.block))]}::int[])`,
    ),
  )
  const bitsOf = new Map(bitmaps.rows.map((r) => [r.block, r.bits]))
  const docs: number[] = []
  const scores: number[] = []
  for (const part of parts) {
    const bits = bitsOf.get(part.block)?.[used.indexOf(part.set)] ?? ''
    let seen = 0
    for (let i = bits.length - 1; i >= 0 && seen < part.skip + part.take; i--) {
      if (bits[i] !== '1') continue
      if (seen++ < part.skip) continue
      docs.push(part.block * BITMAP_BLOCK + i)
      scores.push(sets[part.set]?.score ?? 0)
    }
  }
  const r = await query<SearchHit>(
    q,
    page(sql`SELECT * FROM unnest(${docs}::bigint[], ${scores}::float8[]) AS p(doc, score)`),
    { name: 'search_listings_by_doc' },
  )
  return { total, hits: r.rows }
}

/** Sort keys (column, direction) of each sort; every order ends with the primary key. */
const SORT_KEYS: Record<Exclude<Sort, 'relevance'>, [Sql, Sql][]> = {
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
  // Highest average first, then more ratings, then newest; unrated listings (no average) last. The
  // index listing_ratings_rank holds this order.
  rating_desc: [
    [sql`lr.average`, sql` DESC NULLS LAST`],
    [sql`lr.rating_count`, sql` DESC`],
    [sql`lr.doc`, sql` DESC`],
  ],
}

/**
 * The number of listings a browse matches, when its filters are at most one tag, a price range and
 * in-stock (none of them also counts): the sum of listing_counts (migration 009) over the prices in
 * the range, one row per distinct price instead of one per listing. Null for other filters.
 */
async function countBrowse(q: Queryable, f: SearchFilters): Promise<number | null> {
  const tags = f.tags ?? []
  if (f.storeId !== undefined || f.author !== undefined || tags.length > 1) return null
  const where = [tags[0] === undefined ? sql`kind = 'a' AND tag = ''` : sql`kind = 't' AND tag = ${tags[0]}`]
  if (f.minPrice !== undefined) where.push(sql`price >= ${f.minPrice}`)
  if (f.maxPrice !== undefined) where.push(sql`price <= ${f.maxPrice}`)
  const r = await query<{ n: number }>(
    q,
    sql`SELECT coalesce(sum(${f.inStock ? sql`in_stock` : sql`listings`}), 0)::int AS n FROM listing_counts
      WHERE ${sql.join(where, sql` AND `)}`,
  )
  return r.rows[0]?.n ?? 0
}

/** The filters of a search, as conditions over listings l. */
function filterSql(f: SearchFilters): Sql[] {
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

/**
 * A query's text match and score, typo matches included: a listing matches when it matches the
 * widened query (each word or one of its typo candidates); one that also matches exactly has its
 * exact score, any other its widened score minus TYPO_PENALTY, so that it ranks below every exact
 * match. `exact` is the exact match (null without typos), which orders the groups in other sorts.
 */
function typoTextSql(t: TextQuery): { match: Sql; score: Sql; exact: Sql | null } {
  const exact = textSql(t)
  if (!t.typos) return { ...exact, exact: null }
  const wide = textSql(t.typos.widened)
  return {
    match: wide.match,
    score: sql`(CASE WHEN ${exact.match} THEN ${exact.score} ELSE ${wide.score} - ${sql.literal(TYPO_PENALTY)} END)`,
    exact: exact.match,
  }
}

/**
 * The typo matches alone (matching the widened query but not the exact one) and their score. The
 * index is asked for the widened words together with the candidates (`(python | pyhton) & python`),
 * so that GIN reads the candidates' entries and skips through a common word's.
 */
function typoGroupSql(t: TextQuery, typos: TypoQuery): { match: Sql; score: Sql } {
  const needsTypo = {
    ...typos.widened,
    words: `(${typos.widened.words}) & (${typos.candidates})`,
    substring: null,
  }
  const exact = textSql(t)
  return {
    match: sql`(${textSql(needsTypo).match} AND NOT ${exact.match})`,
    score: sql`(${textSql(typos.widened).score} - ${sql.literal(TYPO_PENALTY)})`,
  }
}

/**
 * The listings a search matches, as conditions over listings l (all filters and the text, typo
 * matches included), and the score of a match: the one definition of a match, for the page and for
 * the facets.
 */
export function matchSql(
  text: TextQuery | undefined,
  f: SearchFilters,
): { where: Sql[]; score: Sql; exact: Sql | null } {
  const where = filterSql(f)
  if (!text) return { where, score: sql`0::float8`, exact: null }
  const t = typoTextSql(text)
  where.push(t.match)
  return { where, score: t.score, exact: t.exact }
}

/** The tables a sort reads: the sales count and the ratings live in tables of their own (migrations 005 and 011). */
function fromSql(sort: Sort): Sql {
  return sort === 'sales_desc'
    ? sql`listings l JOIN listing_sales ls ON ls.store_id = l.store_id AND ls.book_id = l.book_id`
    : sort === 'rating_desc'
      ? sql`listings l JOIN listing_ratings lr ON lr.store_id = l.store_id AND lr.book_id = l.book_id`
      : sql`listings l`
}

const whereOf = (where: Sql[]) => (where.length > 0 ? sql`WHERE ${sql.join(where, sql` AND `)}` : sql.empty)

/**
 * One page of the listings meeting `where`, in the request's order, and their exact number. A keyword
 * search visits every match anyway (to rank them, or to filter the text), so the total is counted in
 * the same pass; only a page past the end needs a separate count. The matches are first cut down to
 * their key, score and sort keys, so that the window counting them buffers those and not whole rows
 * with their vectors (which spills to disk on common words); the page's rows are then read by key.
 * `group` (true for exact matches), when given, orders the matches before a sort other than relevance
 * does (by relevance the score already ranks typo matches last).
 */
async function searchByStatement(
  q: Queryable,
  req: SearchRequest,
  where: Sql[],
  score: Sql,
  group: Sql | null = null,
): Promise<{ total: number; hits: SearchHit[] }> {
  const whereSql = whereOf(where)
  const keys: [Sql, Sql][] = [
    ...(group && req.sort !== 'relevance' ? [[group, sql` DESC`] as [Sql, Sql]] : []),
    ...(req.sort === 'relevance' ? [] : SORT_KEYS[req.sort]),
  ]
  const keyCols = sql.join(
    keys.map(([col], i) => sql`, ${col} AS ${sql.ident(`k${i}`)}`),
    sql.empty,
  )
  const by = (alias: 'm' | 'p') =>
    req.sort === 'relevance'
      ? sql`${sql.ident(alias)}.score DESC, ${sql.ident(alias)}.doc DESC`
      : sql.join(keys.map(([, dir], i) => sql`${sql.ident(`${alias}.k${i}`)}${dir}`))
  const r = await query<SearchHit & { total: number }>(
    q,
    sql`SELECT ${HIT_COLUMNS}, p.score, p.total FROM (
         SELECT m.*, count(*) OVER ()::int AS total FROM (
           SELECT l.doc, ${score}::float8 AS score${keyCols} FROM ${fromSql(req.sort)} ${whereSql} OFFSET 0) m
          ORDER BY ${by('m')} LIMIT ${req.limit} OFFSET ${req.offset}) p
         JOIN listings l ON l.doc = p.doc
        ORDER BY ${by('p')}`,
  )
  if (r.rows.length === 0) return { total: req.offset === 0 ? 0 : await countWhere(q, where), hits: [] }
  const total = r.rows[0]?.total ?? 0
  return { total, hits: r.rows.map(({ total: _, ...hit }) => hit) }
}

async function countWhere(q: Queryable, where: Sql[]): Promise<number> {
  const r = await query<{ n: number }>(q, sql`SELECT count(*)::int AS n FROM listings l ${whereOf(where)}`)
  return r.rows[0]?.n ?? 0
}

/**
 * A query with typo candidates whose exact form has a faster plan (postings or bitmaps), or that has
 * a substituted form: the exact matches are paged by their plan, and the typo matches (typoGroupSql)
 * follow them; they are only read when the page reaches past the exact matches, else only counted.
 * The total is the sum of both counts, the two groups being disjoint. With no exact match, a
 * substituted query (one word misspelt, one candidate) is answered by its own plan instead.
 */
async function searchWithTypos(
  q: Queryable,
  req: SearchRequest,
  text: TextQuery,
  typos: TypoQuery,
): Promise<{ total: number; hits: SearchHit[] }> {
  const exact = await searchListings(q, { ...req, text: { ...text, typos: null } })
  if (exact.total === 0 && typos.substituted) {
    const found = await searchListings(q, { ...req, text: typos.substituted })
    return { total: found.total, hits: found.hits.map((h) => ({ ...h, score: h.score - TYPO_PENALTY })) }
  }
  const group = typoGroupSql(text, typos)
  const where = [...filterSql(req.filters), group.match]
  const room = req.limit - exact.hits.length
  if (room === 0)
    return { total: exact.total + (await countTypoGroup(q, req, text, typos, where)), hits: exact.hits }
  const offset = Math.max(0, req.offset - exact.total)
  const found = await searchByStatement(q, { ...req, offset, limit: room }, where, group.score)
  return { total: exact.total + found.total, hits: [...exact.hits, ...found.hits] }
}

/**
 * The number of typo matches (`where`: typoGroupSql's match with the filters). For one word over every
 * field with no filter, they are the listings holding a candidate but not the word, anywhere: counted
 * from the words' bitmaps of kind 'w' (migration 010), the candidates' ORed less the word's, block by
 * block, instead of visiting every listing of a common candidate. Any other query is counted by the
 * statement.
 */
async function countTypoGroup(
  q: Queryable,
  req: SearchRequest,
  text: TextQuery,
  typos: TypoQuery,
  where: Sql[],
): Promise<number> {
  const [word, ...more] = typos.widened.terms
  const candidates = word?.typos ?? []
  const oneWordAnywhere =
    text.postings?.allFields === true &&
    text.substring === null &&
    more.length === 0 &&
    word !== undefined &&
    !word.parts &&
    word.text === text.postings.term &&
    candidates.length > 0 &&
    filterSql(req.filters).length === 0
  if (!oneWordAnywhere) return countWhere(q, where)
  const r = await query<{ n: number }>(
    q,
    sql`SELECT coalesce(sum(bit_count(CASE WHEN e.bits IS NULL THEN c.bits ELSE c.bits & ~e.bits END)), 0)::int AS n
          FROM (SELECT block, bit_or(bits) AS bits FROM search_bitmaps
                 WHERE kind = 'w' AND key = ANY(${candidates}::text[]) GROUP BY block) c
          LEFT JOIN search_bitmaps e ON e.kind = 'w' AND e.key = ${word.text} AND e.block = c.block`,
  )
  return r.rows[0]?.n ?? 0
}

/**
 * One page of matching listings and the exact number of matches. Filters and the text match are all
 * in the WHERE clause, so paging happens after filtering; every order ends with a unique key, so
 * pages are stable. All statements read one snapshot.
 */
export async function searchListings(
  q: Queryable,
  req: SearchRequest,
): Promise<{ total: number; hits: SearchHit[] }> {
  const f = req.filters
  const tags = f.tags ?? []
  const noOthers =
    f.author === undefined && f.minPrice === undefined && f.maxPrice === undefined && !f.inStock
  const pq = req.text?.postings
  const bq = req.text?.bitmaps
  const typos = req.text?.typos
  // Typo matches follow the exact ones: a faster plan of the exact query still pages those.
  if (req.text && typos && (pq || bq || typos.substituted)) return searchWithTypos(q, req, req.text, typos)
  // One term by rating, with no filter but perhaps a store: its postings joined to the ratings.
  if (noOthers && req.sort === 'rating_desc' && pq && tags.length === 0)
    return searchPostings(q, pq, req, f.storeId)
  if (noOthers && req.sort === 'relevance') {
    if (pq?.allFields) {
      if (tags.length === 0) return searchPostings(q, pq, req, f.storeId)
      const tagged = f.storeId === undefined ? await searchTagged(q, pq, tags, req) : null
      if (tagged) return tagged
    } else if (bq && f.storeId === undefined) return searchBitmaps(q, bq, tags, req)
    else if (pq && tags.length === 0) return searchPostings(q, pq, req, f.storeId)
  }
  const { where, score, exact } = matchSql(req.text, f)
  if (req.text) return searchByStatement(q, req, where, score, exact)
  // Browsing follows an index in sort order and stops after the page: the total is a separate count.
  const order =
    req.sort === 'relevance'
      ? sql`l.created_at DESC, l.store_id, l.book_id`
      : sql.join(SORT_KEYS[req.sort].map(([col, dir]) => sql`${col}${dir}`))
  const total = (await countBrowse(q, f)) ?? (await countWhere(q, where))
  if (total <= req.offset) return { total, hits: [] }
  const r = await query<SearchHit>(
    q,
    sql`SELECT ${HIT_COLUMNS}, ${score}::float8 AS score FROM ${fromSql(req.sort)} ${whereOf(where)} ORDER BY ${order} LIMIT ${req.limit} OFFSET ${req.offset}`,
  )
  return { total, hits: r.rows }
}
