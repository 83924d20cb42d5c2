import type { ApiHit } from '../api/catalog.ts'
import type { Queryable } from '../db/db.ts'
import {
  type BitmapQuery,
  type PostingsQuery,
  type TextQuery,
  TITLE_GRAM_BIT,
  type Word,
} from '../search/query.ts'

export const SORTS = [
  'relevance',
  'price_asc',
  'price_desc',
  'pub_year_desc',
  'sales_desc',
  'rating_desc',
] as const
export type Sort = (typeof SORTS)[number]

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

/** Collects parameters and hands out their $n placeholders. */
export class Params {
  readonly values: unknown[] = []
  add(value: unknown, cast = ''): string {
    this.values.push(value)
    return `$${this.values.length}${cast}`
  }
}

/**
 * The rank within a tier of a query other than one word over every field: each word adds 2 when the
 * title holds it, else 1 when author or tags do, out of 2 per word (so the rank stays below 1). The
 * bitmap search (searchBitmaps) computes the same sums from bitmaps.
 */
function levelRank(levels: NonNullable<TextQuery['levels']>, p: Params): string {
  const level = ({ title, authorTags }: (typeof levels)[number]) => {
    const when = [
      ...(title ? [`WHEN l.search_vec @@ ${p.add(title, '::tsquery')} THEN 2`] : []),
      ...(authorTags ? [`WHEN l.search_vec @@ ${p.add(authorTags, '::tsquery')} THEN 1`] : []),
    ]
    return when.length > 0 ? `CASE ${when.join(' ')} ELSE 0 END` : '0'
  }
  return `(${['0', ...levels.map(level)].join(' + ')})::float8 / ${2 * levels.length + 1}`
}

/** Each row's text match, as SQL: conditions (for WHERE) and the score expression. */
function textSql(t: TextQuery, p: Params): { match: string; score: string; matchParams: number } {
  const alternatives: string[] = []
  let words: string | null = null
  let titleHit = 'false'
  let substringHit = 'false'
  if (t.words) {
    words = p.add(t.words, '::tsquery')
    let cond = `l.search_vec @@ ${words}`
    if (t.split) {
      const parts = [`ts_filter(l.author_tags_vec, ${p.add(`{${t.split.authorOrTags}}`, '::"char"[]')})`]
      if (t.split.others.length > 0)
        parts.unshift(`ts_filter(l.search_vec, ${p.add(`{${t.split.others.join(',')}}`, '::"char"[]')})`)
      cond += ` AND (${parts.join(' || ')}) @@ ${p.add(t.split.plain, '::tsquery')}`
    }
    alternatives.push(`(${cond})`)
  }
  if (t.substring) {
    substringHit = `(l.title_grams @@ ${p.add(t.substring.grams, '::tsquery')}
      AND strpos(lower(normalize(l.title, NFKC)), ${p.add(t.substring.text)}) > 0)`
    alternatives.push(substringHit)
  }
  // Parameters added from here on are used by the score only (the count statement leaves them out).
  const matchParams = p.values.length
  // ts_rank_cd normalisation 32 maps the rank into [0, 1), below the tiers added to it.
  const rank = t.levels ? levelRank(t.levels, p) : words ? `ts_rank_cd(l.search_vec, ${words}, 32)` : '0'
  if (t.inTitle) titleHit = `l.search_vec @@ ${p.add(t.inTitle, '::tsquery')}`
  const authorTagsHit = t.inAuthorTags ? `l.search_vec @@ ${p.add(t.inAuthorTags, '::tsquery')}` : 'false'
  return {
    matchParams,
    match: alternatives.length > 0 ? `(${alternatives.join(' OR ')})` : 'false',
    // Title matches (whole words or, for short queries, a substring) rank above author/tag matches,
    // which rank above intro/content matches; within a tier, by cover density for one word over every
    // field, else by the words' levels (then newest first, by the caller's order).
    score: `(CASE WHEN ${titleHit} OR ${substringHit} THEN 2 WHEN ${authorTagsHit} THEN 1 ELSE 0 END + ${rank})`,
  }
}

/** A column of the listing's ratings (migration 011), looked up for one hit of a page. */
const rating = (column: string) =>
  `coalesce((SELECT hr.${column} FROM listing_ratings hr
              WHERE hr.store_id = l.store_id AND hr.book_id = l.book_id), 0) AS ${column}`
/** The columns of a hit, from listings l (the score comes from the caller). */
const HIT_COLUMNS = `l.store_id, l.book_id, l.title, l.author, l.publisher, l.pub_year, l.price, l.stock_level, l.tags,
  ${rating('rating_sum')}, ${rating('rating_count')}`

/** ts_rank_cd's default weights of A, B, C, D, as the float4 values it computes with. */
const RANK_WEIGHT: Record<string, string> = {
  A: '1::real::float8',
  B: '0.4::real::float8',
  C: '0.2::real::float8',
  D: '0.1::real::float8',
}

/** The page's rows (doc, score[, total]) in order, then their listings by key. */
const page = (rows: string, extra = '', order = 'p.score DESC, p.doc DESC') =>
  `SELECT ${HIT_COLUMNS}, p.score${extra} FROM (${rows}) p JOIN listings l ON l.doc = p.doc ORDER BY ${order}`

/**
 * sort=rating_desc over postings: each posting joined to its listing's ratings by doc (index
 * listing_ratings_doc, migration 011), in the order of SORT_KEYS.rating_desc.
 */
const RATED_POSTINGS = 'JOIN listing_ratings r ON r.doc = p.doc'
const RATING_COLUMNS = ', r.average, r.rating_count'
const ratingOrder = (alias: string) =>
  `${alias}.average DESC NULLS LAST, ${alias}.rating_count DESC, p.doc DESC`

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
  if (pq.allFields && storeId === undefined) {
    const total =
      (await q.query<{ n: number }>('SELECT listings AS n FROM search_terms WHERE term = $1', [pq.term]))
        .rows[0]?.n ?? 0
    if (total <= req.offset) return { total, hits: [] }
    const rows = byRating
      ? (await ratingWalkPays(q, total, req))
        ? // The ratings in order (index listing_ratings_rank), each looked up in the word's postings
          // (OFFSET 0 keeps the planner from turning the lookup into a join it would start from the postings).
          `SELECT r.doc, p.score${RATING_COLUMNS} FROM listing_ratings r
             CROSS JOIN LATERAL (SELECT p.score FROM search_postings p WHERE p.term = $1 AND p.doc = r.doc OFFSET 0) p
            ORDER BY r.average DESC NULLS LAST, r.rating_count DESC, r.doc DESC LIMIT $2 OFFSET $3`
        : // The word's postings, each looked up in the ratings, then sorted.
          `SELECT p.doc, p.score${RATING_COLUMNS} FROM search_postings p ${RATED_POSTINGS} WHERE p.term = $1
            ORDER BY ${ratingOrder('r')} LIMIT $2 OFFSET $3`
      : `SELECT doc, score FROM search_postings WHERE term = $1 ORDER BY score DESC, doc DESC LIMIT $2 OFFSET $3`
    const r = await q.query<SearchHit>(page(rows, '', byRating ? ratingOrder('p') : undefined), [
      pq.term,
      req.limit,
      req.offset,
    ])
    return { total, hits: r.rows }
  }
  // 2 in the title (as `inTitle` says it), else 1 in author or tags, each when in scope; else 0.
  const byField = (inTitle: string) =>
    `CASE WHEN ${pq.title ? inTitle : 'false'} THEN 2 WHEN ${pq.authorTags ? 'p.b > 0' : 'false'} THEN 1 ELSE 0 END`
  // The tier counts a title substring too; the word's level counts the word alone.
  const tier = byField(
    pq.fields & TITLE_GRAM_BIT ? `(p.a > 0 OR p.fields & ${TITLE_GRAM_BIT} <> 0)` : 'p.a > 0',
  )
  // From the primary key's columns (not the stored score), so that the postings are read from the index
  // alone: over every field the weighted count of positions, else the word's level (see levelRank).
  const s = Object.entries(RANK_WEIGHT)
    .map(([w, weight]) => `p.${w.toLowerCase()} * ${weight}`)
    .join(' + ')
  const rank = pq.allFields ? `((${s}) / (${s} + 1))::real` : `(${byField('p.a > 0')})::float8 / 3`
  const score = `(${tier} + ${rank})`
  const params: unknown[] = [pq.term, pq.fields]
  const rated = byRating ? RATED_POSTINGS : ''
  const rows =
    storeId === undefined
      ? `search_postings p ${rated} WHERE p.term = $1 AND p.fields & $2 <> 0`
      : `listings s JOIN search_postings p ON p.term = $1 AND p.doc = s.doc ${rated}
          WHERE s.store_id = $${params.push(storeId)} AND p.fields & $2 <> 0`
  const r = await q.query<SearchHit & { total: number }>(
    page(
      `SELECT p.doc, ${score} AS score${byRating ? RATING_COLUMNS : ''}, count(*) OVER ()::int AS total FROM ${rows}
        ORDER BY ${byRating ? ratingOrder('r') : 'score DESC, p.doc DESC'}
        LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      ', p.total',
      byRating ? ratingOrder('p') : undefined,
    ),
    [...params, req.limit, req.offset],
  )
  if (r.rows.length === 0) {
    if (req.offset === 0) return { total: 0, hits: [] }
    const c = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${rows}`, params)
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

/** Listings a block of search_bitmaps covers (migration 007). */
const BITMAP_BLOCK = 8192
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
  const p = new Params()
  const term = p.add(pq.term)
  const keys = tags.map((tag) => p.add(tag))
  const joins = keys
    .map(
      (key, i) =>
        `JOIN search_bitmaps t${i} ON t${i}.kind = 't' AND t${i}.key = ${key} AND t${i}.block = w.block`,
    )
    .join(' ')
  const and = ['w.bits', ...keys.map((_, i) => `t${i}.bits`)].join(' & ')
  // A word of two characters also matches the titles holding it as a pair (kind 'g', migration 010).
  const kinds = pq.fields & TITLE_GRAM_BIT ? `('w', 'g')` : `('w')`
  const counts = (
    await q.query<{ total: number; word: number | null }>(
      `SELECT (SELECT coalesce(sum(bit_count(${and})), 0)::int
                 FROM (SELECT block, bit_or(bits) AS bits FROM search_bitmaps
                        WHERE kind IN ${kinds} AND key = ${term} GROUP BY block) w ${joins}) AS total,
              (SELECT listings FROM search_terms WHERE term = ${term}) AS word`,
      p.values,
    )
  ).rows[0]
  const total = counts?.total ?? 0
  if (total <= req.offset) return { total, hits: [] }
  // The tags keep about total/word of the postings read, wherever the walk is.
  const word = counts?.word ?? 0
  const walk = ((req.offset + req.limit) * word) / total
  if (walk > SHORT_WALK && walk * walkCost > word + MATCH_COST * total) return null
  const kept = keys.map(
    (key) => `get_bit((SELECT b.bits FROM search_bitmaps b
                        WHERE b.kind = 't' AND b.key = ${key} AND b.block = (p.doc / ${BITMAP_BLOCK})::int),
                      (p.doc % ${BITMAP_BLOCK})::int) = 1`,
  )
  const r = await q.query<SearchHit>(
    page(`SELECT p.doc, p.score FROM search_postings p WHERE p.term = ${term} AND ${kept.join(' AND ')}
           ORDER BY p.score DESC, p.doc DESC LIMIT ${p.add(req.limit)} OFFSET ${p.add(req.offset)}`),
    p.values,
  )
  return { total, hits: r.rows }
}

/** An empty bitmap block. */
const NO_BITS = `B'0'::bit(${BITMAP_BLOCK})`

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
  const p = new Params()
  const columns: string[] = []
  const named = new Map<string, string>()
  /** The column holding a block of the bitmap of this kind and key (a fixed kind letter). */
  const col = (kind: string, key: string) => {
    const id = `${kind}\u0000${key}`
    let name = named.get(id)
    if (name === undefined) {
      name = `c${named.size}`
      named.set(id, name)
      columns.push(
        `coalesce(bit_or(b.bits) FILTER (WHERE b.kind = '${kind}' AND b.key = ${p.add(key)}), ${NO_BITS}) AS ${name}`,
      )
    }
    return name
  }
  /** The listings holding the word, itself or all its parts, in a bitmap of one of the kinds. */
  const holds = (kinds: readonly string[], w: Word) => {
    const any = (lexeme: string) => `(${kinds.map((k) => col(k, lexeme)).join(' | ')})`
    return w.parts ? `(${any(w.text)} | (${w.parts.map(any).join(' & ')}))` : any(w.text)
  }
  const n = bq.words.length
  const all = (exprs: string[]) => (exprs.length > 0 ? `(${exprs.join(' & ')})` : NO_BITS)
  const gram = bq.gram === null ? NO_BITS : col('g', bq.gram)
  const tagBits = [...new Set(tags)].map((tag) => col('t', tag))
  const match = `((${all(bq.words.flatMap((w) => bq.match.map((kinds) => holds(kinds, w))))} | ${gram})
                  ${tagBits.map((t) => `& ${t}`).join(' ')})`
  const inTitle = bq.title ? `(${all(bq.words.map((w) => holds(['A'], w)))} | ${gram})` : NO_BITS
  const inAuthorTags = bq.authorTags ? all(bq.words.map((w) => holds(['B'], w))) : NO_BITS
  // Each word's level: u (2, the title holds it) or v (1, author or tags do and the title does not).
  const levels = bq.words.flatMap((w, i) => {
    const a = bq.title ? holds(['A'], w) : NO_BITS
    return [`${a} AS u${i}`, `${bq.authorTags ? `(${holds(['B'], w)} & ~${a})` : NO_BITS} AS v${i}`]
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
    [2, 't2'],
    [1, 't1 & ~t2'],
    [0, '~(t2 | t1)'],
  ] as const
  // The sets in the order of the search: tier, then sum of levels, both from high to low. The last
  // step below holds each tier as a column z<tier>; without words, sum0 is that step.
  const sets: { bits: string; score: number }[] = []
  for (const [tier, bits] of tiers)
    for (let sum = 2 * n; sum >= 0; sum--)
      if (possible(tier, sum))
        sets.push({ bits: `(x${sum} & ${n > 0 ? `z${tier}` : bits})`, score: tier + sum / (2 * n + 1) })
  // x0…x{2i} after the first i words: the matches whose levels add up to each sum, one word at a time.
  const steps = bq.words.map((_, i) => {
    const rest = bq.words.flatMap((_, j) => (j > i ? [`, u${j}, v${j}`] : [])).join('')
    const x = Array.from({ length: 2 * i + 3 }, (_, k) => {
      const terms = [
        ...(k <= 2 * i ? [`(x${k} & ~(u${i} | v${i}))`] : []),
        ...(k >= 1 && k - 1 <= 2 * i ? [`(x${k - 1} & v${i})`] : []),
        ...(k >= 2 ? [`(x${k - 2} & u${i})`] : []),
      ]
      return `, ${terms.join(' | ')} AS x${k}`
    })
    // The last step also splits the tiers apart, once per block.
    const carried = i === n - 1 ? tiers.map(([tier, bits]) => `, ${bits} AS z${tier}`).join('') : ', t2, t1'
    return `, sum${i + 1} AS MATERIALIZED (SELECT block${carried}${rest}${x.join('')} FROM sum${i})`
  })
  const ids = [...named.keys()].map((id) => id.split('\u0000'))
  const kinds = p.add(
    ids.map(([kind]) => kind),
    '::"char"[]',
  )
  const keys = p.add(
    ids.map(([, key]) => key),
    '::text[]',
  )
  /** Per block (of the blocks `where` keeps): the words' bitmaps, the tiers and the sums, then `output`. */
  const statement = (output: string, where: string) => `
    WITH raw AS (
      SELECT b.block, ${columns.join(', ')}
        FROM unnest(${kinds}, ${keys}) AS k(kind, key)
        JOIN search_bitmaps b ON b.kind = k.kind AND b.key = k.key ${where}
       GROUP BY b.block
    ), sum0 AS MATERIALIZED (
      SELECT block, ${inTitle} AS t2, ${inAuthorTags} AS t1${levels.map((l) => `, ${l}`).join('')}, ${match} AS x0
        FROM raw
    )${steps.join('')}
    SELECT block, ${output} FROM sum${n}`
  const byBlock = (
    await q.query<{ block: number; n: number[] }>(
      statement(`ARRAY[${sets.map((x) => `bit_count(${x.bits})::int`).join(', ')}] AS n`, ''),
      p.values,
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
  const bitmaps = await q.query<{ block: number; bits: string[] }>(
    statement(
      `ARRAY[${used.map((set) => `${sets[set]?.bits}::text`).join(', ')}] AS bits`,
      `AND b.block = ANY(${p.add([...new Set(parts.map((x) => x.block))], '::int[]')})`,
    ),
    p.values,
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
  const r = await q.query<SearchHit>(
    page('SELECT * FROM unnest($1::bigint[], $2::float8[]) AS p(doc, score)'),
    [docs, scores],
    { name: 'search_listings_by_doc' },
  )
  return { total, hits: r.rows }
}

/** Sort keys (column, direction) of each sort; every order ends with the primary key. */
const SORT_KEYS: Record<Exclude<Sort, 'relevance'>, [string, string][]> = {
  price_asc: [
    ['l.price', ''],
    ['l.store_id', ''],
    ['l.book_id', ''],
  ],
  price_desc: [
    ['l.price', ' DESC'],
    ['l.store_id', ' DESC'],
    ['l.book_id', ' DESC'],
  ],
  pub_year_desc: [
    ['l.pub_year_key', ' DESC NULLS LAST'],
    ['l.store_id', ''],
    ['l.book_id', ''],
  ],
  sales_desc: [
    ['ls.sales', ' DESC'],
    ['ls.store_id', ''],
    ['ls.book_id', ''],
  ],
  // Highest average first, then more ratings, then newest; unrated listings (no average) last. The
  // index listing_ratings_rank holds this order.
  rating_desc: [
    ['lr.average', ' DESC NULLS LAST'],
    ['lr.rating_count', ' DESC'],
    ['lr.doc', ' DESC'],
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
  const p = new Params()
  const where = [tags[0] === undefined ? `kind = 'a' AND tag = ''` : `kind = 't' AND tag = ${p.add(tags[0])}`]
  if (f.minPrice !== undefined) where.push(`price >= ${p.add(f.minPrice)}`)
  if (f.maxPrice !== undefined) where.push(`price <= ${p.add(f.maxPrice)}`)
  const r = await q.query<{ n: number }>(
    `SELECT coalesce(sum(${f.inStock ? 'in_stock' : 'listings'}), 0)::int AS n FROM listing_counts
      WHERE ${where.join(' AND ')}`,
    p.values,
  )
  return r.rows[0]?.n ?? 0
}

/**
 * The listings a search matches, as conditions over listings l (all filters and the text), and the
 * score of a match: the one definition of a match, for the page and for the facets. Parameters added
 * after the first `whereParams` are used by the score only.
 */
export function matchSql(
  text: TextQuery | undefined,
  f: SearchFilters,
  p: Params,
): { where: string[]; score: string; whereParams: number } {
  const tags = f.tags ?? []
  const where: string[] = []
  if (f.storeId !== undefined) where.push(`l.store_id = ${p.add(f.storeId)}`)
  if (tags.length > 0) where.push(`l.tags @> ${p.add(tags, '::text[]')}`)
  if (f.author !== undefined)
    where.push(`strpos(lower(normalize(coalesce(l.author, ''), NFKC)), ${p.add(f.author)}) > 0`)
  if (f.minPrice !== undefined) where.push(`l.price >= ${p.add(f.minPrice)}`)
  if (f.maxPrice !== undefined) where.push(`l.price <= ${p.add(f.maxPrice)}`)
  if (f.inStock) where.push('l.stock_level > 0')
  let score = '0::float8'
  let whereParams = p.values.length
  if (text) {
    const t = textSql(text, p)
    where.push(t.match)
    score = t.score
    whereParams = t.matchParams
  }
  return { where, score, whereParams }
}

/**
 * One page of matching listings and the exact number of matches. Filters and the text match are all
 * in the WHERE clause, so paging happens after filtering; every order ends with a unique key, so
 * pages are stable. Both statements read one snapshot.
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
  const p = new Params()
  const { where, score, whereParams } = matchSql(req.text, f, p)
  const whereSql = where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''
  // The sales count and the ratings live in tables of their own (migrations 005 and 011); only their
  // sorts read them.
  const from =
    req.sort === 'sales_desc'
      ? 'listings l JOIN listing_sales ls ON ls.store_id = l.store_id AND ls.book_id = l.book_id'
      : req.sort === 'rating_desc'
        ? 'listings l JOIN listing_ratings lr ON lr.store_id = l.store_id AND lr.book_id = l.book_id'
        : 'listings l'
  const countAll = async () =>
    (
      await q.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM listings l ${whereSql}`,
        p.values.slice(0, whereParams),
      )
    ).rows[0]?.n ?? 0
  if (req.text) {
    // A keyword search visits every match anyway (to rank them, or to filter the text), so the total
    // is counted in the same pass; only a page past the end needs a separate count. The matches are
    // first cut down to their key, score and sort keys, so that the window counting them buffers
    // those and not whole rows with their vectors (which spills to disk on common words); the page's
    // rows are then read by key.
    const keys: [string, string][] = req.sort === 'relevance' ? [] : SORT_KEYS[req.sort]
    const keyCols = keys.map(([col], i) => `, ${col} AS k${i}`).join('')
    const by = (alias: string) =>
      req.sort === 'relevance'
        ? `${alias}.score DESC, ${alias}.doc DESC`
        : keys.map(([, dir], i) => `${alias}.k${i}${dir}`).join(', ')
    const limit = p.add(req.limit)
    const offset = p.add(req.offset)
    const r = await q.query<SearchHit & { total: number }>(
      `SELECT ${HIT_COLUMNS}, p.score, p.total FROM (
         SELECT m.*, count(*) OVER ()::int AS total FROM (
           SELECT l.doc, ${score}::float8 AS score${keyCols} FROM ${from} ${whereSql} OFFSET 0) m
          ORDER BY ${by('m')} LIMIT ${limit} OFFSET ${offset}) p
         JOIN listings l ON l.doc = p.doc
        ORDER BY ${by('p')}`,
      p.values,
    )
    if (r.rows.length === 0) return { total: req.offset === 0 ? 0 : await countAll(), hits: [] }
    const total = r.rows[0]?.total ?? 0
    return { total, hits: r.rows.map(({ total: _, ...hit }) => hit) }
  }
  // Browsing follows an index in sort order and stops after the page: the total is a separate count.
  const order =
    req.sort === 'relevance'
      ? 'l.created_at DESC, l.store_id, l.book_id'
      : SORT_KEYS[req.sort].map(([col, dir]) => `${col}${dir}`).join(', ')
  const columns = `${HIT_COLUMNS}, ${score}::float8 AS score`
  const total = (await countBrowse(q, f)) ?? (await countAll())
  if (total <= req.offset) return { total, hits: [] }
  const limit = p.add(req.limit)
  const offset = p.add(req.offset)
  const r = await q.query<SearchHit>(
    `SELECT ${columns} FROM ${from} ${whereSql} ORDER BY ${order} LIMIT ${limit} OFFSET ${offset}`,
    p.values,
  )
  return { total, hits: r.rows }
}
