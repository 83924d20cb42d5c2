import { randomUUID } from 'node:crypto'
import type { Queryable } from '../db/db.ts'
import { BadRequest, FundsLow, NotFound, OrderState, StockLow, Unauthorized } from '../errors.ts'
import { LIMITS } from '../limits.ts'
import * as orders from '../repositories/orders.ts'
import * as users from '../repositories/users.ts'
import { tokenHash } from '../security/tokens.ts'
import { type AuthService, InvalidToken, MissingToken } from './auth.ts'
import type { Deps } from './context.ts'
import { Batcher } from './order-batcher.ts'
import { lapsed, loadFor } from './orders.ts'

/** The most orders (payments) one database call places (pays). */
export const MAX_ORDER_BATCH = 32

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

/**
 * Places one order with the guarded statement that reserves its stock (every line or none), or says
 * why it was refused, in the order the checks are documented; a refusal has written nothing.
 * Checkout places its orders here; new_order places them through its batcher and answers with
 * `refusal`. `nameStore`: the 517 names the store too (a checkout spans several).
 */
export async function placeOrRefuse(
  q: Queryable,
  order: orders.PlaceOrder,
  opts: { nameStore?: boolean } = {},
): Promise<void> {
  refuse(await orders.placeOrder(q, order), order, opts)
}

/** Throws the error of a refused order, in the order the checks are documented; nothing when placed. */
function refuse(
  placed: orders.PlaceResult,
  order: orders.PlaceOrder,
  opts: { nameStore?: boolean } = {},
): void {
  if (placed.ok) return
  if (placed.unauthorized) throw InvalidToken()
  if (!placed.buyerOpen) throw NotFound('user', order.buyerId)
  if (!placed.storeOpen) throw NotFound('store', order.storeId)
  if (placed.missing !== undefined) throw NotFound('book', placed.missing)
  if (placed.short !== undefined) throw StockLow(placed.short, opts.nameStore ? order.storeId : undefined)
  throw BadRequest('books', `order total is above ${LIMITS.maxMoney}`)
}

export class BuyerService {
  /** new_order's orders, placed together when they arrive while earlier ones are being placed. */
  private readonly placing: Batcher<orders.PlaceOrder, orders.PlaceResult>
  /** Payments, likewise (each password is verified before its payment joins a batch). */
  private readonly paying: Batcher<orders.PayOrder, orders.PayResult>

  constructor(
    private readonly deps: Deps,
    private readonly auth: AuthService,
  ) {
    const { db, metrics } = deps
    // One batch of each kind in flight, the rest gather behind it: measured against two, four and
    // sixteen lanes on PostgreSQL, one gave the most paid orders (batches in parallel wait on each
    // other's listing locks), and the embedded database runs one statement at a time anyway
    // (docs/decisions/2026-12-06-order-batching.md).
    const lanes = 1
    const batching = (kind: 'new_order' | 'payment') => {
      const sizes = metrics.orderBatches.labels({ kind })
      return { lanes, maxBatch: MAX_ORDER_BATCH, onBatch: (n: number) => sizes.observe(n) }
    }
    this.placing = new Batcher((batch) => orders.placeOrders(db, batch), batching('new_order'))
    this.paying = new Batcher((batch) => orders.payOrders(db, batch), batching('payment'))
  }

  async addFunds(userId: string, password: string, addValue: number): Promise<number> {
    await this.auth.checkPassword(userId, password, true)
    const r = await this.deps.db.transaction((tx) => users.depositOrWithdraw(tx, userId, addValue))
    if (r.ok) return r.balance
    if (r.reason === 'insufficient') throw FundsLow()
    if (r.reason === 'limit') throw BadRequest('add_value', `would take the balance above ${LIMITS.maxMoney}`)
    throw Unauthorized()
  }

  /**
   * Reserves every line or none; the order then waits for payment until its deadline. With a
   * session, the token is checked in the same statement that places the order (one round trip).
   */
  async newOrder(
    userId: string,
    storeId: string,
    lines: readonly OrderLine[],
    session?: { token: string | undefined },
  ): Promise<string> {
    if (session && !session.token) throw MissingToken()
    const token = session?.token
    const wanted = mergeLines(lines)
    for (const l of wanted)
      if (l.count > LIMITS.maxCount) {
        if (token !== undefined) await this.auth.authenticate(token, userId)
        throw BadRequest('books', `count of ${l.bookId} is above ${LIMITS.maxCount}`)
      }
    const order: orders.PlaceOrder = {
      orderId: randomUUID(),
      buyerId: userId,
      storeId,
      lines: wanted,
      timeoutS: this.deps.config.orderPaymentTimeoutS,
      maxTotal: LIMITS.maxMoney,
      tokenHash: token === undefined ? undefined : tokenHash(token),
    }
    refuse(await this.placing.submit(order), order)
    return order.orderId
  }

  /**
   * Debits the buyer exactly once and holds the money for the order until the books are received.
   * A password verified a moment ago is checked inside the payment statement itself (its stored hash
   * must still be the user's); otherwise it is verified in full first.
   */
  async payment(userId: string, orderId: string, password: string): Promise<void> {
    const { db } = this.deps
    const remembered = this.auth.rememberedHash(userId, password)
    const pay = (storedHash: string) => this.paying.submit({ orderId, buyerId: userId, storedHash })
    let r = remembered === undefined ? undefined : await pay(remembered)
    if (r === undefined || (!r.ok && r.reason === 'not_verified')) {
      const user = await this.auth.checkPassword(userId, password, true)
      r = await pay(user.password_hash ?? '')
      // The password was changed or the account closed between the check and the payment.
      if (!r.ok && r.reason === 'not_verified') throw Unauthorized()
    }
    if (r.ok) return
    // Refused: an order still waiting for payment was refused for want of money.
    const order = await loadFor(db, orderId, userId, 'buyer')
    if (order.status === 'unpaid' && !lapsed(order)) throw FundsLow()
    throw OrderState(lapsed(order) ? 'cancelled' : 'paid', orderId)
  }
}
