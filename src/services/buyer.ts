import { randomUUID } from 'node:crypto'
import { BadRequest, FundsLow, NotFound, OrderState, StockLow, Unauthorized } from '../errors.ts'
import { LIMITS } from '../limits.ts'
import * as listings from '../repositories/listings.ts'
import * as orders from '../repositories/orders.ts'
import * as stores from '../repositories/stores.ts'
import * as users from '../repositories/users.ts'
import type { AuthService } from './auth.ts'
import type { Deps } from './context.ts'
import { lapsed, loadFor } from './orders.ts'

export interface OrderLine {
  id: string
  count: number
}

/** Sums the counts of a book listed more than once, and sorts by book id (the lock order). */
export function mergeLines(lines: readonly OrderLine[]): { bookId: string; count: number }[] {
  const merged = new Map<string, number>()
  for (const l of lines) merged.set(l.id, (merged.get(l.id) ?? 0) + l.count)
  return [...merged]
    .map(([bookId, count]) => ({ bookId, count }))
    .sort((a, b) => (a.bookId < b.bookId ? -1 : a.bookId > b.bookId ? 1 : 0))
}

export class BuyerService {
  constructor(
    private readonly deps: Deps,
    private readonly auth: AuthService,
  ) {}

  async addFunds(userId: string, password: string, addValue: number): Promise<number> {
    await this.auth.checkPassword(userId, password, true)
    const r = await this.deps.db.transaction((tx) => users.depositOrWithdraw(tx, userId, addValue))
    if (r.ok) return r.balance
    if (r.reason === 'insufficient') throw FundsLow()
    if (r.reason === 'limit') throw BadRequest('add_value', `would take the balance above ${LIMITS.maxMoney}`)
    throw Unauthorized()
  }

  /** Reserves every line or none; the order then waits for payment until its deadline. */
  async newOrder(userId: string, storeId: string, lines: readonly OrderLine[]): Promise<string> {
    const wanted = mergeLines(lines)
    for (const l of wanted)
      if (l.count > LIMITS.maxCount)
        throw BadRequest('books', `count of ${l.bookId} is above ${LIMITS.maxCount}`)
    const { db, config } = this.deps
    const orderId = randomUUID()
    return db.transaction(async (tx) => {
      const placed = await orders.placeOrder(tx, {
        orderId,
        buyerId: userId,
        storeId,
        lines: wanted,
        timeoutS: config.orderPaymentTimeoutS,
        maxTotal: LIMITS.maxMoney,
      })
      if (placed.ok) return orderId
      // Say why (the throw rolls back any line that was reserved).
      if (placed.tooExpensive) throw BadRequest('books', `order total is above ${LIMITS.maxMoney}`)
      const buyer = await users.findUser(tx, userId)
      if (!buyer || buyer.closed_at) throw NotFound('user', userId)
      const store = await stores.findStore(tx, storeId)
      if (!store || store.owner_closed) throw NotFound('store', storeId)
      const stock = await listings.stockOf(
        tx,
        storeId,
        wanted.map((l) => l.bookId),
      )
      const missing = wanted.find((l) => !stock.has(l.bookId))
      if (missing) throw NotFound('book', missing.bookId)
      // Lines this statement reserved show their stock already reduced: they are not the short ones.
      const reserved = new Set(placed.reserved)
      const low = wanted.find((l) => !reserved.has(l.bookId) && (stock.get(l.bookId) ?? 0) < l.count)
      throw StockLow((low ?? wanted.find((l) => !reserved.has(l.bookId)) ?? wanted[0])?.bookId ?? '')
    })
  }

  /** Debits the buyer exactly once and holds the money for the order until the books are received. */
  async payment(userId: string, orderId: string, password: string): Promise<void> {
    await this.auth.checkPassword(userId, password, true)
    await this.deps.db.transaction(async (tx) => {
      const r = await orders.payOrder(tx, orderId, userId)
      if (r.ok) return
      if (r.reason === 'insufficient') throw FundsLow()
      const order = await loadFor(tx, orderId, userId, 'buyer')
      throw OrderState(lapsed(order) ? 'cancelled' : 'paid', orderId)
    })
  }
}
