import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { insertListings, type NewListing } from '../../src/repositories/listings.ts'
import { type SearchHit, type SearchRequest, searchListings } from '../../src/repositories/search.ts'
import { findTypoCandidates } from '../../src/repositories/typos.ts'
import { planSearch } from '../../src/search/plan.ts'
import { parseScope, queryWords, type ScopeField, textQuery } from '../../src/search/query.ts'
import { segmenter } from '../../src/search/segmenter.ts'
import {
  MAX_TYPO_CANDIDATES,
  oneEditApart,
  oneEditVariants,
  pickCandidates,
  TYPO_MIN_LETTERS,
  typoEligible,
} from '../../src/search/typos.ts'
import { syntheticListing } from '../../tools/catalog/synthetic.ts'
import { newStore, newUser, startApp, type TestApp } from '../support/helpers.ts'
import { allPages, byStatement, type Page, search } from '../support/search-fixtures.ts'

// Typo tolerance (src/search/typos.ts): a Latin word of 5+ letters also matches the vocabulary's
// words one edit away, every such listing ranked below every exact match. The fast plans (bitmaps for the
// exact matches, then the typo matches) must answer what the one tsvector statement answers, and that what a
// plain scan of the listings' words with the same one-edit rule finds.
const N = 300
let t: TestApp
let stores: string[]
let books: NewListing[]

const hand = (id: string, storeId: string, over: Partial<NewListing>): NewListing => ({
  ...syntheticListing(0, { storeIds: [storeId] }),
  bookId: id,
  author: null,
  tags: [],
  bookIntro: null,
  content: null,
  ...over,
})

before(async () => {
  t = await startApp()
  const seller = await newUser(t.app, 'seller')
  stores = [await newStore(t.app, seller), await newStore(t.app, seller)]
  const [s0, s1] = stores as [string, string]
  books = Array.from({ length: N }, (_, i) => syntheticListing(i, { storeIds: stores, seed: 5 }))
  books.push(
    hand('flask-1', s0, { title: 'Flask 实战' }),
    hand('flask-2', s1, { title: 'Flask 入门' }),
    // Twice in its title: without the typo penalty it would outrank the exact matches.
    hand('flasks-1', s0, { title: 'Flasks 与 flasks 指南' }),
    hand('flasks-2', s1, { title: 'Flasks 手册' }),
    hand('flasks-3', s1, { title: '容器', author: 'Flasks' }),
    hand('flack', s0, { title: '案卷', bookIntro: 'a flack of critics' }),
    hand('java', s0, { title: 'Java 编程' }),
    hand('python-1', s0, { title: 'Python 入门' }),
    hand('python-2', s1, { title: 'Python Cookbook' }),
    hand('kotlin', s1, { title: '无题', tags: ['kotlin'] }),
    // A word and its neighbour in one listing: an exact match, not a typo match.
    hand('rustacean-1', s0, { title: 'Rustacean 指南' }),
    hand('rustacean-2', s1, { title: 'Rustacean 与 Rustaceans' }),
    hand('rustaceans', s1, { title: 'Rustaceans 手册' }),
  )
  await t.db.transaction(async (tx) => {
    for (let i = 0; i < books.length; i += 150) await insertListings(tx, books.slice(i, i + 150))
  })
})
after(() => t.close())

const key = (b: { store_id: string; book_id: string }) => `${b.store_id}/${b.book_id}`

/** The request the service makes, typo candidates looked up. */
async function request(
  q: string,
  over: Partial<SearchRequest> = {},
  scope = 'title,author,tags,book_intro,content',
) {
  const fields = parseScope(scope) as Set<ScopeField>
  const candidates = await findTypoCandidates(
    t.db,
    queryWords(segmenter(), q).map((w) => w.text),
  )
  return {
    text: textQuery(segmenter(), q, fields, candidates),
    filters: {},
    sort: 'relevance',
    limit: 10,
    offset: 0,
    ...over,
  } as SearchRequest
}

/** Every page of a request, walked with the given page size, checking the totals and full pages. */
async function walk(req: SearchRequest, pageSize: number): Promise<SearchHit[]> {
  const out: SearchHit[] = []
  let total = -1
  for (let offset = 0; ; offset += pageSize) {
    const r = await searchListings(t.db, { ...req, limit: pageSize, offset })
    if (total < 0) total = r.total
    assert.equal(r.total, total, 'the same total on every page')
    out.push(...r.hits)
    if (offset + pageSize >= total) {
      assert.equal(out.length, total, 'the pages hold exactly total listings')
      return out
    }
    assert.equal(r.hits.length, pageSize, 'every page but the last is full')
  }
}

/**
 * The plain reference: the listings whose words (as the index stores them, every field) hold the
 * query word, and those that hold instead a word of the vocabulary one edit away (oneEditApart, the
 * rule the search uses). One word over every field; the vocabulary is every listing's words.
 */
function reference(word: string): { exact: Set<string>; typo: Set<string> } {
  const seg = segmenter()
  const wordsOf = (b: NewListing) =>
    new Set(
      [b.title, b.author, b.tags.join(' '), b.bookIntro, b.content].flatMap((f) => seg.documentTokens(f)),
    )
  const vocabulary = new Set(books.flatMap((b) => [...wordsOf(b)]))
  const neighbours = typoEligible(word) ? [...vocabulary].filter((v) => oneEditApart(word, v)) : []
  assert.ok(neighbours.length <= MAX_TYPO_CANDIDATES, 'the reference words have few neighbours')
  const exact = new Set<string>()
  const typo = new Set<string>()
  for (const b of books) {
    const words = wordsOf(b)
    const k = `${b.storeId}/${b.bookId}`
    if (words.has(word)) exact.add(k)
    else if (neighbours.some((n) => words.has(n))) typo.add(k)
  }
  return { exact, typo }
}

/** The order puts every exact match before every typo match, and finds exactly the reference. */
function assertGroups(keys: readonly string[], ref: { exact: Set<string>; typo: Set<string> }, what: string) {
  const e = ref.exact.size
  assert.deepEqual(new Set(keys.slice(0, e)), ref.exact, `${what}: the exact matches come first`)
  assert.deepEqual(new Set(keys.slice(e)), ref.typo, `${what}: then the typo matches`)
}

test('one edit: insertion, deletion, substitution and transposition, and only those', () => {
  const variants = oneEditVariants('python')
  for (const v of ['pyhton', 'pythn', 'pytthon', 'pithon', 'ython', 'pythona', 'xpython'])
    assert.ok(variants.includes(v), v)
  assert.ok(!variants.includes('python'), 'not the word itself')
  for (const v of variants) assert.ok(oneEditApart('python', v), v)
  for (const v of ['python', 'pyhtno', 'pthn', 'nohtyp', 'pytonh', 'javaa'])
    assert.ok(!oneEditApart('python', v), v)
  assert.ok(typoEligible('pyhton') && typoEligible('crème'))
  for (const w of ['java', 'jaav', 'python3', '12345', '美丽心灵啊', 'py thon'])
    assert.ok(!typoEligible(w), w)
})

test('the vocabulary (search_typo_term, migration 026) keeps every word a candidate can be, and only Latin words', async () => {
  // Every letter of the Latin script as this process knows it, in a word of the shortest length a
  // candidate can have (an eligible word with one letter deleted), and one letter shorter.
  const latin: string[] = []
  for (let c = 0; c <= 0x10ffff; c++)
    if ((c < 0xd800 || c > 0xdfff) && /^\p{Script=Latin}$/u.test(String.fromCodePoint(c)))
      latin.push(String.fromCodePoint(c))
  assert.ok(latin.length > 1000)
  const kept = async (words: string[]) =>
    (
      await t.db.query<{ w: string }>('SELECT w FROM unnest($1::text[]) AS w WHERE search_typo_term(w)', [
        words,
      ])
    ).rows.map((r) => r.w)
  const shortest = latin.map((l) => l.repeat(TYPO_MIN_LETTERS - 1))
  assert.deepEqual(await kept(shortest), shortest)
  assert.deepEqual(await kept(latin.map((l) => l.repeat(TYPO_MIN_LETTERS - 2))), [])
  // Every variant of eligible words, accented and not, is one the vocabulary keeps.
  const variants = ['bjørn', 'straße', 'naive', 'python'].flatMap(oneEditVariants)
  assert.deepEqual(await kept(variants), variants)
  assert.deepEqual(
    await kept(['心灵心灵', '1234', '2024年出版', 'книга', 'βιβλίο', 'abc1', 'ab cd', 'café-bar']),
    [],
  )
})

test('candidates: most frequent first, at most MAX_TYPO_CANDIDATES per word', () => {
  const found = Array.from({ length: 12 }, (_, i) => ({
    term: `abcde${String.fromCharCode(97 + i)}`,
    listings: i,
  }))
  const picked = pickCandidates(new Map([['abcde', oneEditVariants('abcde')]]), [
    ...found,
    { term: 'zzzzz', listings: 100 },
  ])
  const expected = found
    .filter((f) => f.listings > 0)
    .sort((a, b) => b.listings - a.listings)
    .slice(0, MAX_TYPO_CANDIDATES)
    .map((f) => f.term)
  assert.deepEqual(picked.get('abcde'), expected)
})

test('pyhton finds the Python titles, ranked as typo matches, marked in the title', async () => {
  const ref = reference('pyhton')
  assert.equal(ref.exact.size, 0)
  assert.ok(ref.typo.size >= 2)
  const pages = await allPages(t.app, { q: 'pyhton' }, 7)
  const got = pages.flatMap((p) => p.books)
  assert.equal(pages[0]?.total, ref.typo.size)
  assert.deepEqual(new Set(got.map(key)), ref.typo)
  for (const b of got) {
    assert.ok(b.score < 0, 'a typo match scores below every exact match')
    const [mark] = b.highlights.title
    assert.ok(mark, `${b.title} has a mark`)
    assert.equal(b.title.slice(mark[0], mark[1]).toLowerCase(), 'python')
  }
})

test('each kind of edit finds the word; a 4-letter word gets no typo matches', async () => {
  const python = reference('python').exact
  for (const q of ['pyhton', 'pythn', 'pytthon', 'pithon']) {
    const p = await allPages(t.app, { q }, 100)
    assert.deepEqual(new Set(p.flatMap((x) => x.books.map(key))), python, q)
  }
  assert.equal((await search(t.app, { q: 'java' })).total > 0, true)
  for (const q of ['jaav', 'jvaa', 'ajva', 'jaa']) assert.equal((await search(t.app, { q })).total, 0, q)
})

test('exact matches rank above typo matches on every page; totals exact', async () => {
  // flask: two exact titles; flasks (title, author) and flack (intro) are one edit away.
  const ref = reference('flask')
  assert.deepEqual([...ref.exact].sort(), [`${stores[0]}/flask-1`, `${stores[1]}/flask-2`].sort())
  assert.ok(ref.typo.size >= 4)
  for (const size of [1, 2, 3, 100]) {
    const pages = await allPages(t.app, { q: 'flask' }, size)
    const keys = pages.flatMap((p) => p.books.map(key))
    assert.equal(pages[0]?.total, ref.exact.size + ref.typo.size)
    assertGroups(keys, ref, `page size ${size}`)
    const scores = pages.flatMap((p) => p.books.map((b) => b.score))
    assert.deepEqual(
      scores,
      [...scores].sort((a, b) => b - a),
      'scores fall along the order',
    )
  }
  // The excerpt marks the candidate as found in the text.
  const flack = (await search(t.app, { q: 'flask', page_size: 100 })).books.find((b) => b.book_id === 'flack')
  const snippet = flack?.highlights.snippet
  assert.equal(snippet?.field, 'book_intro')
  assert.deepEqual(
    snippet?.marks.map(([s, e]) => snippet.text.slice(s, e)),
    ['flack'],
  )
  // Within the typo group, the usual order: title matches (tier 2) before author, then intro.
  const typoOrder = (await search(t.app, { q: 'flask', page_size: 100 })).books.slice(2).map((b) => b.book_id)
  assert.deepEqual(typoOrder.slice(-2), ['flasks-3', 'flack'])
})

test('the group check bites: typo matches first, or a lost typo match, fail it', async () => {
  const ref = reference('flask')
  const keys = (await allPages(t.app, { q: 'flask' }, 100)).flatMap((p) => p.books.map(key))
  assertGroups(keys, ref, 'as answered')
  const typoFirst = [...keys.slice(ref.exact.size), ...keys.slice(0, ref.exact.size)]
  assert.throws(() => assertGroups(typoFirst, ref, 'typo first'))
  assert.throws(() => assertGroups(keys.slice(0, -1), ref, 'one lost'))
  // … and the statement with the penalty taken away ranks a typo match first, which the check catches.
  const req = byStatement(await request('flask', { limit: 100 }))
  const flat = await searchListings(t.db, req)
  // Ordered as the statement orders, by score and then newest (highest doc) first.
  const docs = new Map(
    (
      await t.db.query<{ k: string; doc: number }>(
        `SELECT store_id || '/' || book_id AS k, doc::int FROM listings`,
      )
    ).rows.map((r) => [r.k, r.doc]),
  )
  const unpenalised = (h: SearchHit) => (h.score < 0 ? h.score + 3 : h.score)
  const noPenalty = [...flat.hits].sort(
    (a, b) => unpenalised(b) - unpenalised(a) || (docs.get(key(b)) ?? 0) - (docs.get(key(a)) ?? 0),
  )
  assert.throws(() => assertGroups(noPenalty.map(key), ref, 'no penalty'))
})

test('a page within the exact matches counts the typo matches without the listings holding both words', async () => {
  const ref = reference('rustacean')
  assert.deepEqual([ref.exact.size, ref.typo.size], [2, 1])
  const req = await request('rustacean')
  const plan = planSearch(req)
  assert.ok(
    plan.kind === 'typos' && plan.typoMatches.kind === 'bitmaps',
    'one word over every field, with a candidate',
  )
  // walk checks that every page says the same total: the first pages count the typo group alone
  // (from the bitmaps), the last one reads it.
  for (const size of [1, 2, 3]) assertGroups((await walk(req, size)).map(key), ref, `page size ${size}`)
})

test('store and scope filters apply to typo matches', async () => {
  const [s0, s1] = stores as [string, string]
  const inStore = await allPages(t.app, { q: 'flask', store_id: s1 }, 2)
  assert.deepEqual(
    inStore.flatMap((p) => p.books.map((b) => b.book_id)),
    ['flask-2', 'flasks-2', 'flasks-3'],
  )
  const byAuthor = await search(t.app, { q: 'flask', scope: 'author' })
  assert.deepEqual(ids(byAuthor), ['flasks-3'])
  const byTitle = await search(t.app, { q: 'flask', scope: 'title', store_id: s0 })
  assert.deepEqual(ids(byTitle), ['flask-1', 'flasks-1'])
  const tagged = await search(t.app, { q: 'kotlni', tag: 'kotlin' })
  assert.deepEqual(ids(tagged), ['kotlin'])
  const priced = await search(t.app, { q: 'flask', min_price: 1_000_000 })
  assert.equal(priced.total, 0)
})

const ids = (p: Page) => p.books.map((b) => b.book_id)

test('a word with no neighbours in the vocabulary is searched exactly as before', async () => {
  const req = await request('photoshop')
  assert.equal(req.text?.typos, null, 'no candidates')
  const plain = {
    ...req,
    text: textQuery(segmenter(), 'photoshop', parseScope(undefined) as Set<ScopeField>),
  }
  assert.deepEqual(req.text, plain.text)
  assert.equal(planSearch(req).kind, 'bitmaps', 'the bitmaps still answer it')
  // Chinese and short words are never looked up.
  const none = await findTypoCandidates(t.db, ['城市', 'java', '12345'])
  assert.equal(none.candidates.size + none.absent.size, 0)
})

test('every plan answers what the one statement answers, typo matches included, on every page', async () => {
  const [s0] = stores as [string]
  const cases: [string, Partial<SearchRequest>, string?][] = [
    ['flask', {}],
    ['pyhton', {}],
    ['flask', {}, 'title'],
    ['flask', {}, 'title,tags'],
    ['flassk 实战', {}],
    ['pyhton', { filters: { tags: [books[0]?.tags[0] as string] } }],
    ['flask', { filters: { storeId: s0 } }],
    ['lnuix', {}],
    ['linux', { filters: { inStock: true } }],
    ['flask', { sort: 'price_asc' }],
    ['pyhton', { sort: 'rating_desc' }],
    ['kotlni', { sort: 'pub_year_desc' }],
  ]
  let typoQueries = 0
  let substituted = 0
  for (const [q, over, scope] of cases) {
    const req = await request(q, over, scope)
    if (req.text?.typos) typoQueries++
    if (req.text?.typos?.substituted) substituted++
    const want = await walk(byStatement(req), 1000)
    for (const size of [3, 10]) {
      const got = await walk(req, size)
      assert.deepEqual(got.map(key), want.map(key), `${q} ${JSON.stringify(over)} ${scope ?? ''} by ${size}`)
      if (req.sort === 'relevance')
        assert.deepEqual(
          got.map((h) => h.score),
          want.map((h) => h.score),
        )
    }
  }
  assert.ok(typoQueries >= 10, 'most cases have typo candidates')
  assert.ok(substituted >= 4, 'some are answered by the substituted query (one word, one candidate)')
  // One word over every field: the statement equals the plain scan.
  for (const word of ['flask', 'pyhton', 'lnuix', 'kotlni']) {
    const keys = (await walk(byStatement(await request(word)), 1000)).map(key)
    assertGroups(keys, reference(word), word)
  }
})

test('facets count the typo matches too', async () => {
  const r = await search(t.app, { q: 'flask', facets: 'price,stores' })
  const f = (r as unknown as { facets: { price: { count: number }[]; stores: { count: number }[] } }).facets
  assert.equal(r.total, reference('flask').exact.size + reference('flask').typo.size)
  assert.equal(
    f.price.reduce((s, b) => s + b.count, 0),
    r.total,
  )
  assert.equal(
    f.stores.reduce((s, b) => s + b.count, 0),
    r.total,
  )
})

test('the longest query of long Latin words is looked up at once and answered', async () => {
  const words = Array.from({ length: 16 }, (_, i) => `${'abcdefghijklmnopqrstuvwxyz'.slice(i, i + 10)}flask`)
  const q = words.join(' ').slice(0, 256)
  const r = await search(t.app, { q })
  assert.equal(r.status, 200)
  assert.equal(r.total, 0)
  // One word of the longest kind the index keeps, and one with a candidate among them.
  const long = await search(t.app, { q: `${'x'.repeat(64)} flassk` })
  assert.equal(long.status, 200)
  assert.equal(long.total, 0, 'every word must match, the misspelt one through its candidate')
  // flassk: flask is one deletion away, flasks one swap away; neither matches exactly.
  const found = await search(t.app, { q: 'flassk' })
  assert.deepEqual(new Set(ids(found)), new Set(['flask-1', 'flask-2', 'flasks-1', 'flasks-2', 'flasks-3']))
})
