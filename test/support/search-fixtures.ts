/** Shared pieces of the search and catalogue tests. */
import type { FastifyInstance } from 'fastify'
import type { ApiHit } from '../../src/api/catalog.ts'
import type { Db } from '../../src/db/db.ts'
import { insertListings } from '../../src/repositories/listings.ts'
import type { SearchRequest } from '../../src/repositories/search.ts'
import { BITMAP_BLOCK } from '../../src/search/encoding.ts'
import { syntheticListing } from '../../tools/catalog/synthetic.ts'
import { call } from './helpers.ts'

/**
 * The same search with the bitmap form of its text taken away, so that the tsvector statement answers
 * it: the reference every faster plan must equal.
 */
export const byStatement = (req: SearchRequest): SearchRequest =>
  req.text ? { ...req, text: { ...req.text, bitmaps: null } } : req

/** One search result, as the API answers it. */
export type Hit = ApiHit

export interface Page {
  status: number
  message: string
  books: Hit[]
  total: number
  page: number
  page_size: number
}

/** GET /search/books with the given parameters (arrays repeat the parameter). */
export async function search(
  app: FastifyInstance,
  params: Record<string, string | number | boolean | string[]>,
): Promise<Page> {
  const qs = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) for (const x of v) qs.append(k, x)
    else qs.append(k, String(v))
  }
  const r = await call(app, 'GET', `/search/books?${qs}`)
  return { status: r.status, ...(r.body as Omit<Page, 'status'>) }
}

export const ids = (p: Page) => p.books.map((b) => b.book_id)

/** Every page of a search, walked with the given page size. */
export async function allPages(
  app: FastifyInstance,
  params: Record<string, string | number | boolean | string[]>,
  pageSize: number,
): Promise<Page[]> {
  const pages: Page[] = []
  for (let page = 1; ; page++) {
    const p = await search(app, { ...params, page, page_size: pageSize })
    if (p.status !== 200) throw new Error(`search failed: ${JSON.stringify(p)}`)
    pages.push(p)
    if (page * pageSize >= p.total) return pages
  }
}

/**
 * Synthetic listings spread over the stores that straddle the first block boundary of the bitmaps
 * (BITMAP_BLOCK listings a block): `below` listings from doc 1, then `above` more from `straddle` docs
 * before the boundary.
 */
export async function insertAcrossBlocks(
  db: Db,
  stores: readonly string[],
  o: { seed: number; below: number; straddle: number; above: number },
): Promise<void> {
  const books = (from: number, n: number) =>
    Array.from({ length: n }, (_, i) => syntheticListing(from + i, { storeIds: [...stores], seed: o.seed }))
  await db.transaction((tx) => insertListings(tx, books(0, o.below)))
  await db.query(`ALTER TABLE listings ALTER COLUMN doc RESTART WITH ${BITMAP_BLOCK - o.straddle}`)
  await db.transaction((tx) => insertListings(tx, books(o.below, o.above)))
}
