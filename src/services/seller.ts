import { type BookInfo, toNewListing } from '../catalog/book-info.ts'
import type { Queryable } from '../db/db.ts'
import { BadRequest, Exists, NotFound, Unauthorized } from '../errors.ts'
import { LIMITS } from '../limits.ts'
import * as listings from '../repositories/listings.ts'
import { attachPictures } from '../repositories/pictures.ts'
import * as sales from '../repositories/sales.ts'
import * as stores from '../repositories/stores.ts'
import * as users from '../repositories/users.ts'
import type { Deps } from './context.ts'

/** What the seller console's overview shows. */
export interface SalesOverview {
  /** One entry per day of the period, oldest first, days without sales included as zero. */
  days: sales.DaySales[]
  bestSellers: sales.BookLine[]
  lowStock: sales.BookLine[]
}

/** A book with this many copies or fewer counts as low on stock. */
export const LOW_STOCK = 5

/** Throws unless the user is open and owns the store. */
function assertOwns(found: stores.StoreOwnership, userId: string, storeId: string): void {
  if (!found.user_open) throw NotFound('user', userId)
  if (found.owner_id === null) throw NotFound('store', storeId)
  if (found.owner_id !== userId) throw Unauthorized('not the owner of this store')
}

export class SellerService {
  constructor(private readonly deps: Deps) {}

  async createStore(userId: string, storeId: string): Promise<void> {
    const { db } = this.deps
    const user = await users.findUser(db, userId)
    if (!user || user.closed_at) throw NotFound('user', userId)
    if (!(await stores.insertStore(db, storeId, userId))) throw Exists('store', storeId)
  }

  /** Checks that the user is open and owns the store. */
  private async ownStore(q: Queryable, userId: string, storeId: string): Promise<void> {
    assertOwns(await stores.storeOwnership(q, userId, storeId), userId, storeId)
  }

  /**
   * One statement checks the seller and lists the book; without pictures it is the whole add_book (it
   * commits by itself), with them it shares a transaction with their insert.
   */
  async addBook(userId: string, storeId: string, info: BookInfo, stockLevel: number): Promise<void> {
    const pictures = (info.pictures ?? []).map((p) => Buffer.from(p, 'base64'))
    const listing = toNewListing(storeId, info, stockLevel)
    const add = async (q: Queryable) => {
      const added = await listings.addListing(q, userId, listing)
      assertOwns(added, userId, storeId)
      if (!added.inserted) throw Exists('book', info.id)
    }
    if (pictures.length === 0) await add(this.deps.db)
    else
      await this.deps.db.transaction(async (tx) => {
        await add(tx)
        await attachPictures(tx, storeId, info.id, pictures)
      })
    this.deps.searchMerger?.queued()
  }

  async addStockLevel(userId: string, storeId: string, bookId: string, add: number): Promise<number> {
    const { db } = this.deps
    await this.ownStore(db, userId, storeId)
    const r = await listings.addStock(db, storeId, bookId, add)
    if (r.ok) return r.stockLevel
    if (r.reason === 'no_book') throw NotFound('book', bookId)
    throw BadRequest('add_stock_level', `would take the stock above ${LIMITS.maxStock}`)
  }

  /** The stores the user owns. */
  async stores(userId: string): Promise<string[]> {
    return stores.storesOf(this.deps.db, userId)
  }

  /** Sales per day over the last `days` days (China time), best sellers and books low on stock. */
  async overview(userId: string, days = 30): Promise<SalesOverview> {
    const { db } = this.deps
    const [byDay, bestSellers, lowStock] = await Promise.all([
      sales.salesByDay(db, userId, days),
      sales.bestSellers(db, userId, 10),
      sales.lowStock(db, userId, LOW_STOCK, 10),
    ])
    const known = new Map(byDay.map((d) => [d.day, d]))
    const today = Date.now() + 8 * 3600_000
    const series: sales.DaySales[] = []
    for (let i = days - 1; i >= 0; i--) {
      const day = new Date(today - i * 86_400_000).toISOString().slice(0, 10)
      series.push(known.get(day) ?? { day, orders: 0, revenue: 0 })
    }
    return { days: series, bestSellers, lowStock }
  }
}
