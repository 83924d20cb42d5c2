import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import {
  addFunds,
  get,
  newShop,
  newUser,
  pay,
  placeOrder,
  post,
  type Shop,
  startApp,
  type TestApp,
  type User,
  uid,
} from '../support/helpers.ts'

let t: TestApp
let shopA: Shop
let shopB: Shop
let buyer: User
let other: User
/** The buyer's orders, oldest first, with the status each was taken to. */
const made: { id: string; store: string; status: string }[] = []

before(async () => {
  t = await startApp({ sweeper: false })
  shopA = await newShop(t.app, 2, 1000)
  shopB = await newShop(t.app, 2, 1000)
  buyer = await newUser(t.app, 'buyer')
  other = await newUser(t.app, 'other')
  await addFunds(t.app, buyer, 1_000_000)
  const plan = ['unpaid', 'paid', 'shipped', 'cancelled', 'paid', 'received']
  for (let i = 0; i < 25; i++) {
    const shop = i % 3 === 0 ? shopB : shopA
    const id = await placeOrder(t.app, buyer, shop, [[i % 2, 1 + (i % 4)]])
    const status = plan[i % plan.length] as string
    if (status === 'cancelled')
      await post(t.app, '/buyer/cancel_order', { user_id: buyer.userId, order_id: id }, buyer.token)
    if (['paid', 'shipped', 'received'].includes(status)) await pay(t.app, buyer, id)
    if (['shipped', 'received'].includes(status))
      await post(
        t.app,
        '/seller/send_books',
        { user_id: shop.seller.userId, order_id: id },
        shop.seller.token,
      )
    if (status === 'received')
      await post(t.app, '/buyer/receive_books', { user_id: buyer.userId, order_id: id }, buyer.token)
    made.push({ id, store: shop.storeId, status })
  }
  await placeOrder(t.app, other, shopA)
})
after(() => t.close())

type Listed = { order_id: string; status: string; store_id: string; items: unknown[] }
const ids = (body: Record<string, unknown>) => (body.orders as Listed[]).map((o) => o.order_id)
const newestFirst = (xs: typeof made) => [...xs].reverse().map((o) => o.id)

test('buyer orders: newest first, 20 a page by default, with the total', async () => {
  const r = await get(t.app, '/buyer/orders', buyer)
  assert.equal(r.status, 200)
  assert.equal(r.body.total, 25)
  assert.equal(r.body.page, 1)
  assert.equal(r.body.page_size, 20)
  assert.deepEqual(ids(r.body), newestFirst(made).slice(0, 20))
  const p2 = await get(t.app, '/buyer/orders', buyer, { page: 2 })
  assert.deepEqual(ids(p2.body), newestFirst(made).slice(20))
  const p3 = await get(t.app, '/buyer/orders', buyer, { page: 3 })
  assert.deepEqual(p3.body.orders, [])
  assert.equal(p3.body.total, 25)
})

test('buyer orders: the status filter applies before paging; every page is full but the last', async () => {
  for (const status of ['unpaid', 'paid', 'shipped', 'received', 'cancelled']) {
    const want = newestFirst(made.filter((o) => o.status === status))
    const got: string[] = []
    for (let page = 1; page <= 10; page++) {
      const r = await get(t.app, '/buyer/orders', buyer, { status, page, page_size: 3 })
      assert.equal(r.status, 200)
      assert.equal(r.body.total, want.length, status)
      const page_ids = ids(r.body)
      if (page_ids.length === 0) break
      if (got.length + page_ids.length < want.length) assert.equal(page_ids.length, 3)
      for (const o of r.body.orders as Listed[]) assert.equal(o.status, status)
      got.push(...page_ids)
    }
    assert.deepEqual(got, want, status)
  }
})

test('other buyers see only their own orders', async () => {
  const r = await get(t.app, '/buyer/orders', other)
  assert.equal(r.body.total, 1)
})

test('items keep the title and price they had when ordered', async () => {
  const first = made[0] as (typeof made)[number]
  const book = shopB.bookIds[0] as string
  await t.db.query(
    `UPDATE listings SET title = 'Renamed', price = 99999 WHERE store_id = $1 AND book_id = $2`,
    [shopB.storeId, book],
  )
  const r = await get(t.app, `/orders/${first.id}`, buyer)
  const order = r.body as unknown as { items: unknown[]; total_price: number }
  assert.deepEqual(order.items, [{ book_id: book, title: `Title of ${book}`, count: 1, price: 100 }])
  assert.equal(order.total_price, 100)
  const listed = (await get(t.app, '/buyer/orders', buyer, { page: 2 })).body.orders as Listed[]
  assert.deepEqual(listed.at(-1)?.items, order.items)
})

test('seller orders: all stores merged newest first, or one store; paging matches the whole list', async () => {
  // shopA's seller opens a second store: orders of both show up.
  const second = uid('store')
  assert.equal(
    (
      await post(
        t.app,
        '/seller/create_store',
        { user_id: shopA.seller.userId, store_id: second },
        shopA.seller.token,
      )
    ).status,
    200,
  )
  const book = uid('book')
  await post(
    t.app,
    '/seller/add_book',
    {
      user_id: shopA.seller.userId,
      store_id: second,
      book_info: { id: book, title: 'B', price: 5 },
      stock_level: 5,
    },
    shopA.seller.token,
  )
  const extra = await placeOrder(t.app, other, { seller: shopA.seller, storeId: second, bookIds: [book] })
  const all = await get(t.app, '/seller/orders', shopA.seller, { page_size: 100 })
  assert.equal(all.status, 200)
  const inA = made.filter((o) => o.store === shopA.storeId)
  assert.equal(all.body.total, inA.length + 2)
  const full = ids(all.body)
  assert.equal(full[0], extra)
  const paged: string[] = []
  for (let page = 1; page <= 20; page++) {
    const r = await get(t.app, '/seller/orders', shopA.seller, { page, page_size: 4 })
    if ((r.body.orders as Listed[]).length === 0) break
    paged.push(...ids(r.body))
  }
  assert.deepEqual(paged, full)

  const one = await get(t.app, '/seller/orders', shopA.seller, { store_id: second })
  assert.deepEqual(ids(one.body), [extra])
  const b = await get(t.app, '/seller/orders', shopB.seller, { status: 'paid' })
  assert.deepEqual(
    ids(b.body),
    newestFirst(made.filter((o) => o.store === shopB.storeId && o.status === 'paid')),
  )
  assert.equal(b.body.total, made.filter((o) => o.store === shopB.storeId && o.status === 'paid').length)
})

test('seller orders: someone else’s store is 401, an unknown store 513, no stores an empty list', async () => {
  assert.equal((await get(t.app, '/seller/orders', shopA.seller, { store_id: shopB.storeId })).status, 401)
  assert.equal((await get(t.app, '/seller/orders', shopA.seller, { store_id: 'nowhere' })).status, 513)
  const none = await get(t.app, '/seller/orders', buyer)
  assert.equal(none.status, 200)
  assert.deepEqual(none.body.orders, [])
  assert.equal(none.body.total, 0)
})
