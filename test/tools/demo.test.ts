/**
 * The demo shop: made through the services on a fresh database, it has books with pictures, orders
 * in every status and money that adds up; running it again changes nothing.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { fillDemoShop } from '../../tools/demo/shop.ts'
import { assertMoneyInvariants, countRows, rowsOf, startApp, type TestApp } from '../support/helpers.ts'

let t: TestApp
before(async () => {
  t = await startApp()
})
after(() => t.close())

test('the demo shop has sellers, books with covers, and orders in every status; a second run changes nothing', async () => {
  const seen: string[] = []
  const opts = { books: 60, orders: 60, buyers: 4, seed: 3, progress: (what: string) => seen.push(what) }
  const r = await fillDemoShop(t.db, t.config, opts)
  assert.equal(r.created, true)
  assert.ok(seen.includes('books') && seen.includes('orders'), 'progress is reported')
  assert.equal(await countRows(t.db, 'listings'), 60)
  const withoutPicture = await rowsOf(
    t.db,
    'SELECT 1 FROM listings l WHERE NOT EXISTS (SELECT 1 FROM listing_pictures p WHERE p.store_id = l.store_id AND p.book_id = l.book_id)',
  )
  assert.equal(withoutPicture.length, 0, 'every book has a cover')
  const statuses = await rowsOf<{ status: string }>(t.db, 'SELECT DISTINCT status FROM orders ORDER BY 1')
  assert.deepEqual(
    statuses.map((s) => s.status),
    ['cancelled', 'paid', 'received', 'shipped', 'unpaid'],
  )
  const past = await rowsOf(t.db, "SELECT 1 FROM orders WHERE paid_at < now() - interval '1 day'")
  assert.ok(past.length > 0, 'sales are spread over past days')
  assert.ok((await countRows(t.db, 'reviews')) > 0, 'received books are reviewed')
  await assertMoneyInvariants(t.db)
  const orders = await countRows(t.db, 'orders')
  assert.deepEqual(await fillDemoShop(t.db, t.config, opts), { created: false })
  assert.equal(await countRows(t.db, 'orders'), orders)
  assert.equal(await countRows(t.db, 'listings'), 60)
})
