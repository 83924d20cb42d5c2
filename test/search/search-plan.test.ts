/**
 * The planner's table: which plan each kind of request gets. The executors' answers are compared with
 * the statement's elsewhere (search-bitmaps, search-one-term, search-typos); this pins the choice.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Sort } from '../../src/api/catalog.ts'
import { planSearch, type SearchFilters, type SearchPlan } from '../../src/search/plan.ts'
import { parseScope, textQuery } from '../../src/search/query.ts'
import { segmenter } from '../../src/search/segmenter.ts'

interface Row {
  q?: string
  scope?: string
  filters?: SearchFilters
  sort?: Sort
  /** Typo candidates of the query's words. */
  typos?: Record<string, string[]>
  /** Words the vocabulary says no listing holds. */
  absent?: string[]
  /** The plan's kind and the parts of it that matter here. */
  plan: string
}

/** A plan as one line: its kind and what decides how it runs. */
function describe(p: SearchPlan): string {
  switch (p.kind) {
    case 'browse':
      return `browse counted from ${p.count}`
    case 'bitmaps':
      return `bitmaps by ${p.order}${p.excluding ? ' less the exact' : ''}${p.tags.length > 0 ? ` tags ${p.tags.join('+')}` : ''}${p.storeId ? ` store ${p.storeId}` : ''}`
    case 'statement':
      return 'statement'
    case 'typos':
      return `typos: exact ${p.exact ? describe(p.exact) : 'none'}; substituted ${p.substituted ? describe(p.substituted) : 'none'}; typo matches ${describe(p.typoMatches)}`
  }
}

const TABLE: Row[] = [
  // No text: browse.
  { plan: 'browse counted from bitmaps' },
  { filters: { minPrice: 100 }, plan: 'browse counted from listing_counts' },
  { filters: { inStock: true }, plan: 'browse counted from listing_counts' },
  {
    filters: { tags: ['小说'], minPrice: 100, maxPrice: 900, inStock: true },
    plan: 'browse counted from listing_counts',
  },
  { filters: { tags: ['小说'] }, sort: 'rating_desc', plan: 'browse counted from bitmaps' },
  { filters: { tags: ['小说', '历史'] }, plan: 'browse counted from bitmaps' },
  { filters: { tags: ['小说', '小说'], inStock: true }, plan: 'browse counted from listing_counts' },
  { filters: { storeId: 's1' }, plan: 'browse counted from bitmaps' },
  { filters: { storeId: 's1', tags: ['小说'] }, sort: 'price_asc', plan: 'browse counted from bitmaps' },
  { filters: { storeId: 's1', maxPrice: 900 }, plan: 'browse counted from listings' },
  { filters: { tags: ['小说', '历史'], inStock: true }, plan: 'browse counted from listings' },
  { filters: { author: '鲁迅' }, sort: 'price_asc', plan: 'browse counted from listings' },
  { sort: 'rating_desc', plan: 'browse counted from bitmaps' },
  // Up to three words, by relevance or rating, tags and a store at most: bitmaps.
  { q: '心灵', plan: 'bitmaps by relevance' },
  { q: 'python', plan: 'bitmaps by relevance' },
  { q: '心灵 城市', plan: 'bitmaps by relevance' },
  { q: '心灵 城市 历史', plan: 'bitmaps by relevance' },
  { q: '外国文学', plan: 'bitmaps by relevance' }, // one word widened to its parts
  { q: '心灵', filters: { tags: ['小说', '小说'] }, plan: 'bitmaps by relevance tags 小说' },
  { q: '心灵', filters: { storeId: 's1', tags: ['历史'] }, plan: 'bitmaps by relevance tags 历史 store s1' },
  { q: '心灵', sort: 'rating_desc', plan: 'bitmaps by rating' },
  { q: '心灵', scope: 'title', plan: 'bitmaps by relevance' },
  { q: '心灵', scope: 'tags', plan: 'bitmaps by relevance' },
  { q: '心灵', scope: 'author,tags', plan: 'bitmaps by relevance' },
  { q: '心灵', scope: 'title', plan: 'bitmaps by relevance' },
  { q: '的心', scope: 'title', plan: 'bitmaps by relevance' }, // a two-character substring: one title pair
  // Everything else: the statement.
  { q: '心灵', sort: 'price_asc', plan: 'statement' },
  { q: '心灵', sort: 'sales_desc', plan: 'statement' },
  { q: '心灵', filters: { minPrice: 100 }, plan: 'statement' },
  { q: '心灵', filters: { inStock: true }, plan: 'statement' },
  { q: '心灵', filters: { author: '鲁迅' }, plan: 'statement' },
  { q: '心灵 城市 历史 小说', plan: 'statement' }, // four words
  { q: '心灵', scope: 'author', plan: 'statement' },
  { q: '心灵', scope: 'book_intro', plan: 'statement' },
  { q: '心灵', scope: 'title,content', plan: 'statement' },
  { q: '心', plan: 'statement' }, // one character: titles holding it, which no bitmap records
  { q: '的心灵', scope: 'title', plan: 'statement' }, // a three-character substring
  // Typos: the exact query's plan, then the typo matches.
  {
    q: 'pyhton',
    typos: { pyhton: ['python'] },
    plan: 'typos: exact bitmaps by relevance; substituted bitmaps by relevance; typo matches bitmaps by relevance less the exact',
  },
  {
    q: 'pyhton',
    typos: { pyhton: ['python', 'pylon'] },
    plan: 'typos: exact bitmaps by relevance; substituted none; typo matches bitmaps by relevance less the exact',
  },
  {
    q: 'pyhton',
    filters: { tags: ['编程'] },
    typos: { pyhton: ['python'] },
    plan: 'typos: exact bitmaps by relevance tags 编程; substituted bitmaps by relevance tags 编程; typo matches bitmaps by relevance less the exact tags 编程',
  },
  {
    q: 'pyhton 编程',
    typos: { pyhton: ['python'] },
    plan: 'typos: exact bitmaps by relevance; substituted bitmaps by relevance; typo matches bitmaps by relevance less the exact',
  },
  {
    q: 'pyhton',
    filters: { minPrice: 100 },
    typos: { pyhton: ['python'] },
    plan: 'typos: exact statement; substituted statement; typo matches statement',
  },
  // A word in no listing: no exact match is looked for.
  {
    q: 'pyhton',
    typos: { pyhton: ['python'] },
    absent: ['pyhton'],
    plan: 'typos: exact none; substituted bitmaps by relevance; typo matches bitmaps by relevance less the exact',
  },
  {
    q: 'pyhton 编程',
    typos: { pyhton: ['python', 'pylon'] },
    absent: ['pyhton'],
    plan: 'typos: exact none; substituted none; typo matches bitmaps by relevance less the exact',
  },
  {
    q: 'pyhton',
    filters: { minPrice: 100 },
    typos: { pyhton: ['python'] },
    absent: ['pyhton'],
    plan: 'typos: exact none; substituted statement; typo matches statement',
  },
  // No faster plan for the exact query and no single substitute: one statement, widened.
  { q: 'pyhton', filters: { minPrice: 100 }, typos: { pyhton: ['python', 'pylon'] }, plan: 'statement' },
]

test('each kind of request gets its plan', () => {
  const seg = segmenter()
  for (const row of TABLE) {
    const scope = parseScope(row.scope)
    assert.ok(scope)
    const text =
      row.q === undefined
        ? undefined
        : textQuery(seg, row.q, scope, {
            candidates: new Map(Object.entries(row.typos ?? {})),
            absent: new Set(row.absent ?? []),
          })
    const plan = planSearch({
      text,
      filters: row.filters ?? {},
      sort: row.sort ?? 'relevance',
      limit: 20,
      offset: 0,
    })
    assert.equal(describe(plan), row.plan, JSON.stringify(row))
    assert.ok(plan.why.length > 0)
  }
})

test('the statement says why it was chosen', () => {
  const seg = segmenter()
  const all = parseScope(undefined) as Set<never>
  const why = (q: string, scope = all) =>
    planSearch({ text: textQuery(seg, q, scope), filters: {}, sort: 'relevance', limit: 20, offset: 0 }).why
  assert.match(why('心灵 城市 历史 小说'), /more than three words/)
  assert.match(why('心', parseScope('title') as Set<never>), /substring of one or three characters/)
  assert.match(why('心灵', parseScope('content') as Set<never>), /scope/)
})
