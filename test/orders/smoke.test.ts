import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { newShop, newUser, post, startApp, stockOf, type TestApp } from '../support/helpers.ts'

let t: TestApp
before(async () => {
  t = await startApp()
})
after(() => t.close())

test('a buyer orders and pays', async () => {
  const shop = await newShop(t.app, 2, 5)
  const buyer = await newUser(t.app, 'buyer')
  const o = await post(
    t.app,
    '/buyer/new_order',
    { user_id: buyer.userId, store_id: shop.storeId, books: [{ id: shop.bookIds[0], count: 2 }] },
    buyer.token,
  )
  assert.equal(o.status, 200, JSON.stringify(o.body))
  assert.equal(await stockOf(t.db, shop.storeId, shop.bookIds[0] as string), 3)
  const f = await post(t.app, '/buyer/add_funds', {
    user_id: buyer.userId,
    password: buyer.password,
    add_value: 1000,
  })
  assert.equal(f.status, 200)
  const p = await post(t.app, '/buyer/payment', {
    user_id: buyer.userId,
    password: buyer.password,
    order_id: o.body.order_id,
  })
  assert.equal(p.status, 200, JSON.stringify(p.body))
})
