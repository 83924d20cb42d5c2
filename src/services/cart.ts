import { randomUUID } from 'node:crypto'
import { type Static, Type } from 'typebox'
import { BadRequest, DomainError, NotFound } from '../errors.ts'
import { LIMITS } from '../limits.ts'
import * as cart from '../repositories/cart.ts'
import { findStore } from '../repositories/stores.ts'
import { placeOrRefuse } from './buyer.ts'
import type { Deps } from './context.ts'

/** A cart as the API shows it (the route's response schema and the type the service returns). */
export const CartLine = Type.Object({
  store_id: Type.String(),
  book_id: Type.String(),
  title: Type.String(),
  price: Type.Integer({ description: 'cents, the listing’s price now' }),
  count: Type.Integer({ minimum: 1, maximum: LIMITS.maxCartCount }),
  stock_level: Type.Integer({ description: 'copies on the shelf now (the cart reserves none)' }),
})
export const Cart = Type.Object({
  lines: Type.Array(CartLine),
  total_price: Type.Integer({ description: 'cents: the sum of price × count at current prices' }),
})
export type ApiCart = Static<typeof Cart>

/**
 * The buyer's cart, kept on the server (the same from every terminal), and its checkout. Every
 * method takes the id of a user the caller has already authenticated.
 */
export class CartService {
  constructor(private readonly deps: Deps) {}

  async get(userId: string): Promise<ApiCart> {
    const lines = await cart.cartOf(this.deps.db, userId)
    return { lines, total_price: lines.reduce((sum, l) => sum + l.price * l.count, 0) }
  }

  /**
   * Sets the count of a line (0 removes it). 513 for a store that does not exist or is closed, 515
   * for a book the store does not list; a line of a store closed since can still be removed.
   */
  async setLine(userId: string, storeId: string, bookId: string, count: number): Promise<void> {
    const { db } = this.deps
    // The route's schema refuses these first; callers without it (the pages) get the same 400.
    if (!Number.isInteger(count) || count < 0 || count > LIMITS.maxCartCount)
      throw BadRequest('count', `must be an integer from 0 to ${LIMITS.maxCartCount}`)
    if (count === 0) {
      if (await cart.removeCartLine(db, userId, storeId, bookId)) return
      if (!(await findStore(db, storeId))) throw NotFound('store', storeId)
      return
    }
    const r = await cart.setCartLine(db, { userId, storeId, bookId, count, maxLines: LIMITS.maxCartLines })
    if (r === 'no_store') throw NotFound('store', storeId)
    if (r === 'no_book') throw NotFound('book', bookId)
    if (r === 'full')
      throw BadRequest('book_id', `cannot be added: the cart has ${LIMITS.maxCartLines} lines`)
  }

  /**
   * Places one order per store for the cart's lines (of the stores named, or all), in one transaction:
   * the lines are taken out of the cart, and each store's order is placed with the statement new_order
   * uses. The first refusal (513, 515, 517 naming the store and book, 400 empty cart) undoes it all:
   * no order, no stock moved, the cart as it was. Of simultaneous checkouts of the same lines, one
   * places the orders and the others find the cart empty. Returns the order ids, by store id.
   */
  async checkout(userId: string, storeIds?: readonly string[]): Promise<string[]> {
    const { db, config, metrics } = this.deps
    try {
      const orderIds = await db.transaction(async (tx) => {
        const lines = await cart.takeCartLines(tx, userId, storeIds)
        if (lines.length === 0)
          throw BadRequest('cart', storeIds ? 'has no lines of those stores' : 'is empty')
        const byStore = new Map<string, { bookId: string; count: number }[]>()
        for (const l of lines) {
          const list = byStore.get(l.store_id) ?? []
          list.push({ bookId: l.book_id, count: l.count })
          byStore.set(l.store_id, list)
        }
        const placed: string[] = []
        // Stores in id order, each store's books in id order: listings are locked in (store, book) order.
        for (const [storeId, storeLines] of byStore) {
          const orderId = randomUUID()
          await placeOrRefuse(
            tx,
            {
              orderId,
              buyerId: userId,
              storeId,
              lines: storeLines,
              timeoutS: config.orderPaymentTimeoutS,
              maxTotal: LIMITS.maxMoney,
            },
            { nameStore: true },
          )
          placed.push(orderId)
        }
        return placed
      })
      metrics.checkouts.inc({ outcome: 'placed' })
      metrics.checkoutOrders.inc(orderIds.length)
      return orderIds
    } catch (err) {
      if (err instanceof DomainError) metrics.checkouts.inc({ outcome: 'refused' })
      throw err
    }
  }
}
