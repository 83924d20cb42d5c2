/**
 * The search planner: one place that decides which structure answers a search request, and why.
 * `planSearch` is a pure function of the request (the text query already parsed, typo candidates
 * already looked up); each plan kind has one executor in src/repositories/search/. docs/search.md
 * describes the plans; test/search/search-plan.test.ts holds the table of requests and their plans.
 */
import type { Sort } from '../api/catalog.ts'
import { type BitmapQuery, MAX_BITMAP_WORDS, type TextQuery, type TypoQuery } from './query.ts'

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

/** Which structure answers a search. Every plan ranks by the one rule of docs/search.md. */
export type SearchPlan =
  | {
      /** No text: listings in the sort's index order, stopping after the page. */
      kind: 'browse'
      /**
       * Where the total comes from: the filters' bitmaps (or the bitmap of every listing),
       * listing_counts (a sum over prices), or a count of the listings.
       */
      count: 'bitmaps' | 'listing_counts' | 'listings'
      why: string
    }
  | {
      /**
       * From search_bitmaps. By relevance, sets of listings counted and paged block by block; by
       * rating, the match's bitmaps tested while the ratings are walked in order (a match too rare for
       * the walk to pay is sorted by the statement instead).
       */
      kind: 'bitmaps'
      order: 'relevance' | 'rating'
      query: BitmapQuery
      /**
       * The typo matches of a query: `query` is the query widened to its words' typo candidates, and
       * the listings matching this exact form are left out; their scores are lowered by TYPO_PENALTY.
       */
      excluding: BitmapQuery | null
      /** Bitmaps the match is ANDed with: the tag filters, and the store. */
      tags: readonly string[]
      storeId: string | undefined
      why: string
    }
  | {
      /** One statement over the listings' tsvector (GIN), every filter in its WHERE clause. */
      kind: 'statement'
      why: string
    }
  | {
      /**
       * Typo matches after the exact ones: the exact query's own plan pages the exact matches, and
       * the typo matches' plan pages them when the page reaches them (else only counts them).
       */
      kind: 'typos'
      typos: TypoQuery
      /** null when no listing can match exactly (TypoQuery.noExactMatch): none is looked for. */
      exact: SearchPlan | null
      /** When nothing matches exactly: the plan of the query with the misspelt word replaced. */
      substituted: SearchPlan | null
      /** The typo matches alone: from bitmaps (a bitmaps plan `excluding` the exact query), or a statement. */
      typoMatches: SearchPlan
      why: string
    }

/** The filters no bitmap holds, but listing_counts does: a price range and in-stock. */
const priceOrStock = (f: SearchFilters) =>
  f.minPrice !== undefined || f.maxPrice !== undefined || f.inStock === true

/** Filters with no bitmap: any of them sends a text search to a statement. */
const rowFilters = (f: SearchFilters) => f.author !== undefined || priceOrStock(f)

/** The tag filters, each once. */
const distinctTags = (f: SearchFilters): string[] => [...new Set(f.tags ?? [])]

/** The listings a request's tags and store allow, as a bitmap match without text (every listing if neither). */
export const filtersMatch = (f: SearchFilters): BitmapMatch => ({
  query: null,
  excluding: null,
  tags: distinctTags(f),
  storeId: f.storeId,
})

/**
 * How a browse (no text) counts its matches. Tags and a store alone: from their bitmaps, ANDed block
 * by block (every listing: the bitmap of kind 'l'), a few rows per block whatever the match's size. A
 * price range or in-stock with at most one tag and no store: from listing_counts (a row per distinct
 * price). Anything else (an author; a price range or in-stock with a store or several tags): over the
 * listings.
 */
function browseCount(f: SearchFilters): Extract<SearchPlan, { kind: 'browse' }>['count'] {
  if (f.author !== undefined) return 'listings'
  if (!priceOrStock(f)) return 'bitmaps'
  return f.storeId === undefined && distinctTags(f).length <= 1 ? 'listing_counts' : 'listings'
}

const BROWSE_WHY = {
  bitmaps: 'tags and a store at most: counted from their bitmaps (every listing: kind l)',
  listing_counts: 'a price range or in-stock, one tag at most: counted per price',
  listings: 'an author, or a price range or in-stock with a store or several tags: counted over the listings',
} as const

export function planSearch(req: SearchRequest): SearchPlan {
  const f = req.filters
  const text = req.text
  if (!text) {
    const count = browseCount(f)
    return { kind: 'browse', count, why: BROWSE_WHY[count] }
  }
  if (text.typos) return planTypos(req, text, text.typos)
  if (req.sort !== 'relevance' && req.sort !== 'rating_desc')
    return { kind: 'statement', why: `sort ${req.sort}: the matches are sorted` }
  if (rowFilters(f)) return { kind: 'statement', why: 'author, price or stock filter: no bitmap holds them' }
  if (!text.bitmaps) return { kind: 'statement', why: bitmapsDecline(text) }
  return {
    kind: 'bitmaps',
    order: req.sort === 'relevance' ? 'relevance' : 'rating',
    query: text.bitmaps,
    excluding: null,
    tags: distinctTags(f),
    storeId: f.storeId,
    why: 'filtered by tags and store at most: sets of listings from bitmaps',
  }
}

/** Why a text query has no bitmap form (src/search/query.ts, bitmapQuery). */
function bitmapsDecline(text: TextQuery): string {
  if (text.terms.length > MAX_BITMAP_WORDS) return 'more than three words'
  if (text.substring && [...text.substring.text].length !== 2)
    return 'a title substring of one or three characters'
  return 'a scope the bitmaps do not cover (author alone, intro or content without every field)'
}

function planTypos(req: SearchRequest, text: TextQuery, typos: TypoQuery): SearchPlan {
  const exact = planSearch({ ...req, text: { ...text, typos: null } })
  const substituted = typos.substituted ? planSearch({ ...req, text: typos.substituted }) : null
  if (exact.kind === 'statement' && substituted === null)
    return { kind: 'statement', why: 'typo matches: the widened query, typo matches scored 3 lower' }
  // The widened query has a bitmap form when the exact one has: candidates are whole words.
  const typoMatches: SearchPlan =
    exact.kind === 'bitmaps' && exact.order === 'relevance' && typos.widened.bitmaps
      ? {
          ...exact,
          query: typos.widened.bitmaps,
          excluding: exact.query,
          why: 'the widened query less the exact one, from bitmaps',
        }
      : { kind: 'statement', why: 'the widened query less the exact one' }
  return {
    kind: 'typos',
    typos,
    exact: typos.noExactMatch ? null : exact,
    substituted,
    typoMatches,
    why: typos.noExactMatch
      ? 'a word is in no listing: no exact match, the typo matches'
      : 'exact matches by their own plan, then the typo matches',
  }
}

/**
 * Where the facets of a search are counted (src/repositories/facets.ts): over the match's bitmaps,
 * each listing's store, price and tags looked up in the server's copy of those columns and its stock
 * read from the out-of-stock index; or over the matching rows.
 */
export type FacetPlan =
  | {
      kind: 'bitmaps'
      /** The match before the price and in-stock filters, which are applied listing by listing. */
      match: BitmapMatch
      /**
       * Where in_stock comes from: listing_counts (the sum over the prices in range, which the
       * search's count read already), or the bitmap of the listings out of stock, listing by listing
       * (which also applies an in-stock filter).
       */
      stock: 'listing_counts' | 'bitmaps'
      why: string
    }
  | { kind: 'rows'; why: string }

/** A match from bitmaps (src/repositories/search/bitmaps.ts): a query's words or none, tags, a store. */
export interface BitmapMatch {
  query: BitmapQuery | null
  excluding: BitmapQuery | null
  tags: readonly string[]
  storeId: string | undefined
}

/** The facets' plan of a request. Its sort, page and typo grouping do not change the match. */
export function planFacets(req: Pick<SearchRequest, 'text' | 'filters'>): FacetPlan {
  const f = req.filters
  if (f.author !== undefined) return { kind: 'rows', why: 'an author filter: no bitmap holds it' }
  if (!req.text)
    return {
      kind: 'bitmaps',
      match: filtersMatch(f),
      // Where the search's own total came from listing_counts, its in-stock sum is there too.
      stock: browseCount(f) === 'listing_counts' && !f.inStock ? 'listing_counts' : 'bitmaps',
      why: 'no text: the tags, the store or every listing',
    }
  // The search's own plan of the same match by relevance, price and stock left to the count.
  const plan = planSearch({
    text: req.text,
    filters: { storeId: f.storeId, tags: f.tags },
    sort: 'relevance',
    limit: 0,
    offset: 0,
  })
  // Typo matches included, the match is the widened query's.
  const whole = plan.kind === 'typos' ? plan.typoMatches : plan
  if (whole.kind !== 'bitmaps') return { kind: 'rows', why: `the text: ${whole.why}` }
  return {
    kind: 'bitmaps',
    match: { ...filtersMatch(f), query: whole.query },
    stock: 'bitmaps',
    why: plan.kind === 'typos' ? 'the widened query, from bitmaps' : 'the text, from bitmaps',
  }
}
