/**
 * The SQL the dynamic statements send, committed under src/repositories/__sql__/ so that a reviewer
 * sees in a diff what a change does to it. Each case runs a repository function against a small
 * catalogue on a fresh in-memory database and records every statement it sends (text and values),
 * in order. `npm run sql-snapshots` writes the files; test/db/sql-snapshots.test.ts fails when the code
 * and the files disagree.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Sort } from '../src/api/catalog.ts'
import type { Db, Queryable, QueryOptions, Tx } from '../src/db/db.ts'
import { migrate } from '../src/db/migrate.ts'
import { openPglite } from '../src/db/pglite.ts'
import { FacetColumns } from '../src/repositories/facet-columns.ts'
import { searchFacets } from '../src/repositories/facets.ts'
import { analyseListings, insertListings, type NewListing } from '../src/repositories/listings.ts'
import {
  cancelOrders,
  claimDueOrders,
  listBuyerOrders,
  listSellerOrders,
  lockUsersOf,
  placeOrder,
  receiveOrders,
} from '../src/repositories/orders.ts'
import { listReviews, unansweredReviews } from '../src/repositories/reviews.ts'
import { type SearchFilters, type SearchRequest, searchListings } from '../src/repositories/search.ts'
import { insertStore } from '../src/repositories/stores.ts'
import { findTypoCandidates } from '../src/repositories/typos.ts'
import { insertUser } from '../src/repositories/users.ts'
import { FACET_KINDS } from '../src/search/facets.ts'
import { type FacetPlan, planFacets, planSearch, type SearchPlan } from '../src/search/plan.ts'
import { parseScope, queryWords, textQuery } from '../src/search/query.ts'
import { segmenter } from '../src/search/segmenter.ts'
import { NO_TYPOS } from '../src/search/typos.ts'

export const SNAPSHOT_DIR = fileURLToPath(new URL('../src/repositories/__sql__/', import.meta.url))

interface Sent {
  text: string
  values: readonly unknown[]
  name: string | undefined
}

/** A connection (or transaction) that records what is sent through it. */
function recording<Q extends Queryable>(inner: Q, sent: Sent[]): Q {
  return {
    ...inner,
    query: (text: string, values?: readonly unknown[], opts?: QueryOptions) => {
      sent.push({ text, values: values ?? [], name: opts?.name })
      return inner.query(text, values, opts)
    },
    exec: (script: string) => inner.exec(script),
  } as Q
}

interface Case {
  /** What the case shows (the path through the code it takes). */
  what: string
  run(q: Queryable, tx: Tx): Promise<unknown>
}

const STORE = 'north-store'
const OTHER_STORE = 'south-store'

/** Twelve books: "river" in eight titles, "stone" in two, tags novel/poetry/history. */
function catalogue(): NewListing[] {
  const titles = [
    'River of Stone',
    'The River',
    'River Songs',
    'Quiet River',
    'River Town',
    'Night River',
    'Old River Road',
    'River Stone Bridge',
    'Mountain Letters',
    'Garden Notes',
    'Winter Harbour',
    'Salt and Sea',
  ]
  return titles.map((title, i) => ({
    storeId: i % 3 === 0 ? OTHER_STORE : STORE,
    bookId: `book-${String(i).padStart(2, '0')}`,
    title,
    author: i % 2 === 0 ? 'Ada River' : 'Lin Stone',
    publisher: null,
    originalTitle: null,
    translator: null,
    pubYear: String(1990 + i),
    pages: 100 + i,
    price: 1000 + 100 * (i % 4),
    binding: null,
    isbn: null,
    authorIntro: null,
    bookIntro: i % 4 === 0 ? 'a story of the river and the valley' : null,
    content: null,
    tags: [i % 2 === 0 ? 'novel' : 'poetry', ...(i % 3 === 0 ? ['history'] : [])],
    extra: {},
    stockLevel: i % 5,
  }))
}

const ALL_FIELDS = 'title,author,tags,book_intro,content'

async function search(
  q: Queryable,
  text: string | undefined,
  opts: {
    scope?: string
    filters?: SearchFilters
    sort?: Sort
    limit?: number
    offset?: number
    /** Typo candidates of the words: looked up in the vocabulary (true), or these. */
    typos?: true | Record<string, string[]>
  } = {},
) {
  const scope = parseScope(opts.scope ?? ALL_FIELDS)
  if (!scope) throw new Error(`bad scope ${opts.scope}`)
  const lookup =
    opts.typos === true && text !== undefined
      ? await findTypoCandidates(
          q,
          queryWords(segmenter(), text).map((w) => w.text),
        )
      : { ...NO_TYPOS, candidates: new Map(Object.entries(opts.typos ?? {})) }
  const req: SearchRequest = {
    text: text === undefined ? undefined : textQuery(segmenter(), text, scope, lookup),
    filters: opts.filters ?? {},
    sort: opts.sort ?? 'relevance',
    limit: opts.limit ?? 10,
    offset: opts.offset ?? 0,
  }
  planned = planSearch(req)
  return searchListings(q, req)
}

/** The facets of a search (total: any number within the exact bound); the plan goes in the heading. */
async function facets(q: Queryable, text: string | undefined, filters: SearchFilters, inStock?: number) {
  const scope = parseScope(ALL_FIELDS) as Set<never>
  const query = text === undefined ? undefined : textQuery(segmenter(), text, scope)
  facetPlan = planFacets({ text: query, filters })
  return searchFacets(q, new FacetColumns(), query, filters, new Set(FACET_KINDS), { total: 5, inStock })
}
let facetPlan: FacetPlan | undefined

/** The plan of the last search a case ran, named in its heading. */
let planned: SearchPlan | undefined
const planName = (p: SearchPlan): string =>
  p.kind === 'typos'
    ? `typos (exact: ${p.exact ? planName(p.exact) : 'none'}; substituted: ${p.substituted ? planName(p.substituted) : 'none'}; typo matches: ${planName(p.typoMatches)})`
    : p.kind === 'browse'
      ? `browse (counted from ${p.count})`
      : p.kind === 'bitmaps' && p.excluding
        ? 'bitmaps less the exact matches'
        : p.kind

/** Every kind of search statement: each path of searchListings, with representative parameters. */
const SEARCH_CASES: Case[] = [
  { what: 'browse, no filter, newest first', run: (q) => search(q, undefined) },
  {
    what: 'browse, one tag, a price range, in stock',
    run: (q) =>
      search(q, undefined, { filters: { tags: ['novel'], minPrice: 1000, maxPrice: 1200, inStock: true } }),
  },
  {
    what: 'browse in a store by author and tag, by price',
    run: (q) =>
      search(q, undefined, {
        filters: { storeId: STORE, author: 'ada', tags: ['novel'] },
        sort: 'price_asc',
      }),
  },
  { what: 'browse by sales', run: (q) => search(q, undefined, { sort: 'sales_desc' }) },
  { what: 'browse by rating', run: (q) => search(q, undefined, { sort: 'rating_desc' }) },
  {
    what: 'browse by year, past the end',
    run: (q) => search(q, undefined, { sort: 'pub_year_desc', offset: 50 }),
  },
  { what: 'one word, every field, whole site', run: (q) => search(q, 'river') },
  { what: 'one word, whole site, by rating', run: (q) => search(q, 'river', { sort: 'rating_desc' }) },
  { what: 'one word in one store', run: (q) => search(q, 'river', { filters: { storeId: STORE } }) },
  {
    what: 'one word in one store by rating, past the end',
    run: (q) => search(q, 'river', { filters: { storeId: STORE }, sort: 'rating_desc', offset: 50 }),
  },
  { what: 'one word in title and intro', run: (q) => search(q, 'river', { scope: 'title,book_intro' }) },
  {
    what: 'one word in the title in one store',
    run: (q) => search(q, 'river', { scope: 'title', filters: { storeId: STORE } }),
  },
  {
    what: 'one word with two tags',
    run: (q) => search(q, 'river', { filters: { tags: ['novel', 'history'] } }),
  },
  { what: 'two words', run: (q) => search(q, 'river stone') },
  {
    what: 'two words in title and tags with a tag',
    run: (q) => search(q, 'river stone', { scope: 'title,tags', filters: { tags: ['novel'] } }),
  },
  {
    what: 'two words with a price and in stock',
    run: (q) => search(q, 'river stone', { filters: { minPrice: 1000, inStock: true } }),
  },
  {
    what: 'one word in author only, by price (the split fields)',
    run: (q) => search(q, 'river', { scope: 'author', sort: 'price_desc' }),
  },
  {
    what: 'two letters (title substring) in a store, by sales, past the end',
    run: (q) => search(q, 'ri', { filters: { storeId: STORE }, sort: 'sales_desc', offset: 50 }),
  },
  {
    what: 'three words with a price, by rating',
    run: (q) => search(q, 'river stone valley', { filters: { maxPrice: 5000 }, sort: 'rating_desc' }),
  },
  {
    what: 'a typo (rivre): candidates looked up, no exact match, the one candidate (river) by its own plan',
    run: (q) => search(q, 'rivre', { typos: true }),
  },
  {
    what: 'a word with two candidates and no exact match: the typo group paged',
    run: (q) => search(q, 'rivre', { typos: { rivre: ['river', 'rover'] } }),
  },
  {
    what: 'a word with candidates, page within the exact matches: the typo matches counted',
    run: (q) => search(q, 'river', { typos: { river: ['rivers', 'rover'] }, limit: 5 }),
  },
  {
    what: "two words with a typo and a price, by price: the exact statement, then the one candidate's",
    run: (q) => search(q, 'rivre stone', { typos: true, filters: { minPrice: 1000 }, sort: 'price_asc' }),
  },
  {
    what: 'facets of one word in stock: the columns of the block read once',
    run: (q) => facets(q, 'river', { inStock: true }),
  },
  {
    what: 'facets of a tag and a price range, in stock counted by the search already',
    run: (q) => facets(q, undefined, { tags: ['history'], minPrice: 1000, maxPrice: 5000 }, 3),
  },
  { what: 'facets of every listing in a store', run: (q) => facets(q, undefined, { storeId: STORE }) },
  {
    what: 'facets of one word by an author: over the rows',
    run: (q) => facets(q, 'river', { author: 'li' }),
  },
]

const ORDER_CASES: Case[] = [
  {
    what: 'placeOrder: a batch of one for place_orders (migration 015; fixed text, prepared as place_orders)',
    run: (q) =>
      placeOrder(q, {
        orderId: 'order-1',
        buyerId: 'buyer',
        storeId: STORE,
        lines: [
          { bookId: 'book-01', count: 1 },
          { bookId: 'book-02', count: 1 },
        ],
        timeoutS: 600,
        maxTotal: 1_000_000,
        tokenHash: Buffer.from('00', 'hex'),
      }),
  },
  {
    what: 'a buyer’s orders, every status',
    run: (q) => listBuyerOrders(q, 'buyer', { status: undefined, limit: 10, offset: 0 }),
  },
  {
    what: 'a buyer’s orders, one status',
    run: (q) => listBuyerOrders(q, 'buyer', { status: 'paid', limit: 10, offset: 20 }),
  },
  {
    what: 'a seller’s orders, every store, every status',
    run: (q) => listSellerOrders(q, 'seller', undefined, { status: undefined, limit: 10, offset: 0 }),
  },
  {
    what: 'a seller’s orders, one store, one status',
    run: (q) => listSellerOrders(q, 'seller', STORE, { status: 'shipped', limit: 5, offset: 10 }),
  },
  {
    what: 'cancel by the buyer',
    run: (_, tx) => cancelOrders(tx, ['order-1'], { by: 'buyer', userId: 'buyer' }),
  },
  {
    what: 'cancel by the seller',
    run: (_, tx) => cancelOrders(tx, ['order-1'], { by: 'seller', userId: 'seller' }),
  },
  { what: 'cancel on timeout', run: (_, tx) => cancelOrders(tx, ['order-1'], { by: 'timeout' }) },
  {
    what: 'receive by the buyer',
    run: (q) => receiveOrders(q, ['order-1'], { by: 'buyer', buyerId: 'buyer' }),
  },
  {
    what: 'receive automatically',
    run: (q) => receiveOrders(q, ['order-1'], { by: 'auto', afterS: 86_400 }),
  },
]

/** Statements whose text is one of a few constants (fixed placeholders): each variant. */
const CHOICE_CASES: Case[] = [
  ...(['newest', 'rating_desc', 'rating_asc'] as const).map((sort) => ({
    what: `a listing's reviews, sort=${sort}`,
    run: (q: Queryable) => listReviews(q, STORE, 'book-01', { sort, limit: 10, offset: 0 }),
  })),
  {
    what: 'unanswered reviews, past the end: the count statement',
    run: (q) => unansweredReviews(q, 'seller', { limit: 10, offset: 20 }),
  },
  { what: 'lock the buyers of orders', run: (_, tx) => lockUsersOf(tx, ['order-1'], 'buyer') },
  { what: 'lock the store owners of orders', run: (_, tx) => lockUsersOf(tx, ['order-1'], 'seller') },
  { what: 'claim expired orders', run: (_, tx) => claimDueOrders(tx, { kind: 'expired' }, 200) },
  {
    what: 'claim orders to receive automatically',
    run: (_, tx) => claimDueOrders(tx, { kind: 'auto_receive', afterS: 86_400 }, 200),
  },
]

/** The snapshot files and the cases each holds. */
const FILES: Record<string, Case[]> = {
  'search.sql': SEARCH_CASES,
  'orders.sql': ORDER_CASES,
  'choices.sql': CHOICE_CASES,
}

async function seed(db: Db): Promise<void> {
  await insertUser(db, 'seller', 'x')
  await insertUser(db, 'buyer', 'x')
  await insertStore(db, STORE, 'seller')
  await insertStore(db, OTHER_STORE, 'seller')
  await db.transaction((tx) => insertListings(tx, catalogue()))
  // Planner statistics, so that the choice between walking the ratings and sorting sees the catalogue.
  await analyseListings(db)
}

const HEADER = `-- Generated by \`npm run sql-snapshots\` (tools/sql-snapshots.ts); do not edit.
-- The statements each case sends, in order, with their parameters.
`

/** A parameter as the file shows it: JSON, a byte string as PostgreSQL writes it. */
const shown = (v: unknown) => (Buffer.isBuffer(v) ? `'\\x${v.toString('hex')}'` : JSON.stringify(v))

function render(cases: readonly { what: string; sent: Sent[] }[]): string {
  const out = [HEADER]
  for (const c of cases) {
    out.push(`\n-- ## ${c.what}\n`)
    for (const s of c.sent) {
      const values = s.values.map((v, i) => `$${i + 1} = ${shown(v)}`).join(', ')
      out.push(
        `\n${s.name ? `-- prepared as ${s.name}\n` : ''}${values ? `-- ${values}\n` : ''}${s.text.trim()};\n`,
      )
    }
  }
  return out.join('')
}

/** Every snapshot file's name and content, as the code makes them now. */
export async function sqlSnapshots(): Promise<Map<string, string>> {
  const db = await openPglite()
  try {
    await migrate(db)
    await seed(db)
    const files = new Map<string, string>()
    for (const [file, cases] of Object.entries(FILES)) {
      const done: { what: string; sent: Sent[] }[] = []
      for (const c of cases) {
        const sent: Sent[] = []
        planned = undefined
        facetPlan = undefined
        // Each case in a transaction that is rolled back: every case sees the same catalogue.
        await db
          .transaction(async (tx) => {
            const q = recording(tx, sent)
            await c.run(q, q)
            throw ROLLBACK
          })
          .catch((err: unknown) => {
            if (err !== ROLLBACK) throw err
          })
        // Set by the case's run (the compiler cannot see that).
        const ran = facetPlan as FacetPlan | undefined
        const plan = planned ? planName(planned) : ran ? `facets from ${ran.kind}` : undefined
        done.push({ what: plan ? `${c.what} — plan: ${plan}` : c.what, sent })
      }
      files.set(file, render(done))
    }
    return files
  } finally {
    await db.close()
  }
}
const ROLLBACK = new Error('rollback')

/** `npm run sql-snapshots`: writes the files; returns the names of those that changed. */
export async function writeSqlSnapshots(): Promise<string[]> {
  mkdirSync(SNAPSHOT_DIR, { recursive: true })
  const changed: string[] = []
  for (const [file, text] of await sqlSnapshots()) {
    const path = `${SNAPSHOT_DIR}${file}`
    let old = ''
    try {
      old = readFileSync(path, 'utf8')
    } catch {}
    if (old !== text) {
      writeFileSync(path, text)
      changed.push(file)
    }
  }
  return changed
}
