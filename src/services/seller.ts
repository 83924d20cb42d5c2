import type { Queryable } from '../db/db.ts'
import { BadRequest, Exists, NotFound, Unauthorized } from '../errors.ts'
import { LIMITS } from '../limits.ts'
import * as listings from '../repositories/listings.ts'
import { attachPictures } from '../repositories/pictures.ts'
import * as stores from '../repositories/stores.ts'
import * as users from '../repositories/users.ts'
import type { Deps } from './context.ts'

/** book_info as the course API sends it: known fields, plus any others (kept as they are). */
export interface BookInfo {
  id: string
  title: string
  price: number
  author?: string | null
  publisher?: string | null
  original_title?: string | null
  translator?: string | null
  pub_year?: string | number | null
  pages?: number | null
  binding?: string | null
  isbn?: string | null
  author_intro?: string | null
  book_intro?: string | null
  content?: string | null
  tags?: string[] | null
  pictures?: string[] | null
  [extra: string]: unknown
}

const KNOWN = new Set([
  'id',
  'title',
  'price',
  'author',
  'publisher',
  'original_title',
  'translator',
  'pub_year',
  'pages',
  'binding',
  'isbn',
  'author_intro',
  'book_intro',
  'content',
  'tags',
  'pictures',
])

export class SellerService {
  constructor(private readonly deps: Deps) {}

  async createStore(userId: string, storeId: string): Promise<void> {
    const { db } = this.deps
    const user = await users.findUser(db, userId)
    if (!user || user.closed_at) throw NotFound('user', userId)
    if (!(await stores.insertStore(db, storeId, userId))) throw Exists('store', storeId)
  }

  /** The store, checked to exist and to belong to userId. */
  private async ownStore(q: Queryable, userId: string, storeId: string) {
    const user = await users.findUser(q, userId)
    if (!user || user.closed_at) throw NotFound('user', userId)
    const store = await stores.findStore(q, storeId)
    if (!store) throw NotFound('store', storeId)
    if (store.owner_id !== userId) throw Unauthorized('not the owner of this store')
    return store
  }

  async addBook(userId: string, storeId: string, info: BookInfo, stockLevel: number): Promise<void> {
    const pictures = (info.pictures ?? []).map((p) => Buffer.from(p, 'base64'))
    const extra: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(info)) if (!KNOWN.has(k)) extra[k] = v
    await this.deps.db.transaction(async (tx) => {
      await this.ownStore(tx, userId, storeId)
      const inserted = await listings.insertListing(tx, {
        storeId,
        bookId: info.id,
        title: info.title,
        author: info.author ?? null,
        publisher: info.publisher ?? null,
        originalTitle: info.original_title ?? null,
        translator: info.translator ?? null,
        pubYear: info.pub_year == null ? null : String(info.pub_year),
        pages: info.pages ?? null,
        price: info.price,
        binding: info.binding ?? null,
        isbn: info.isbn ?? null,
        authorIntro: info.author_intro ?? null,
        bookIntro: info.book_intro ?? null,
        content: info.content ?? null,
        tags: info.tags ?? [],
        extra,
        stockLevel,
      })
      if (!inserted) throw Exists('book', info.id)
      await attachPictures(tx, storeId, info.id, pictures)
    })
  }

  async addStockLevel(userId: string, storeId: string, bookId: string, add: number): Promise<number> {
    const { db } = this.deps
    await this.ownStore(db, userId, storeId)
    const r = await listings.addStock(db, storeId, bookId, add)
    if (r.ok) return r.stockLevel
    if (r.reason === 'no_book') throw NotFound('book', bookId)
    throw BadRequest('add_stock_level', `would take the stock above ${LIMITS.maxStock}`)
  }
}
