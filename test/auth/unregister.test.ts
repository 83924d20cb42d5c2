import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Sweeper } from '../../src/services/sweeper.ts'
import {
  addFunds,
  assertMoneyInvariants,
  balanceOf,
  get,
  newShop,
  newUser,
  orderStatus,
  pay,
  placeOrder,
  post,
  salesOf,
  startApp,
  stockOf,
  type TestApp,
  type User,
} from '../support/helpers.ts'

let t: TestApp
before(async () => {
  t = await startApp({ sweeper: false, orderAutoReceiveS: 3600 })
})
after(() => t.close())

const unregister = (u: User, password = u.password) =>
  post(t.app, '/auth/unregister', { user_id: u.userId, password })
const reasonOf = async (id: string) =>
  (await t.db.query<{ cancel_reason: string }>('SELECT cancel_reason FROM orders WHERE order_id = $1', [id]))
    .rows[0]?.cancel_reason
const ship = (seller: User, id: string) =>
  post(t.app, '/seller/send_books', { user_id: seller.userId, order_id: id }, seller.token)

test('a buyer leaves: unpaid and paid orders are cancelled and refunded, shipped ones complete later', async () => {
  const shop = await newShop(t.app, 1, 20)
  const book = shop.bookIds[0] as string
  const buyer = await newUser(t.app, 'leaving')
  await addFunds(t.app, buyer, 5000)
  const unpaid = await placeOrder(t.app, buyer, shop, [[0, 1]])
  const paid = await placeOrder(t.app, buyer, shop, [[0, 2]])
  const shipped = await placeOrder(t.app, buyer, shop, [[0, 3]])
  const lapsed = await placeOrder(t.app, buyer, shop, [[0, 4]])
  for (const id of [paid, shipped]) assert.equal((await pay(t.app, buyer, id)).status, 200)
  assert.equal((await ship(shop.seller, shipped)).status, 200)
  await t.db.query(`UPDATE orders SET expires_at = now() - interval '1 second' WHERE order_id = $1`, [lapsed])
  assert.equal(await balanceOf(t.db, buyer.userId), 5000 - 500)

  assert.equal((await unregister(buyer, 'wrong')).status, 401)
  assert.equal((await unregister(buyer)).status, 200)
  assert.equal(await orderStatus(t.db, unpaid), 'cancelled')
  assert.equal(await orderStatus(t.db, paid), 'cancelled')
  assert.equal(await reasonOf(unpaid), 'buyer')
  assert.equal(await reasonOf(paid), 'buyer')
  assert.equal(await orderStatus(t.db, shipped), 'shipped')
  assert.equal(await orderStatus(t.db, lapsed), 'unpaid', 'past its deadline: left to the expiry sweep')
  assert.equal(await balanceOf(t.db, buyer.userId), 5000 - 300, 'the paid order was refunded')
  assert.equal(await stockOf(t.db, shop.storeId, book), 20 - 3 - 4)

  // The id stays taken, the sessions are gone; the seller still sees the orders.
  assert.equal((await post(t.app, '/auth/register', { user_id: buyer.userId, password: 'x' })).status, 512)
  assert.equal((await get(t.app, '/buyer/orders', buyer)).status, 401)
  assert.equal((await unregister(buyer)).status, 401)
  const seen = await get(t.app, '/seller/orders', shop.seller)
  assert.equal(seen.body.total, 4)

  // The shipped order is received automatically: the seller is paid.
  await t.db.query(`UPDATE orders SET shipped_at = now() - interval '2 hours' WHERE order_id = $1`, [shipped])
  const counts = await new Sweeper(t.db, t.config).runOnce()
  assert.deepEqual([counts.expired, counts.received], [1, 1])
  assert.equal(await orderStatus(t.db, shipped), 'received')
  assert.equal(await reasonOf(lapsed), 'timeout')
  assert.equal(await balanceOf(t.db, shop.seller.userId), 300)
  assert.equal(await stockOf(t.db, shop.storeId, book), 20 - 3)
  assert.equal(await salesOf(t.db, shop.storeId, book), 3)
  await assertMoneyInvariants(t.db)
})

test('a seller leaves: open orders in their stores are refused and refunded, shipped ones can still be received', async () => {
  const shop = await newShop(t.app, 2, 20)
  const alice = await newUser(t.app, 'alice')
  const bob = await newUser(t.app, 'bob')
  await addFunds(t.app, alice, 5000)
  await addFunds(t.app, bob, 5000)
  const aUnpaid = await placeOrder(t.app, alice, shop, [[0, 1]])
  const aPaid = await placeOrder(t.app, alice, shop, [[1, 1]])
  const bPaid = await placeOrder(t.app, bob, shop, [
    [0, 2],
    [1, 2],
  ])
  const bShipped = await placeOrder(t.app, bob, shop, [[0, 5]])
  for (const [u, id] of [
    [alice, aPaid],
    [bob, bPaid],
    [bob, bShipped],
  ] as const)
    assert.equal((await pay(t.app, u, id)).status, 200)
  assert.equal((await ship(shop.seller, bShipped)).status, 200)

  assert.equal((await unregister(shop.seller)).status, 200)
  for (const id of [aUnpaid, aPaid, bPaid]) {
    assert.equal(await orderStatus(t.db, id), 'cancelled')
    assert.equal(await reasonOf(id), 'seller')
  }
  assert.equal(await balanceOf(t.db, alice.userId), 5000)
  assert.equal(await balanceOf(t.db, bob.userId), 5000 - 500)
  assert.equal(await stockOf(t.db, shop.storeId, shop.bookIds[0] as string), 20 - 5)
  assert.equal(await stockOf(t.db, shop.storeId, shop.bookIds[1] as string), 20)

  // The store takes no new orders; its buyers can still read and finish their orders.
  const refused = await post(
    t.app,
    '/buyer/new_order',
    { user_id: alice.userId, store_id: shop.storeId, books: [{ id: shop.bookIds[0], count: 1 }] },
    alice.token,
  )
  assert.equal(refused.status, 513)
  assert.equal((await get(t.app, `/orders/${aPaid}`, alice)).status, 200)
  const r = await post(t.app, '/buyer/receive_books', { user_id: bob.userId, order_id: bShipped }, bob.token)
  assert.equal(r.status, 200)
  assert.equal(
    await balanceOf(t.db, shop.seller.userId),
    500,
    'a closed account still receives what it earned',
  )
  await assertMoneyInvariants(t.db)
})

test('unregister racing payments of the user’s orders: every order ends refunded or never paid', async () => {
  const shop = await newShop(t.app, 1, 50)
  const buyer = await newUser(t.app, 'racer')
  await addFunds(t.app, buyer, 10_000)
  const ids: string[] = []
  for (let i = 0; i < 6; i++) ids.push(await placeOrder(t.app, buyer, shop, [[0, 1]]))
  const rs = await Promise.all([unregister(buyer), ...ids.map((id) => pay(t.app, buyer, id))])
  assert.equal(rs[0]?.status, 200)
  for (const r of rs.slice(1)) assert.ok([200, 401, 524].includes(r.status), JSON.stringify(r))
  for (const id of ids) assert.equal(await orderStatus(t.db, id), 'cancelled')
  assert.equal(await balanceOf(t.db, buyer.userId), 10_000)
  assert.equal(await stockOf(t.db, shop.storeId, shop.bookIds[0] as string), 50)
  await assertMoneyInvariants(t.db)
})
