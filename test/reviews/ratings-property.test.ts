/**
 * Property: whatever sequence of reviews, edits and deletes arrives, many of them at once, every
 * listing's kept star counts equal count(*) per rating over its reviews, and the rating the API shows
 * (listing, review list, search hit) is avg() and count() over them.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import fc from 'fast-check'
import {
  addFunds,
  call,
  newShop,
  newUser,
  pay,
  placeOrder,
  post,
  rowsOf,
  type Shop,
  startApp,
  type TestApp,
  type User,
} from '../support/helpers.ts'

let t: TestApp
let shop: Shop
const BUYERS = 3
const ORDERS_PER_BUYER = 2
const BOOKS = 3
/** Every buyer's received orders, each holding every book. */
const orders: { buyer: User; orderId: string }[] = []

before(async () => {
  t = await startApp({ sweeper: false })
  shop = await newShop(t.app, BOOKS, 100)
  for (let b = 0; b < BUYERS; b++) {
    const buyer = await newUser(t.app, 'rater')
    await addFunds(t.app, buyer, 1_000_000)
    for (let o = 0; o < ORDERS_PER_BUYER; o++) {
      const orderId = await placeOrder(
        t.app,
        buyer,
        shop,
        Array.from({ length: BOOKS }, (_, i) => [i, 1] as [number, number]),
      )
      assert.equal((await pay(t.app, buyer, orderId)).status, 200)
      const act = { user_id: shop.seller.userId, order_id: orderId }
      assert.equal((await post(t.app, '/seller/send_books', act, shop.seller.token)).status, 200)
      const mine = { user_id: buyer.userId, order_id: orderId }
      assert.equal((await post(t.app, '/buyer/receive_books', mine, buyer.token)).status, 200)
      orders.push({ buyer, orderId })
    }
  }
})
after(() => t.close())

type Command =
  | { kind: 'post'; order: number; book: number; rating: number; text: boolean }
  | { kind: 'delete'; order: number; book: number }

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    kind: fc.constant('post' as const),
    order: fc.nat(BUYERS * ORDERS_PER_BUYER - 1),
    book: fc.nat(BOOKS - 1),
    rating: fc.integer({ min: 1, max: 5 }),
    text: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('delete' as const),
    order: fc.nat(BUYERS * ORDERS_PER_BUYER - 1),
    book: fc.nat(BOOKS - 1),
  }),
)

async function run(c: Command): Promise<void> {
  const { buyer, orderId } = orders[c.order] as { buyer: User; orderId: string }
  const bookId = shop.bookIds[c.book] as string
  if (c.kind === 'post') {
    const body = { user_id: buyer.userId, order_id: orderId, book_id: bookId, rating: c.rating }
    const r = await post(
      t.app,
      '/buyer/review',
      c.text ? { ...body, text: `${c.rating} stars` } : body,
      buyer.token,
    )
    assert.equal(r.status, 200, JSON.stringify(r.body))
    return
  }
  const [row] = await rowsOf<{ review_id: string }>(
    t.db,
    'SELECT review_id FROM reviews WHERE order_id = $1 AND book_id = $2',
    [orderId, bookId],
  )
  const r = await post(
    t.app,
    '/buyer/delete_review',
    { user_id: buyer.userId, review_id: row?.review_id ?? 'not-reviewed' },
    buyer.token,
  )
  // Gone already (never posted, or a simultaneous delete won): 527.
  assert.ok(r.status === 200 || r.status === 527, JSON.stringify(r.body))
}

async function assertRatingsExact(): Promise<void> {
  const rows = await rowsOf<{
    book_id: string
    doc: number
    kept: number[]
    actual: number[]
    avg: number | null
    count: number
    kept_average: number | null
  }>(
    t.db,
    `SELECT lr.book_id, lr.doc, ARRAY[lr.n1, lr.n2, lr.n3, lr.n4, lr.n5] AS kept,
            ARRAY(SELECT count(r.review_id)::int FROM generate_series(1, 5) g
                    LEFT JOIN reviews r ON r.rating = g AND r.store_id = lr.store_id AND r.book_id = lr.book_id
                   GROUP BY g ORDER BY g) AS actual,
            (SELECT avg(r.rating)::float8 FROM reviews r WHERE r.store_id = lr.store_id AND r.book_id = lr.book_id) AS avg,
            (SELECT count(*)::int FROM reviews r WHERE r.store_id = lr.store_id AND r.book_id = lr.book_id) AS count,
            lr.average AS kept_average
       FROM listing_ratings lr WHERE lr.store_id = $1 ORDER BY lr.book_id`,
    [shop.storeId],
  )
  assert.equal(rows.length, BOOKS)
  const enc = encodeURIComponent
  const hits = (await call(t.app, 'GET', `/search/books?store_id=${enc(shop.storeId)}&sort=rating_desc`)).body
    .books as { book_id: string; rating_average: number | null; rating_count: number }[]
  for (const row of rows) {
    assert.deepEqual(row.kept, row.actual, `star counts of ${row.book_id}`)
    const rounded = row.avg === null ? null : Math.round(row.avg * 100 + 1e-9) / 100
    if (row.avg === null) assert.equal(row.kept_average, null)
    else assert.ok(Math.abs((row.kept_average ?? 0) - row.avg) < 1e-9, `average of ${row.book_id}`)
    const listing = await call(t.app, 'GET', `/stores/${enc(shop.storeId)}/books/${enc(row.book_id)}`)
    assert.deepEqual(listing.body.rating, { average: rounded, count: row.count })
    const list = await call(t.app, 'GET', `/stores/${enc(shop.storeId)}/books/${enc(row.book_id)}/reviews`)
    assert.equal(list.body.total, row.count)
    const rating = list.body.rating as {
      average: number | null
      count: number
      histogram: Record<string, number>
    }
    assert.deepEqual(rating, {
      average: rounded,
      count: row.count,
      histogram: Object.fromEntries(row.actual.map((n, i) => [String(i + 1), n])),
    })
    const hit = hits.find((h) => h.book_id === row.book_id)
    assert.deepEqual([hit?.rating_average, hit?.rating_count], [rounded, row.count])
  }
  // sort=rating_desc: highest average, then more ratings, then newest; unrated last.
  const expected = [...rows]
    .sort((a, b) =>
      a.avg === null || b.avg === null
        ? (a.avg === null ? 1 : 0) - (b.avg === null ? 1 : 0) || b.doc - a.doc
        : b.avg - a.avg || b.count - a.count || b.doc - a.doc,
    )
    .map((r) => r.book_id)
  assert.deepEqual(
    hits.map((h) => h.book_id),
    expected,
  )
}

test('star counts and averages equal count() and avg() over the reviews after random concurrent sequences', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(command, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 5 }),
      async (batches) => {
        // Each batch is sent at once; batches one after another.
        for (const batch of batches) {
          await Promise.all(batch.map(run))
          await assertRatingsExact()
        }
      },
    ),
    { numRuns: 25, seed: Number(process.env.FC_SEED ?? 42), endOnFailure: true },
  )
})
