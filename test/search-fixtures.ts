/** Shared pieces of the search and catalogue tests. */
import type { FastifyInstance } from 'fastify'
import type { SearchHit } from '../src/repositories/search.ts'
import { call, post, type User, uid } from './helpers.ts'

/** One search result, as the API answers it. */
export type Hit = SearchHit

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

/** A seller with one (named) store. */
export async function newStore(app: FastifyInstance, seller: User, storeId = uid('store')): Promise<string> {
  const r = await post(
    app,
    '/seller/create_store',
    { user_id: seller.userId, store_id: storeId },
    seller.token,
  )
  if (r.status !== 200) throw new Error(`create_store failed: ${JSON.stringify(r)}`)
  return storeId
}

export async function addBook(
  app: FastifyInstance,
  seller: User,
  storeId: string,
  info: Record<string, unknown>,
  stock = 10,
): Promise<void> {
  const r = await post(
    app,
    '/seller/add_book',
    { user_id: seller.userId, store_id: storeId, book_info: info, stock_level: stock },
    seller.token,
  )
  if (r.status !== 200) throw new Error(`add_book failed: ${JSON.stringify(r)}`)
}

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
