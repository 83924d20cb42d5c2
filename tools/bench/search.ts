/**
 * Search latency on a generated catalogue (see ../catalog/gen-catalog.ts), `npm run bench:search`
 * (options: `npm run bench:search -- --help`). Runs a fixed, seeded mix of searches through the app,
 * listening on a local port, one request at a time over a keep-alive connection (GET /search/books:
 * HTTP, routing, validation, segmentation, SQL and serialisation), and prints p50/p99 per kind of
 * query; then the same mix as plain ILIKE scans, for comparison; --slowest N lists each kind's N
 * slowest requests with their totals. DATABASE_URL picks PostgreSQL, else PGlite.
 */

import { Converter } from 'opencc-js'
import { pinyin } from 'pinyin-pro'
import { buildApp } from '../../src/app.ts'
import { DEFAULTS } from '../../src/config.ts'
import { type Sql, sql } from '../../src/db/sql.ts'
import { pinyinKey } from '../../src/search/suggest.ts'
import { oneEditVariants, typoEligible } from '../../src/search/typos.ts'
import { benchStoreId } from '../catalog/gen-catalog.ts'
import { Rng, VOCABULARY } from '../catalog/synthetic.ts'
import { openBenchDb } from './db.ts'
import { HttpClient } from './http-client.ts'

export interface SearchBenchOptions {
  perKind: number
  ilikePerKind: number
  warmup: number
  /** Stores of the generated catalogue (store-scoped queries pick one of them). */
  stores: number
  seed: number
  /** List each kind's n slowest requests (0: none). */
  slowest: number
  /** The kinds to run (default: all). */
  kinds?: string[]
}

export interface Query {
  q?: string
  scope?: string
  store_id?: string
  tag?: string
  min_price?: number
  max_price?: number
  in_stock?: boolean
  sort?: string
  page?: number
  page_size?: number
  facets?: string
  /** Sent to GET /search/suggest (q, store_id, limit) instead of /search/books. */
  suggest?: boolean
  limit?: number
}

/**
 * The nouns in traditional characters (Taiwan forms), for queries typed that way. Converted once: the
 * converter's dictionary (about 180 000 Maps) would otherwise stay in the process, and a server has
 * nothing like it, yet every full collection of the old generation has to mark it, which made the
 * requests it fell on tens of milliseconds slower.
 */
const TRADITIONAL_NOUNS: readonly string[] = (() => {
  const toTraditional = Converter({ from: 'cn', to: 'tw' })
  return VOCABULARY.nouns.map((noun) => toTraditional(noun))
})()
/** The catalogue's Latin words that get typo candidates. */
const LATIN_WORDS = VOCABULARY.latin.map((w) => w.toLowerCase()).filter(typoEligible)
/** One of them with one random edit. */
const misspelt = (r: Rng) => r.pick(oneEditVariants(r.pick(LATIN_WORDS)))

/** The kinds of query, each a generator of requests; `stores` is the catalogue's store count (also the page benchmark's). */
export const kindsOf = (stores: number): Record<string, (r: Rng) => Query> => ({
  one_word: (r) => ({ q: r.pick(VOCABULARY.nouns) }),
  two_words: (r) => ({ q: `${r.pick(VOCABULARY.nouns)} ${r.pick(VOCABULARY.tags)}` }),
  tag_scoped: (r) => ({ q: r.pick(VOCABULARY.tags), scope: 'tags' }),
  word_and_tag: (r) => ({ q: r.pick(VOCABULARY.nouns), tag: r.pick(VOCABULARY.tags) }),
  store_scoped: (r) => ({ q: r.pick(VOCABULARY.nouns), store_id: benchStoreId(r.int(stores)) }),
  // Two characters across a word boundary (的 + the start of a noun): found by the title substring rule.
  short_title: (r) => ({ q: `的${r.pick(VOCABULARY.nouns).slice(0, 1)}`, scope: 'title' }),
  deep_page: (r) => ({ q: r.pick(VOCABULARY.nouns), page: 50, page_size: 20 }),
  // Typos (src/search/typos.ts): a Latin word of the catalogue with one random edit, alone (no exact
  // match: its listings are all typo matches) and with a noun; and the word spelt right (the candidate
  // lookup finds nothing, and the bitmaps answer as for one_word).
  typo: (r) => ({ q: misspelt(r) }),
  typo_two_words: (r) => ({ q: `${misspelt(r)} ${r.pick(VOCABULARY.nouns)}` }),
  latin_word: (r) => ({ q: r.pick(LATIN_WORDS) }),
  // sort=rating_desc (gen-catalog rates a third of the listings): the whole catalogue, one tag, one word.
  rating_browse: (r) => ({ sort: 'rating_desc', page: 1 + r.int(5) }),
  rating_tag: (r) => ({ tag: r.pick(VOCABULARY.tags), sort: 'rating_desc' }),
  rating_word: (r) => ({ q: r.pick(VOCABULARY.nouns), sort: 'rating_desc' }),
  // Facets over the whole match: a word, a tag with a price range, and the whole catalogue (every
  // listing counted, the exact bound's worst case at 100 000).
  facets_word: (r) => ({ q: r.pick(VOCABULARY.nouns), facets: 'tags,price,stores' }),
  facets_filter: (r) => {
    const min = 500 + r.int(15_000)
    return {
      tag: r.pick(VOCABULARY.tags),
      min_price: min,
      max_price: min + 5000,
      facets: 'tags,price,stores',
    }
  },
  facets_all: () => ({ facets: 'tags,price,stores' }),
  // The search box's completions (GET /search/suggest): the first one or two characters of a title
  // word, and the start (2–6 letters) of its pinyin.
  suggest: (r) => {
    const noun = r.pick(VOCABULARY.nouns)
    const q = r.int(2) === 0 ? noun.slice(0, 1 + r.int(2)) : (pinyinKey(noun) ?? noun).slice(0, 2 + r.int(5))
    return { suggest: true, q, limit: 8 }
  },
  // Folding and pinyin (src/search/fold.ts, pinyin.ts): a title word typed in traditional characters;
  // a title word's pinyin, joined (xinling), as syllables (xin ling) or with tone numbers (xin1ling2).
  traditional: (r) => ({ q: r.pick(TRADITIONAL_NOUNS) }),
  pinyin: (r) => {
    const noun = r.pick(VOCABULARY.nouns)
    const form = r.int(3)
    const syllables = pinyin(noun, { toneType: form === 2 ? 'num' : 'none', type: 'array' })
    return { q: form === 1 ? syllables.join(' ') : syllables.join('') }
  },
  filter_only: (r) => {
    const min = 500 + r.int(15_000)
    return {
      tag: r.pick(VOCABULARY.tags),
      min_price: min,
      max_price: min + 2000,
      in_stock: true,
      sort: 'price_asc',
    }
  },
})

export function qs(q: Query): string {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(q)) if (k !== 'suggest') p.append(k, String(v))
  return p.toString()
}

/** The request of a query: a search, or the search box's suggestions. */
const urlOf = (q: Query) => `/search/${q.suggest ? 'suggest' : 'books'}?${qs(q)}`

/** A request as the slowest list shows it: its parameters, readable. */
const shown = (q: Query) => decodeURIComponent(qs(q))

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number
}

interface Results {
  ms: number[]
  totals: number[]
  urls: string[]
}

function report(title: string, results: Map<string, Results>, slowest: number) {
  console.log(`\n${title}`)
  console.log('kind            n     p50 ms   p99 ms   max ms   mean hits')
  for (const [kind, { ms, totals }] of results) {
    const mean = totals.reduce((a, b) => a + b, 0) / Math.max(totals.length, 1)
    console.log(
      `${kind.padEnd(14)} ${String(ms.length).padStart(4)} ${pct(ms, 50).toFixed(1).padStart(9)} ${pct(ms, 99)
        .toFixed(1)
        .padStart(8)} ${Math.max(...ms)
        .toFixed(1)
        .padStart(8)} ${mean.toFixed(0).padStart(11)}`,
    )
  }
  if (slowest <= 0) return
  for (const [kind, { ms, totals, urls }] of results) {
    const slow = ms.map((_, i) => i).sort((a, b) => (ms[b] as number) - (ms[a] as number))
    console.log(`slowest ${kind}:`)
    for (const i of slow.slice(0, slowest))
      console.log(`  ${(ms[i] as number).toFixed(1).padStart(8)} ms  total ${totals[i]}  ${urls[i]}`)
  }
}

/** The same request as plain SQL with ILIKE on every text field (no full-text index). */
function ilikeSql(q: Query): Sql {
  const where: Sql[] = []
  for (const w of (q.q ?? '').split(' ').filter(Boolean)) {
    // One parameter for the word in every field it is looked for in.
    const p = sql.bind(`%${w}%`)
    const fields =
      q.scope === 'tags'
        ? [sql`array_to_string(tags, ' ') ILIKE ${p}`]
        : q.scope === 'title'
          ? [sql`title ILIKE ${p}`]
          : [sql`title`, sql`author`, sql`array_to_string(tags, ' ')`, sql`book_intro`, sql`content`].map(
              (f) => sql`${f} ILIKE ${p}`,
            )
    where.push(sql`(${sql.join(fields, sql` OR `)})`)
  }
  if (q.store_id) where.push(sql`store_id = ${q.store_id}`)
  if (q.tag) where.push(sql`tags @> ARRAY[${q.tag}::text]`)
  if (q.min_price !== undefined) where.push(sql`price >= ${q.min_price}`)
  if (q.max_price !== undefined) where.push(sql`price <= ${q.max_price}`)
  if (q.in_stock) where.push(sql`stock_level > 0`)
  const size = q.page_size ?? 20
  const offset = ((q.page ?? 1) - 1) * size
  const order =
    q.sort === 'price_asc' ? sql`price, store_id, book_id` : sql`created_at DESC, store_id, book_id`
  return sql`SELECT store_id, book_id, title, price, count(*) OVER () AS total FROM listings
            ${where.length ? sql`WHERE ${sql.join(where, sql` AND `)}` : sql.empty} ORDER BY ${order} LIMIT ${sql.literal(size)} OFFSET ${sql.literal(offset)}`
}

/** The kinds to run: all of them, or those --kinds names. */
function selectKinds(o: SearchBenchOptions): [string, (r: Rng) => Query][] {
  const known = kindsOf(o.stores)
  const all = Object.entries(known)
  if (!o.kinds) return all
  const names = o.kinds
  const unknown = names.filter((n) => !(n in known))
  if (unknown.length > 0)
    throw new Error(`--kinds: unknown ${unknown.join(', ')}; known: ${Object.keys(known).join(', ')}`)
  return all.filter(([name]) => names.includes(name))
}

export async function benchSearch(
  o: SearchBenchOptions,
  env: Record<string, string | undefined>,
): Promise<void> {
  const selected = selectKinds(o)
  const { db, where } = await openBenchDb(env, { asServer: true })
  const n = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM listings')).rows[0]?.n ?? 0
  console.log(`search benchmark: ${where}, ${n} listings, ${o.perKind} queries per kind`)
  const app = await buildApp({ config: { ...DEFAULTS, logLevel: 'silent' }, db, logger: false })
  // Over a socket, as clients reach a server. app.inject (light-my-request) kept every finished
  // request's objects alive until a full collection: each young collection moved ~2.7 MB of them to
  // the old generation, which no server's socket does (3 kB a collection for the same route over
  // HTTP), and the full collections that followed fell on whichever kind was running.
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('the app is not listening on a port')
  const http = new HttpClient(`http://127.0.0.1:${address.port}`)
  // A server reads the facets' columns ahead once, at start: measured after that, as it runs for hours.
  const reading = performance.now()
  process.stderr.write('  reading the facets columns ahead…')
  await app.services.catalog.facetsReadAhead()
  process.stderr.write(` ${((performance.now() - reading) / 1000).toFixed(1)} s\n`)

  const fts = new Map<string, Results>()
  const rngs = new Map(selected.map(([kind]) => [kind, new Rng(o.seed * 1000 + kind.length)]))
  const send = async (query: Query) => {
    const url = urlOf(query)
    const t0 = performance.now()
    const reply = await http.get(url)
    const ms = performance.now() - t0
    const body = reply.body.toString()
    if (reply.status !== 200) throw new Error(`${url}: ${reply.status} ${body}`)
    return { body: JSON.parse(body) as { total?: number; suggestions?: unknown[] }, ms }
  }
  // Every kind's warm-up first, so that the first kind measured does not also pay for warming the
  // process and the database's caches up for the others.
  for (const [kind, make] of selected)
    for (let i = 0; i < o.warmup; i++) await send(make(rngs.get(kind) as Rng))
  for (const [kind, make] of selected) {
    const r = rngs.get(kind) as Rng
    const res: Results = { ms: [], totals: [], urls: [] }
    for (let i = 0; i < o.perKind; i++) {
      const query = make(r)
      const { body, ms } = await send(query)
      res.ms.push(ms)
      res.totals.push(body.total ?? body.suggestions?.length ?? 0)
      res.urls.push(shown(query))
    }
    fts.set(kind, res)
    process.stderr.write(`  ${kind} done\n`)
  }
  report('full-text search (GET /search/books):', fts, o.slowest)

  if (o.ilikePerKind > 0) {
    const scan = new Map<string, Results>()
    // Suggestions and facets have no ILIKE counterpart.
    for (const [kind, make] of selected.filter(
      ([k]) => !k.startsWith('suggest') && !k.startsWith('facets'),
    )) {
      const r = new Rng(o.seed * 1000 + kind.length)
      const res: Results = { ms: [], totals: [], urls: [] }
      for (let i = 0; i < o.ilikePerKind + 2; i++) {
        const query = make(r)
        const { text, values } = ilikeSql(query).compile()
        const t0 = performance.now()
        const rows = await db.query<{ total: number }>(text, values)
        const ms = performance.now() - t0
        if (i < 2) continue
        res.ms.push(ms)
        res.totals.push(rows.rows[0]?.total ?? 0)
        res.urls.push(shown(query))
      }
      scan.set(kind, res)
      process.stderr.write(`  ${kind} (ILIKE) done\n`)
    }
    report(`plain ILIKE scans (SQL only), ${o.ilikePerKind} queries per kind:`, scan, o.slowest)
  }
  http.close()
  await app.close()
  await db.close()
}
