import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Db } from '../../src/db/db.ts'
import { Sweeper } from '../../src/services/sweeper.ts'
import {
  addFunds,
  assertMoneyInvariants,
  balanceOf,
  ENGINE,
  ledgerOf,
  newShop,
  newUser,
  orderStatus,
  pay,
  placeOrder,
  post,
  type Reply,
  type Shop,
  salesOf,
  startApp,
  stockOf,
  type TestApp,
  type User,
} from '../support/helpers.ts'

let t: TestApp
before(async () => {
  t = await startApp({ sweeper: false, orderAutoReceiveS: 3600 }, { poolSize: 20 })
})
after(() => t.close())

const act = (path: string, user: User, orderId: string) =>
  post(t.app, path, { user_id: user.userId, order_id: orderId }, user.token)
const ship = (s: Shop, id: string) => act('/seller/send_books', s.seller, id)
const receive = (b: User, id: string) => act('/buyer/receive_books', b, id)
const codes = (rs: Reply[]) =>
  rs
    .map((r) => r.status)
    .sort()
    .join(',')
const times = (n: number, code: number) => Array(n).fill(code).join(',')

async function setup(stock = 100, funds = 1_000_000) {
  const shop = await newShop(t.app, 2, stock)
  const buyer = await newUser(t.app, 'buyer')
  await addFunds(t.app, buyer, funds)
  return { shop, buyer }
}

const refundRows = async (db: Db, orderId: string) =>
  (await db.query('SELECT 1 FROM ledger WHERE order_id = $1 AND kind = $2', [orderId, 'refund'])).rowCount

test(`[${ENGINE}] 8 payments of one order: exactly one 200, the others 525, one debit`, async () => {
  const { shop, buyer } = await setup()
  const id = await placeOrder(t.app, buyer, shop, [[0, 3]])
  const rs = await Promise.all(Array.from({ length: 8 }, () => pay(t.app, buyer, id)))
  assert.equal(codes(rs), `200,${times(7, 525)}`)
  assert.equal(await balanceOf(t.db, buyer.userId), 1_000_000 - 300)
  assert.equal((await ledgerOf(t.db, buyer.userId)).filter((l) => l.kind === 'payment').length, 1)
  await assertMoneyInvariants(t.db)
})

test(`[${ENGINE}] payments of many orders with money for only some: no overdraft`, async () => {
  const { shop, buyer } = await setup(100, 1000)
  const ids: string[] = []
  for (let i = 0; i < 8; i++) ids.push(await placeOrder(t.app, buyer, shop, [[1, 1]]))
  const rs = await Promise.all(ids.map((id) => pay(t.app, buyer, id)))
  assert.equal(codes(rs), `${times(5, 200)},${times(3, 519)}`)
  assert.equal(await balanceOf(t.db, buyer.userId), 0)
  await assertMoneyInvariants(t.db)
})

test(`[${ENGINE}] pay vs buyer cancel vs seller cancel, 12 rounds: one consistent outcome each`, async () => {
  const { shop, buyer } = await setup()
  for (let round = 0; round < 12; round++) {
    const id = await placeOrder(t.app, buyer, shop, [
      [0, 2],
      [1, 1],
    ])
    const before = await balanceOf(t.db, buyer.userId)
    const ops = [
      () => pay(t.app, buyer, id),
      () => act('/buyer/cancel_order', buyer, id),
      () => act('/seller/cancel_order', shop.seller, id),
    ]
    // Vary who starts first.
    const order = round % 2 === 0 ? ops : [...ops].reverse()
    const [a, b, c] = await Promise.all(order.map((f) => f()))
    const [payR, buyerR, sellerR] = (round % 2 === 0 ? [a, b, c] : [c, b, a]) as [Reply, Reply, Reply]
    // Exactly one cancel wins, the other sees 524.
    assert.equal(codes([buyerR, sellerR]), '200,524')
    assert.equal(await orderStatus(t.db, id), 'cancelled')
    if (payR.status === 200)
      assert.equal(await refundRows(t.db, id), 1, 'paid first, then cancelled: refunded')
    else {
      assert.equal(payR.status, 524)
      assert.equal(await refundRows(t.db, id), 0)
    }
    assert.equal(await balanceOf(t.db, buyer.userId), before, 'the buyer ends where they started')
  }
  assert.equal(await stockOf(t.db, shop.storeId, shop.bookIds[0] as string), 100)
  assert.equal(await stockOf(t.db, shop.storeId, shop.bookIds[1] as string), 100)
  assert.equal(await salesOf(t.db, shop.storeId, shop.bookIds[0] as string), 0)
  await assertMoneyInvariants(t.db)
})

test(`[${ENGINE}] ship twice (6 at once): one 200, five 522`, async () => {
  const { shop, buyer } = await setup()
  const id = await placeOrder(t.app, buyer, shop, [[0, 1]])
  assert.equal((await pay(t.app, buyer, id)).status, 200)
  const rs = await Promise.all(Array.from({ length: 6 }, () => ship(shop, id)))
  assert.equal(codes(rs), `200,${times(5, 522)}`)
  assert.equal(await orderStatus(t.db, id), 'shipped')
})

test(`[${ENGINE}] receive twice (6 at once) and the auto-receive sweep: one release`, async () => {
  const { shop, buyer } = await setup()
  const id = await placeOrder(t.app, buyer, shop, [[1, 3]])
  assert.equal((await pay(t.app, buyer, id)).status, 200)
  assert.equal((await ship(shop, id)).status, 200)
  await t.db.query(`UPDATE orders SET shipped_at = now() - interval '2 hours' WHERE order_id = $1`, [id])
  const sweeper = new Sweeper(t.db, t.config)
  const [s1, s2, ...rs] = await Promise.all([
    sweeper.runOnce(),
    sweeper.runOnce(),
    ...Array.from({ length: 6 }, () => receive(buyer, id)),
  ])
  const wins = (rs as Reply[]).filter((r) => r.status === 200).length + s1.received + s2.received
  assert.equal(wins, 1)
  for (const r of rs as Reply[]) assert.ok([200, 521].includes(r.status))
  assert.equal(await balanceOf(t.db, shop.seller.userId), 600)
  assert.equal((await ledgerOf(t.db, shop.seller.userId)).length, 1)
  await assertMoneyInvariants(t.db)
})

test(`[${ENGINE}] ship vs cancel, 10 rounds: either shipped (cancel 522) or cancelled and refunded (ship 524)`, async () => {
  const { shop, buyer } = await setup()
  for (let round = 0; round < 10; round++) {
    const id = await placeOrder(t.app, buyer, shop, [[0, 1]])
    assert.equal((await pay(t.app, buyer, id)).status, 200)
    const [s, c] = await Promise.all([
      ship(shop, id),
      act(round % 2 ? '/seller/cancel_order' : '/buyer/cancel_order', round % 2 ? shop.seller : buyer, id),
    ])
    if (s.status === 200) {
      assert.equal(c.status, 522)
      assert.equal(await orderStatus(t.db, id), 'shipped')
    } else {
      assert.equal(s.status, 524)
      assert.equal(c.status, 200)
      assert.equal(await refundRows(t.db, id), 1)
    }
  }
  const shipped = await t.db.query<{ n: number }>(
    `SELECT coalesce(sum(i.count), 0)::int AS n FROM orders o JOIN order_items i USING (order_id)
      WHERE o.store_id = $1 AND o.status <> 'cancelled'`,
    [shop.storeId],
  )
  assert.equal(await stockOf(t.db, shop.storeId, shop.bookIds[0] as string), 100 - (shipped.rows[0]?.n ?? 0))
  await assertMoneyInvariants(t.db)
})

test(`[${ENGINE}] orders and cancels of a scarce book, all at once: stock never lost or oversold`, async () => {
  const { shop } = await setup(10)
  const buyers = await Promise.all(Array.from({ length: 6 }, () => newUser(t.app, 'crowd')))
  const book = shop.bookIds[0] as string
  const placed = await Promise.all(
    buyers.flatMap((b) =>
      [1, 2].map(() =>
        post(
          t.app,
          '/buyer/new_order',
          { user_id: b.userId, store_id: shop.storeId, books: [{ id: book, count: 2 }] },
          b.token,
        ),
      ),
    ),
  )
  const won = placed.filter((r) => r.status === 200)
  assert.equal(won.length, 5, 'ten copies, two per order')
  for (const r of placed) assert.ok([200, 517].includes(r.status))
  assert.equal(await stockOf(t.db, shop.storeId, book), 0)
  // Every buyer now cancels whatever they won while others order again.
  const ownerOf = new Map(
    placed.map((r, i) => [r.body.order_id as string, buyers[Math.floor(i / 2)] as User]),
  )
  const again = await Promise.all([
    ...won.map((r) => {
      const id = r.body.order_id as string
      return act('/buyer/cancel_order', ownerOf.get(id) as User, id)
    }),
    ...buyers.map((b) =>
      post(
        t.app,
        '/buyer/new_order',
        { user_id: b.userId, store_id: shop.storeId, books: [{ id: book, count: 3 }] },
        b.token,
      ),
    ),
  ])
  for (const r of again.slice(0, won.length)) assert.equal(r.status, 200)
  const reorders = again.slice(won.length).filter((r) => r.status === 200).length
  assert.equal(await stockOf(t.db, shop.storeId, book), 10 - 3 * reorders)
  assert.equal(await salesOf(t.db, shop.storeId, book), 3 * reorders)
})
