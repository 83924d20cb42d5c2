import type { FastifyBaseLogger } from 'fastify'
import type { SearchPage, SearchParams, SuggestParams } from '../api/catalog.ts'
import { BadRequest, NotFound } from '../errors.ts'
import { FacetColumns } from '../repositories/facet-columns.ts'
import { searchFacets } from '../repositories/facets.ts'
import { findListing, listingExists, popularTags } from '../repositories/listings.ts'
import { findPicture } from '../repositories/pictures.ts'
import { searchListings } from '../repositories/search.ts'
import { findStore } from '../repositories/stores.ts'
import { findSuggestions, type Suggestion } from '../repositories/suggest.ts'
import { findTypoCandidates } from '../repositories/typos.ts'
import { FACET_KINDS, parseFacets } from '../search/facets.ts'
import { type Highlights, highlight } from '../search/highlight.ts'
import { planFacets } from '../search/plan.ts'
import { parseScope, queryWords, textQuery } from '../search/query.ts'
import { normalise, segmenter } from '../search/segmenter.ts'
import { queryPrefixes } from '../search/suggest.ts'
import { type Deps, laggingReads, readConfirmingMiss } from './context.ts'
import { type ApiRating, averageOf } from './reviews.ts'

export interface Listing {
  store_id: string
  book_id: string
  stock_level: number
  book_info: Record<string, unknown>
  /** Paths of the picture route, in picture order. */
  pictures: string[]
  rating: ApiRating
}

export interface Picture {
  mime: string
  data: Buffer
  /** A strong validator: the content's SHA-256 (pictures are content addressed). */
  etag: string
}

export const picturePath = (storeId: string, bookId: string, index: number) =>
  `/stores/${encodeURIComponent(storeId)}/books/${encodeURIComponent(bookId)}/pictures/${index}`

/** A hit's highlights when there is no query. */
const NO_HIGHLIGHTS: Highlights = { title: [], snippet: null }

/** How long the front page's tag list is reused: it changes slowly, and the count reads many rows. */
const TAGS_TTL_MS = 60_000

export class CatalogService {
  /** Only a cache: each process keeps its own, and losing it costs one query. */
  private tags: { at: number; limit: number; tags: { tag: string; listings: number }[] } | undefined
  /** The listings' unchanging columns the facets count by, read as searches need them (never stale). */
  private readonly facetColumns = new FacetColumns()
  private warming: Promise<unknown> | undefined
  private closed = false

  constructor(private readonly deps: Deps) {}

  /**
   * Reads the facets' columns of every listing in the background (FacetColumns.warm); a search that
   * needs a block before then reads it itself. A failure is logged: searches read what they need.
   */
  warmFacets(log?: FastifyBaseLogger): void {
    this.closed = false
    this.warming = this.facetColumns
      .warm(laggingReads(this.deps), () => this.closed)
      .catch((err) =>
        log?.warn({ err }, 'reading the facets columns ahead failed; searches read them as needed'),
      )
  }

  /** Waits for warmFacets to finish (the benchmark measures a server that has read ahead). */
  async facetsReadAhead(): Promise<void> {
    await this.warming
  }

  /** Stops warmFacets and waits for the block it is reading. */
  async stopWarming(): Promise<void> {
    this.closed = true
    await this.warming
  }

  /** The most used tags of the catalogue, most used first (refreshed at most once a minute). */
  async popularTags(limit: number): Promise<{ tag: string; listings: number }[]> {
    const now = Date.now()
    if (!this.tags || this.tags.limit < limit || now - this.tags.at > TAGS_TTL_MS)
      this.tags = { at: now, limit, tags: await popularTags(laggingReads(this.deps), limit) }
    return this.tags.tags.slice(0, limit)
  }

  /**
   * One page of a search. `facetsFromRowsUpTo`: when the facets are counted over the matching rows
   * (planFacets: an author filter, or text no bitmap answers), count them only for a match of at most
   * this many listings (the web page's budget: that reads every match); from bitmaps they are always
   * counted. The API asks with no bound.
   */
  async search(p: SearchParams, opts: { facetsFromRowsUpTo?: number } = {}): Promise<SearchPage> {
    const db = laggingReads(this.deps)
    const scope = parseScope(p.scope)
    if (!scope) throw BadRequest('scope', 'must be a comma list of title, author, tags, book_intro, content')
    if (p.min_price !== undefined && p.max_price !== undefined && p.min_price > p.max_price)
      throw BadRequest('max_price', 'must not be below min_price')
    const facets = parseFacets(p.facets)
    if (!facets) throw BadRequest('facets', `must be a comma list of ${FACET_KINDS.join(', ')}`)
    const q = p.q?.trim() ? p.q : undefined
    const tags = p.tag === undefined ? [] : Array.isArray(p.tag) ? p.tag : [p.tag]
    const author = p.author?.trim() ? normalise(p.author.trim()) : undefined
    // The count, the page and the facets come from one snapshot.
    const page = await db.transaction(
      async (tx) => {
        // Typo candidates come from the vocabulary of the same snapshot.
        const text =
          q === undefined
            ? undefined
            : textQuery(
                segmenter(),
                q,
                scope,
                await findTypoCandidates(
                  tx,
                  queryWords(segmenter(), q).map((w) => w.text),
                ),
              )
        const filters = {
          storeId: p.store_id,
          tags,
          author,
          minPrice: p.min_price,
          maxPrice: p.max_price,
          inStock: p.in_stock,
        }
        const found = await searchListings(tx, {
          text,
          filters,
          sort: p.sort,
          limit: p.page_size,
          offset: (p.page - 1) * p.page_size,
        })
        const plan = facets.size > 0 ? planFacets({ text, filters }) : undefined
        const bound = opts.facetsFromRowsUpTo ?? Number.POSITIVE_INFINITY
        const counts =
          plan && (found.total <= bound || plan.kind === 'bitmaps')
            ? await searchFacets(tx, this.facetColumns, text, filters, facets, found, { plan })
            : undefined
        return { ...found, counts, text }
      },
      { readOnlySnapshot: true },
    )
    // Only an empty result can come from a store that does not exist: look it up then, not every time.
    if (page.total === 0 && p.store_id !== undefined && !(await this.findStore(p.store_id)))
      throw NotFound('store', p.store_id)
    const text = page.text
    // Highlights mark the typo candidates too, where the words themselves are not found.
    const terms = text?.typos?.widened.terms ?? text?.terms ?? []
    // A text search's hits carry the beginnings of book_intro and content (TEXT_HIT_COLUMNS).
    const books = page.hits.map(({ rating_sum, book_intro = null, content = null, ...hit }) => ({
      ...hit,
      rating_average: averageOf(rating_sum, hit.rating_count),
      highlights: text
        ? highlight({ ...hit, book_intro, content }, terms, text.substring?.text)
        : NO_HIGHLIGHTS,
    }))
    const out: SearchPage = { books, total: page.total, page: p.page, page_size: p.page_size }
    if (page.counts) {
      const { exact, ...counts } = page.counts
      out.facets = counts
      out.facets_exact = exact
    }
    return out
  }

  /** Completions of a typed prefix (see src/search/suggest.ts and findSuggestions for the rule). */
  async suggest(p: SuggestParams): Promise<Suggestion[]> {
    // Suggestions may lag like search does: they are read where search is (a replica when healthy).
    const found = await findSuggestions(laggingReads(this.deps), queryPrefixes(p.q), p.store_id, p.limit)
    if (found.length === 0 && p.store_id !== undefined && !(await this.findStore(p.store_id)))
      throw NotFound('store', p.store_id)
    return found
  }

  /** The store, or undefined: a miss on a replica is asked again of the primary. */
  private findStore(storeId: string) {
    return readConfirmingMiss(this.deps, (db) => findStore(db, storeId))
  }

  async listing(storeId: string, bookId: string): Promise<Listing> {
    const row = await readConfirmingMiss(this.deps, (db) => findListing(db, storeId, bookId))
    if (!row) {
      // The primary has just said the listing is not there: it says whether the store is.
      if (!(await findStore(this.deps.db, storeId))) throw NotFound('store', storeId)
      throw NotFound('book', bookId)
    }
    const book_info: Record<string, unknown> = {
      ...row.extra,
      id: row.book_id,
      title: row.title,
      author: row.author,
      publisher: row.publisher,
      original_title: row.original_title,
      translator: row.translator,
      pub_year: row.pub_year,
      pages: row.pages,
      price: row.price,
      binding: row.binding,
      isbn: row.isbn,
      author_intro: row.author_intro,
      book_intro: row.book_intro,
      content: row.content,
      tags: row.tags,
    }
    return {
      store_id: row.store_id,
      book_id: row.book_id,
      stock_level: row.stock_level,
      book_info,
      pictures: Array.from({ length: row.picture_count }, (_, i) => picturePath(storeId, bookId, i)),
      rating: { average: averageOf(row.rating_sum, row.rating_count), count: row.rating_count },
    }
  }

  /** undefined when the listing has no picture at that index. */
  async picture(storeId: string, bookId: string, index: number): Promise<Picture | undefined> {
    const pic = await readConfirmingMiss(this.deps, (db) => findPicture(db, storeId, bookId, index))
    if (pic) {
      const data = Buffer.from(pic.data.buffer, pic.data.byteOffset, pic.data.byteLength)
      return { mime: pic.mime, data, etag: `"${Buffer.from(pic.sha256).toString('hex')}"` }
    }
    // The primary has just said the picture is not there: it says whether the store and book are.
    if (!(await findStore(this.deps.db, storeId))) throw NotFound('store', storeId)
    if (!(await listingExists(this.deps.db, storeId, bookId))) throw NotFound('book', bookId)
    return undefined
  }
}
