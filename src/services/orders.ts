import type { ApiOrder, OrderList } from '../api/orders.ts'
import type { Queryable, Tx } from '../db/db.ts'
import { NotFound, OrderState, Unauthorized } from '../errors.ts'
import * as orders from '../repositories/orders.ts'
import * as stores from '../repositories/stores.ts'
import * as users from '../repositories/users.ts'
import type { Deps } from './context.ts'

export interface ListQuery {
  status?: orders.OrderStatus | undefined
  page: number
  pageSize: number
}

const iso = (d: Date | null) => (d === null ? null : new Date(d).toISOString())

/** Rows become API objects here and nowhere else. */
function toApi(row: orders.OrderRow, items: readonly orders.OrderItemRow[]): ApiOrder {
  return {
    order_id: row.order_id,
    buyer_id: row.buyer_id,
    store_id: row.store_id,
    status: row.status,
    cancel_reason: row.cancel_reason,
    total_price: row.total_price,
    created_at: iso(row.created_at) as string,
    expires_at: iso(row.expires_at) as string,
    paid_at: iso(row.paid_at),
    shipped_at: iso(row.shipped_at),
    received_at: iso(row.received_at),
    cancelled_at: iso(row.cancelled_at),
    items: items.map((i) => ({ book_id: i.book_id, title: i.title, count: i.count, price: i.price })),
  }
}

type Party = 'buyer' | 'seller'

/**
 * After a guarded update matched nothing: the order, checked to exist (518) and to be the acting
 * user's (401) — authorization before state.
 */
export async function loadFor(q: Queryable, orderId: string, userId: string, party: Party) {
  const order = await orders.findOrderWithOwner(q, orderId)
  if (!order) throw NotFound('order', orderId)
  const owner = party === 'buyer' ? order.buyer_id : order.seller_id
  if (owner !== userId) throw Unauthorized(`not the ${party} of this order`)
  return order
}

/** An unpaid order past its deadline counts as cancelled even before the sweep has run. */
export const lapsed = (o: orders.OrderRow) => o.status === 'cancelled' || (o.status === 'unpaid' && o.expired)

export class OrderService {
  constructor(private readonly deps: Deps) {}

  /**
   * paid → shipped, by the owner of the order's store. The change is one guarded statement (no
   * transaction needed); only a refusal reads the order, to say why.
   */
  async ship(userId: string, orderId: string): Promise<void> {
    const { db } = this.deps
    if (await orders.shipOrder(db, orderId, userId)) return
    const o = await loadFor(db, orderId, userId, 'seller')
    if (lapsed(o)) throw OrderState('cancelled', orderId)
    if (o.status === 'unpaid') throw OrderState('not_paid', orderId)
    throw OrderState('shipped', orderId)
  }

  /** shipped → received, by the buyer: the money held for the order goes to the seller (one statement). */
  async receive(userId: string, orderId: string): Promise<void> {
    const { db } = this.deps
    const done = await orders.receiveOrders(db, [orderId], { by: 'buyer', buyerId: userId })
    if (done.length === 1) return
    const o = await loadFor(db, orderId, userId, 'buyer')
    if (lapsed(o)) throw OrderState('cancelled', orderId)
    if (o.status === 'received') throw OrderState('received', orderId)
    throw OrderState('not_shipped', orderId)
  }

  /**
   * The buyer or the store owner cancels an order that is not shipped yet: its stock goes back on the
   * shelf, and a paid order is refunded in full. An unpaid order found past its deadline is cancelled
   * as a timeout on the spot (as the sweep would) and the caller gets 524.
   */
  async cancel(userId: string, orderId: string, party: Party): Promise<void> {
    const outcome = await this.deps.db.transaction(async (tx) => {
      const done = await orders.cancelOrders(tx, [orderId], { by: party, userId })
      if (done.length === 1) {
        await orders.releaseStock(tx, [orderId])
        return 'ok' as const
      }
      const o = await loadFor(tx, orderId, userId, party)
      if (o.status === 'unpaid' && o.expired) {
        const expired = await orders.cancelOrders(tx, [orderId], { by: 'timeout' })
        await orders.releaseStock(
          tx,
          expired.map((x) => x.order_id),
        )
        return 'expired' as const
      }
      if (o.status === 'cancelled') throw OrderState('cancelled', orderId)
      if (o.status === 'received') throw OrderState('received', orderId)
      throw OrderState('shipped', orderId)
    })
    if (outcome === 'expired') throw OrderState('cancelled', orderId)
  }

  /** One order, for its buyer or the owner of its store. */
  async get(userId: string, orderId: string): Promise<ApiOrder> {
    const { db } = this.deps
    const o = await orders.findOrderWithOwner(db, orderId)
    if (!o) throw NotFound('order', orderId)
    if (o.buyer_id !== userId && o.seller_id !== userId)
      throw Unauthorized('not the buyer or seller of this order')
    return toApi(o, await orders.itemsOf(db, [orderId]))
  }

  async listForBuyer(userId: string, q: ListQuery): Promise<OrderList> {
    const page = { status: q.status, limit: q.pageSize, offset: (q.page - 1) * q.pageSize }
    const r = await orders.listBuyerOrders(this.deps.db, userId, page)
    return this.withItems(r, q)
  }

  /** Orders of the seller's stores, or of one of them (513 unknown store, 401 someone else's). */
  async listForSeller(userId: string, storeId: string | undefined, q: ListQuery): Promise<OrderList> {
    const { db } = this.deps
    if (storeId !== undefined) {
      const store = await stores.findStore(db, storeId)
      if (!store) throw NotFound('store', storeId)
      if (store.owner_id !== userId) throw Unauthorized('not the owner of this store')
    }
    const page = { status: q.status, limit: q.pageSize, offset: (q.page - 1) * q.pageSize }
    const r = await orders.listSellerOrders(db, userId, storeId, page)
    return this.withItems(r, q)
  }

  private async withItems(r: { rows: orders.OrderRow[]; total: number }, q: ListQuery): Promise<OrderList> {
    const items = await orders.itemsOf(
      this.deps.db,
      r.rows.map((o) => o.order_id),
    )
    const byOrder = new Map<string, orders.OrderItemRow[]>()
    for (const i of items) {
      const list = byOrder.get(i.order_id)
      if (list) list.push(i)
      else byOrder.set(i.order_id, [i])
    }
    return {
      orders: r.rows.map((o) => toApi(o, byOrder.get(o.order_id) ?? [])),
      total: r.total,
      page: q.page,
      page_size: q.pageSize,
    }
  }

  async balance(userId: string): Promise<number> {
    const user = await users.findUser(this.deps.db, userId)
    if (!user) throw Unauthorized()
    return user.balance
  }
}

/**
 * Unregister: the user's open orders are settled before the account closes, so that nobody waits on
 * a closed account. Unpaid or paid-not-shipped orders are cancelled with their stock released and
 * paid ones refunded — as buyer (reason `buyer`) and in the user's stores (reason `seller`).
 * Shipped orders stay: the buyer (or the auto-receive sweep) still completes them, and the money
 * goes to the seller's balance even when that account is closed.
 */
export async function settleOpenOrders(tx: Tx, userId: string): Promise<void> {
  const open = await orders.openOrdersOf(tx, userId)
  const cancelled: string[] = []
  if (open.asBuyer.length > 0)
    for (const o of await orders.cancelOrders(tx, open.asBuyer, { by: 'buyer', userId }))
      cancelled.push(o.order_id)
  if (open.asSeller.length > 0) {
    await orders.lockUsersOf(tx, open.asSeller, 'buyer')
    for (const o of await orders.cancelOrders(tx, open.asSeller, { by: 'seller', userId }))
      cancelled.push(o.order_id)
  }
  // Unpaid orders already past their deadline are left to the expiry sweep (reason `timeout`).
  await orders.releaseStock(tx, cancelled)
}
