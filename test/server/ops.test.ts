import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { newShop, newUser, post, startApp, type TestApp } from '../support/helpers.ts'

let t: TestApp
before(async () => {
  t = await startApp({ sweepIntervalS: 0.05, orderPaymentTimeoutS: 0.05 })
})
after(() => t.close())

test('/metrics counts requests by route and result, orders by status, sweeps and the pool', async () => {
  const shop = await newShop(t.app, 1, 5)
  const buyer = await newUser(t.app, 'buyer')
  const order = await post(
    t.app,
    '/buyer/new_order',
    { user_id: buyer.userId, store_id: shop.storeId, books: [{ id: shop.bookIds[0], count: 1 }] },
    buyer.token,
  )
  assert.equal(order.status, 200)
  await post(
    t.app,
    '/buyer/new_order',
    { user_id: buyer.userId, store_id: 'nope', books: [{ id: 'x', count: 1 }] },
    buyer.token,
  )
  // The order expires and the sweep cancels it.
  for (let i = 0; i < 200; i++) {
    const r = await t.db.query<{ status: string }>('SELECT status FROM orders WHERE order_id = $1', [
      order.body.order_id,
    ])
    if (r.rows[0]?.status === 'cancelled') break
    await new Promise((r) => setTimeout(r, 50))
  }
  const res = await t.app.inject({ url: '/metrics' })
  assert.equal(res.statusCode, 200)
  assert.match(String(res.headers['content-type']), /^text\/plain/)
  const body = res.body
  assert.match(
    body,
    /bookstore_http_requests_total\{method="POST",route="\/buyer\/new_order",status="200"\} 1/,
  )
  assert.match(
    body,
    /bookstore_http_requests_total\{method="POST",route="\/buyer\/new_order",status="513"\} 1/,
  )
  assert.match(
    body,
    /bookstore_http_request_duration_seconds_bucket\{le="0.005",method="POST",route="\/auth\/login"/,
  )
  assert.match(body, /bookstore_orders\{status="cancelled"\} 1/)
  assert.match(body, /bookstore_orders\{status="unpaid"\} 0/)
  assert.match(body, /bookstore_sweep_runs_total\{task="expire",outcome="ok"\} [1-9]/)
  assert.match(body, /bookstore_sweep_items_total\{task="expire"\} 1/)
  assert.match(body, /bookstore_db_pool_connections\{state="total"\} \d+/)
})

test('/openapi.json gives result codes and the token scheme (docs/api.md ↔ routes: api-doc.test.ts)', async () => {
  const res = await t.app.inject({ url: '/openapi.json' })
  assert.equal(res.statusCode, 200)
  const doc = res.json() as {
    openapi: string
    paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown[] }>>
    components: { securitySchemes: Record<string, unknown> }
  }
  assert.match(doc.openapi, /^3\./)
  assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['bearer', 'token'])
  const newOrder = doc.paths['/buyer/new_order']?.post
  for (const code of ['400', '401', '511', '513', '515', '517'])
    assert.ok(newOrder?.responses[code], `new_order ${code}`)
  assert.deepEqual(newOrder?.security, [{ token: [] }, { bearer: [] }])
  // the catch-all for other 5xx answers does not call the listed business codes (511–525) bugs
  const serverErrors = (newOrder?.responses['5XX'] ?? newOrder?.responses['5xx']) as { description: string }
  assert.match(serverErrors.description, /other than the result codes listed above: 503/)
})

test('GET / is the web shop’s front page, and it links to the API description', async () => {
  const res = await t.app.inject({ url: '/' })
  assert.equal(res.statusCode, 200)
  assert.match(String(res.headers['content-type']), /^text\/html/)
  assert.match(res.body, /href="\/docs"/)
  assert.equal((await t.app.inject({ url: '/docs' })).statusCode, 200)
  assert.equal((await t.app.inject({ url: '/openapi.json' })).statusCode, 200)
})
