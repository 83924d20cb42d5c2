/**
 * A believable shop for trying the web pages: sellers and stores, a few thousand books with drawn
 * cover pictures, buyers with money, orders in every status spread over the last weeks, and reviews — made
 * through the same services the server uses, so every balance, stock level and ledger entry is as
 * real use would leave it. Needs no catalogue file. Running it again on a database that already has
 * the demo shop changes nothing.
 */

import type { Config } from '../../src/config.ts'
import type { Db } from '../../src/db/db.ts'
import { Metrics } from '../../src/metrics.ts'
import { insertListings } from '../../src/repositories/listings.ts'
import { attachPictures } from '../../src/repositories/pictures.ts'
import { findStore } from '../../src/repositories/stores.ts'
import { PasswordHasher } from '../../src/security/passwords.ts'
import { AuthService } from '../../src/services/auth.ts'
import { BuyerService } from '../../src/services/buyer.ts'
import type { Deps } from '../../src/services/context.ts'
import { OrderService } from '../../src/services/orders.ts'
import { ReviewService } from '../../src/services/reviews.ts'
import { SellerService } from '../../src/services/seller.ts'
import { Rng, syntheticListing } from '../catalog/synthetic.ts'
import { coverPng } from './png.ts'

export interface DemoOptions {
  books: number
  orders: number
  buyers: number
  seed: number
  /** Called as work advances: (what, done, total). */
  progress?: (what: string, done: number, total: number) => void
}

export const DEMO_PASSWORD = 'demo'
export const DEMO_SELLERS = ['demo-seller-1', 'demo-seller-2', 'demo-seller-3']
const STORES = [
  ['demo-seller-1', '墨香书屋'],
  ['demo-seller-1', 'Riverside Books'],
  ['demo-seller-2', '南山书店'],
  ['demo-seller-3', '小城旧书铺'],
] as const
/** Distinct cover pictures; books share them (pictures are stored once per content). */
const COVERS = 48
const BATCH = 200
const REVIEW_TEXTS = [
  '内容扎实，翻译流畅，值得一读。',
  '包装很好，送货也快。',
  '比预想的更好看，一口气读完了。',
  '印刷清晰，纸张不错。',
  'A thoughtful book; the second half drags a little.',
  '适合入门，例子很多。',
  null,
  '有些章节略显啰嗦，但总体不错。',
]
const REPLY_TEXTS = ['谢谢你的评价！', '感谢支持，欢迎再来。', 'Thank you for the kind words!']

export type DemoResult = { created: false } | { created: true; books: number; orders: number }

export async function fillDemoShop(db: Db, config: Config, o: DemoOptions): Promise<DemoResult> {
  if (await findStore(db, STORES[0][1])) return { created: false }
  const deps: Deps = {
    db,
    config,
    hasher: new PasswordHasher(config.passwordMemoryKiB),
    metrics: new Metrics(db),
  }
  const auth = new AuthService(deps)
  const buyer = new BuyerService(deps, auth)
  const seller = new SellerService(deps)
  const orders = new OrderService(deps)
  const reviews = new ReviewService(deps)
  const r = new Rng(o.seed)
  const progress = o.progress ?? (() => {})

  const buyers = Array.from({ length: o.buyers }, (_, i) => `demo-buyer-${i + 1}`)
  for (const user of [...DEMO_SELLERS, ...buyers]) await auth.register(user, DEMO_PASSWORD)
  for (const [owner, store] of STORES) await seller.createStore(owner, store)
  for (const user of buyers) await buyer.addFunds(user, DEMO_PASSWORD, 200_000 + r.int(800_000))

  const storeIds = STORES.map(([, s]) => s)
  const covers = Array.from({ length: COVERS }, (_, i) => coverPng(i * 7 + o.seed))
  for (let from = 0; from < o.books; from += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, o.books - from) }, (_, i) =>
      syntheticListing(from + i, { seed: o.seed, storeIds, idPrefix: 'demo-' }),
    )
    await db.transaction(async (tx) => {
      await insertListings(tx, batch)
      for (const [i, l] of batch.entries())
        await attachPictures(tx, l.storeId, l.bookId, [covers[(from + i) % COVERS] as Buffer])
    })
    progress('books', from + batch.length, o.books)
  }

  // Orders in every status; a few lines each from one store's books that are in stock.
  const byStore = new Map<string, string[]>()
  for (let n = 0; n < o.books; n++) {
    const l = syntheticListing(n, { seed: o.seed, storeIds, idPrefix: 'demo-' })
    if (l.stockLevel >= 3) byStore.set(l.storeId, [...(byStore.get(l.storeId) ?? []), l.bookId])
  }
  let placed = 0
  for (let i = 0; i < o.orders; i++) {
    const user = r.pick(buyers)
    const storeId = r.pick(storeIds)
    const stocked = byStore.get(storeId) ?? []
    if (stocked.length === 0) continue
    const lines = Array.from({ length: 1 + r.int(3) }, () => ({ id: r.skewed(stocked), count: 1 + r.int(2) }))
    const owner = STORES.find(([, s]) => s === storeId)?.[0] as string
    try {
      const orderId = await buyer.newOrder(user, storeId, lines)
      const fate = r.next()
      if (fate < 0.12) {
        // left unpaid, waiting for its buyer
      } else if (fate < 0.2) await orders.cancel(user, orderId, 'buyer')
      else {
        await buyer.payment(user, orderId, DEMO_PASSWORD)
        if (fate < 0.26) await orders.cancel(owner, orderId, 'seller')
        else if (fate >= 0.45) {
          await orders.ship(owner, orderId)
          if (fate >= 0.6) {
            await orders.receive(user, orderId)
            // Most received books get a review, and some of those a reply from the store.
            for (const { id } of lines)
              if (r.next() < 0.7) {
                const reviewId = await reviews.post(user, {
                  orderId,
                  bookId: id,
                  rating: r.pick([5, 5, 5, 4, 4, 4, 3, 2, 1]),
                  text: r.pick(REVIEW_TEXTS),
                })
                if (r.next() < 0.3) await reviews.reply(owner, reviewId, r.pick(REPLY_TEXTS))
              }
          }
        }
      }
      if (fate >= 0.12) await backdate(db, orderId, 1 + r.int(29 * 24))
      placed++
    } catch {
      // Out of stock or of money after earlier orders: a real shop refuses those too.
    }
    progress('orders', i + 1, o.orders)
  }
  return { created: true, books: o.books, orders: placed }
}

/**
 * The demo's history is spread over the last weeks: an order that is no longer waiting for payment
 * is moved `hours` into the past, every timestamp alike (a shipped one at most 10 days, so that
 * auto-receive does not take it at once). Only times change; money and stock stay as the services
 * left them.
 */
async function backdate(db: Db, orderId: string, hours: number) {
  await db.query(
    `UPDATE orders SET
       created_at = created_at - make_interval(hours => h), expires_at = expires_at - make_interval(hours => h),
       paid_at = paid_at - make_interval(hours => h), shipped_at = shipped_at - make_interval(hours => h),
       received_at = received_at - make_interval(hours => h), cancelled_at = cancelled_at - make_interval(hours => h)
     FROM (SELECT CASE WHEN status = 'shipped' THEN least($2, 240) ELSE $2 END AS h
             FROM orders WHERE order_id = $1) AS shift
     WHERE order_id = $1 AND status <> 'unpaid'`,
    [orderId, hours],
  )
}
