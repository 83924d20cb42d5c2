/**
 * new_order and payment are each one statement (no transaction around them): the session or the
 * remembered password is checked inside it, and a refusal writes nothing at all.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import {
  addFunds,
  balanceOf,
  newShop,
  newUser,
  orderStatus,
  placeOrder,
  post,
  salesOf,
  snapshotState,
  startApp,
  stockOf,
  type TestApp,
} from '../support/helpers.ts'

describe('new_order and payment as single statements', () => {
  let t: TestApp
  before(async () => {
    t = await startApp()
  })
  after(() => t.close())

  const order = (userId: string, storeId: string, books: { id: string; count: number }[], token?: string) =>
    post(t.app, '/buyer/new_order', { user_id: userId, store_id: storeId, books }, token)

  test('another user’s token, a stale one or none → 401 and nothing is reserved', async () => {
    const shop = await newShop(t.app, 2, 5)
    const buyer = await newUser(t.app, 'buyer')
    const other = await newUser(t.app, 'other')
    const books = [{ id: shop.bookIds[0] as string, count: 1 }]
    const before = await snapshotState(t.db)
    assert.equal((await order(buyer.userId, shop.storeId, books, other.token)).status, 401)
    assert.equal((await order(buyer.userId, shop.storeId, books)).status, 401)
    await t.db.query('UPDATE sessions SET expires_at = now() WHERE user_id = $1', [buyer.userId])
    const stale = await order(buyer.userId, shop.storeId, books, buyer.token)
    assert.equal(stale.status, 401)
    await t.db.query("UPDATE sessions SET expires_at = now() + interval '1 hour' WHERE user_id = $1", [
      buyer.userId,
    ])
    const afterRefusals = await snapshotState(t.db)
    assert.equal(afterRefusals.listings, before.listings, 'no stock taken')
    assert.equal(afterRefusals.orders, before.orders, 'no order written')
    assert.equal((await order(buyer.userId, shop.storeId, books, buyer.token)).status, 200)
    assert.equal(await stockOf(t.db, shop.storeId, shop.bookIds[0] as string), 4)
  })

  test('a bad token wins over an order too large to count', async () => {
    const shop = await newShop(t.app, 1, 5)
    const buyer = await newUser(t.app, 'buyer')
    const id = shop.bookIds[0] as string
    const huge = [
      { id, count: 1_000_000 },
      { id, count: 1_000_000 },
    ]
    assert.equal((await order(buyer.userId, shop.storeId, huge, 'not-a-token')).status, 401)
    assert.equal((await order(buyer.userId, shop.storeId, huge, buyer.token)).status, 400)
  })

  test('one short line → 517 naming it; the other lines keep their stock and sales', async () => {
    const shop = await newShop(t.app, 3, 5)
    const buyer = await newUser(t.app, 'buyer')
    const [a, b, c] = shop.bookIds as [string, string, string]
    const r = await order(
      buyer.userId,
      shop.storeId,
      [
        { id: a, count: 2 },
        { id: b, count: 6 },
        { id: c, count: 1 },
      ],
      buyer.token,
    )
    assert.equal(r.status, 517)
    assert.match(String(r.body.message), new RegExp(b))
    for (const id of [a, b, c]) {
      assert.equal(await stockOf(t.db, shop.storeId, id), 5)
      assert.equal(await salesOf(t.db, shop.storeId, id), 0)
    }
    const missing = await order(buyer.userId, shop.storeId, [{ id: 'no-such-book', count: 1 }], buyer.token)
    assert.equal(missing.status, 515)
  })

  test('a placed order takes stock and counts sales per line', async () => {
    const shop = await newShop(t.app, 2, 5)
    const buyer = await newUser(t.app, 'buyer')
    await placeOrder(t.app, buyer, shop, [
      [0, 2],
      [1, 3],
    ])
    assert.equal(await stockOf(t.db, shop.storeId, shop.bookIds[0] as string), 3)
    assert.equal(await salesOf(t.db, shop.storeId, shop.bookIds[0] as string), 2)
    assert.equal(await stockOf(t.db, shop.storeId, shop.bookIds[1] as string), 2)
    assert.equal(await salesOf(t.db, shop.storeId, shop.bookIds[1] as string), 3)
  })

  test('a remembered password whose hash changed underneath (another process) is checked again', async () => {
    const shop = await newShop(t.app, 1, 5)
    const buyer = await newUser(t.app, 'buyer')
    await addFunds(t.app, buyer, 1000) // verifies and remembers the password
    const first = await placeOrder(t.app, buyer, shop)
    const second = await placeOrder(t.app, buyer, shop)
    // Another server process changes the password: only the stored hash tells this one.
    const other = await newUser(t.app, 'other')
    await t.db.query(
      'UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE user_id = $2) WHERE user_id = $1',
      [buyer.userId, other.userId],
    )
    const stale = await post(t.app, '/buyer/payment', {
      user_id: buyer.userId,
      password: buyer.password,
      order_id: first,
    })
    assert.equal(stale.status, 401)
    assert.equal(await orderStatus(t.db, first), 'unpaid')
    assert.equal(await balanceOf(t.db, buyer.userId), 1000)
    const fresh = await post(t.app, '/buyer/payment', {
      user_id: buyer.userId,
      password: other.password,
      order_id: first,
    })
    assert.equal(fresh.status, 200)
    assert.equal(await orderStatus(t.db, first), 'paid')
    assert.equal(await balanceOf(t.db, buyer.userId), 900)
    // A closed account fails the remembered path as well.
    await t.db.query('UPDATE users SET closed_at = now(), password_hash = NULL WHERE user_id = $1', [
      buyer.userId,
    ])
    const closed = await post(t.app, '/buyer/payment', {
      user_id: buyer.userId,
      password: other.password,
      order_id: second,
    })
    assert.equal(closed.status, 401)
    assert.equal(await orderStatus(t.db, second), 'unpaid')
  })

  test('not enough money → 519 and nothing changes; a paid order cannot be paid again (525)', async () => {
    const shop = await newShop(t.app, 1, 5)
    const buyer = await newUser(t.app, 'buyer')
    await addFunds(t.app, buyer, 50)
    const id = await placeOrder(t.app, buyer, shop)
    const before = await snapshotState(t.db)
    const poor = await post(t.app, '/buyer/payment', {
      user_id: buyer.userId,
      password: buyer.password,
      order_id: id,
    })
    assert.equal(poor.status, 519)
    const after = await snapshotState(t.db)
    for (const table of ['users', 'orders', 'ledger'] as const)
      assert.equal(after[table], before[table], table)
    await addFunds(t.app, buyer, 50)
    const ok = await post(t.app, '/buyer/payment', {
      user_id: buyer.userId,
      password: buyer.password,
      order_id: id,
    })
    assert.equal(ok.status, 200)
    const again = await post(t.app, '/buyer/payment', {
      user_id: buyer.userId,
      password: buyer.password,
      order_id: id,
    })
    assert.equal(again.status, 525)
    assert.equal(await balanceOf(t.db, buyer.userId), 0)
  })
})
