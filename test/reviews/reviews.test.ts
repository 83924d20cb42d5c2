import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import {
  addFunds,
  call,
  countRows,
  newShop,
  newUser,
  pay,
  placeOrder,
  post,
  type Reply,
  rowsOf,
  type Shop,
  snapshotState,
  startApp,
  type TestApp,
  type User,
} from '../support/helpers.ts'

let t: TestApp
before(async () => {
  t = await startApp({ sweeper: false })
})
after(() => t.close())

function expect(r: Reply, status: number) {
  assert.equal(r.status, status, JSON.stringify(r.body))
  assert.equal(typeof r.body.message, 'string')
}

const review = (buyer: User, orderId: string, bookId: string, rating: unknown, text?: unknown) =>
  post(
    t.app,
    '/buyer/review',
    {
      user_id: buyer.userId,
      order_id: orderId,
      book_id: bookId,
      rating,
      ...(text === undefined ? {} : { text }),
    },
    buyer.token,
  )
const deleteReview = (user: User, reviewId: string) =>
  post(t.app, '/buyer/delete_review', { user_id: user.userId, review_id: reviewId }, user.token)
const reply = (user: User, reviewId: string, text: unknown) =>
  post(t.app, '/seller/reply_review', { user_id: user.userId, review_id: reviewId, text }, user.token)
const listReviews = (storeId: string, bookId: string, query = '') =>
  call(
    t.app,
    'GET',
    `/stores/${encodeURIComponent(storeId)}/books/${encodeURIComponent(bookId)}/reviews${query}`,
  )
const listing = (storeId: string, bookId: string) =>
  call(t.app, 'GET', `/stores/${encodeURIComponent(storeId)}/books/${encodeURIComponent(bookId)}`)

/** Takes an order through payment and shipping, and (unless `upTo` stops earlier) receipt. */
async function orderThrough(
  buyer: User,
  shop: Shop,
  upTo: 'unpaid' | 'paid' | 'shipped' | 'received' = 'received',
  lines: [number, number][] = [
    [0, 1],
    [1, 1],
  ],
): Promise<string> {
  const orderId = await placeOrder(t.app, buyer, shop, lines)
  if (upTo === 'unpaid') return orderId
  expect(await pay(t.app, buyer, orderId), 200)
  if (upTo === 'paid') return orderId
  const act = { user_id: shop.seller.userId, order_id: orderId }
  expect(await post(t.app, '/seller/send_books', act, shop.seller.token), 200)
  if (upTo === 'shipped') return orderId
  expect(
    await post(t.app, '/buyer/receive_books', { user_id: buyer.userId, order_id: orderId }, buyer.token),
    200,
  )
  return orderId
}

async function buyerWithMoney(): Promise<User> {
  const buyer = await newUser(t.app, 'buyer')
  await addFunds(t.app, buyer, 1_000_000)
  return buyer
}

/** What the database holds for a listing: its reviews' ratings and its kept star counts. */
async function ratingState(storeId: string, bookId: string) {
  const [kept] = await rowsOf<{ n: number[]; count: number; average: number | null }>(
    t.db,
    `SELECT ARRAY[n1, n2, n3, n4, n5] AS n, rating_count AS count, average FROM listing_ratings
      WHERE store_id = $1 AND book_id = $2`,
    [storeId, bookId],
  )
  const [actual] = await rowsOf<{ n: number[]; count: number; average: number | null }>(
    t.db,
    `SELECT ARRAY(SELECT count(r.review_id)::int FROM generate_series(1, 5) g
                    LEFT JOIN reviews r ON r.rating = g AND r.store_id = $1 AND r.book_id = $2
                   GROUP BY g ORDER BY g) AS n,
            (SELECT count(*)::int FROM reviews WHERE store_id = $1 AND book_id = $2) AS count,
            (SELECT avg(rating)::float8 FROM reviews WHERE store_id = $1 AND book_id = $2) AS average`,
    [storeId, bookId],
  )
  return { kept, actual }
}

describe('posting a review', () => {
  test('a received order line is reviewed; the review, the listing rating and the histogram show it', async () => {
    const shop = await newShop(t.app, 2)
    const buyer = await buyerWithMoney()
    const orderId = await orderThrough(buyer, shop)
    const [bookId] = shop.bookIds as [string]
    const r = await review(buyer, orderId, bookId, 4, '好书')
    expect(r, 200)
    const reviewId = r.body.review_id as string
    assert.match(reviewId, /^[0-9a-f-]{36}$/)

    const list = await listReviews(shop.storeId, bookId)
    expect(list, 200)
    assert.equal(list.body.total, 1)
    const [shown] = list.body.reviews as Record<string, unknown>[]
    assert.deepEqual(
      { ...shown, created_at: undefined, updated_at: undefined },
      {
        review_id: reviewId,
        buyer_id: buyer.userId,
        order_id: orderId,
        store_id: shop.storeId,
        book_id: bookId,
        rating: 4,
        text: '好书',
        created_at: undefined,
        updated_at: undefined,
        reply: null,
        replied_at: null,
      },
    )
    assert.equal(shown?.created_at, shown?.updated_at)
    assert.deepEqual(list.body.rating, {
      average: 4,
      count: 1,
      histogram: { 1: 0, 2: 0, 3: 0, 4: 1, 5: 0 },
    })
    const l = await listing(shop.storeId, bookId)
    expect(l, 200)
    assert.deepEqual(l.body.rating, { average: 4, count: 1 })
    // The other line of the order is not reviewed, and its listing is unrated.
    const other = await listing(shop.storeId, shop.bookIds[1] as string)
    assert.deepEqual(other.body.rating, { average: null, count: 0 })
  })

  test('posting again for the same line edits rating and text (one review, updated_at moves)', async () => {
    const shop = await newShop(t.app, 2)
    const buyer = await buyerWithMoney()
    const orderId = await orderThrough(buyer, shop)
    const bookId = shop.bookIds[0] as string
    const first = await review(buyer, orderId, bookId, 2, 'meh')
    const before = (await listReviews(shop.storeId, bookId)).body.reviews as { updated_at: string }[]
    await new Promise((r) => setTimeout(r, 5))
    const second = await review(buyer, orderId, bookId, 5)
    expect(second, 200)
    assert.equal(second.body.review_id, first.body.review_id)
    const list = await listReviews(shop.storeId, bookId)
    const [shown] = list.body.reviews as {
      rating: number
      text: string | null
      updated_at: string
      created_at: string
    }[]
    assert.equal(list.body.total, 1)
    assert.equal(shown?.rating, 5)
    assert.equal(shown?.text, null, 'an edit without text clears the text')
    assert.ok((shown?.updated_at ?? '') > (before[0]?.updated_at ?? ''), 'updated_at changes')
    assert.equal(shown?.created_at, before[0]?.updated_at)
    assert.deepEqual(list.body.rating, { average: 5, count: 1, histogram: { 1: 0, 2: 0, 3: 0, 4: 0, 5: 1 } })
  })

  test('each line of an order, and each order of the same book, has its own review', async () => {
    const shop = await newShop(t.app, 2)
    const buyer = await buyerWithMoney()
    const o1 = await orderThrough(buyer, shop)
    const o2 = await orderThrough(buyer, shop)
    const [b0, b1] = shop.bookIds as [string, string]
    expect(await review(buyer, o1, b0, 5), 200)
    expect(await review(buyer, o1, b1, 1), 200)
    expect(await review(buyer, o2, b0, 2), 200)
    const list = await listReviews(shop.storeId, b0)
    assert.equal(list.body.total, 2)
    assert.deepEqual(list.body.rating, {
      average: 3.5,
      count: 2,
      histogram: { 1: 0, 2: 1, 3: 0, 4: 0, 5: 1 },
    })
    const mine = await t.app.services.reviews.forOrder(buyer.userId, o1)
    assert.deepEqual(
      mine.map((r) => [r.book_id, r.rating]),
      [
        [b0, 5],
        [b1, 1],
      ].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)),
    )
    assert.deepEqual(await t.app.services.reviews.forOrder(buyer.userId, await orderThrough(buyer, shop)), [])
  })

  test('refusals: 401 not the buyer, 518, 515 book not in the order, 526 not received; nothing written', async () => {
    const shop = await newShop(t.app, 3)
    const buyer = await buyerWithMoney()
    const stranger = await buyerWithMoney()
    const received = await orderThrough(buyer, shop)
    const [b0, , b2] = shop.bookIds as [string, string, string]
    const before = await snapshotState(t.db)
    expect(await review(stranger, received, b0, 5), 401)
    expect(await review(shop.seller, received, b0, 5), 401)
    expect(await review(buyer, 'no-such-order', b0, 5), 518)
    expect(await review(buyer, received, b2, 5), 515)
    expect(await review(buyer, received, 'no-such-book', 5), 515)
    for (const state of ['unpaid', 'paid', 'shipped'] as const) {
      const orderId = await orderThrough(buyer, shop, state)
      const snap = await snapshotState(t.db)
      const r = await review(buyer, orderId, b0, 3)
      expect(r, 526)
      assert.match(r.body.message, /not received/)
      assert.deepEqual(await snapshotState(t.db), snap, `nothing written for a ${state} order`)
    }
    const cancelled = await orderThrough(buyer, shop, 'unpaid')
    expect(
      await post(t.app, '/buyer/cancel_order', { user_id: buyer.userId, order_id: cancelled }, buyer.token),
      200,
    )
    expect(await review(buyer, cancelled, b0, 3), 526)
    assert.equal(await countRows(t.db, `reviews WHERE store_id = '${shop.storeId}'`), 0)
    // The refused posts above the loop wrote nothing either.
    assert.equal((await snapshotState(t.db)).reviews, before.reviews)
  })

  test('400: rating outside 1–5 or not an integer, text over 2000 characters, missing fields', async () => {
    const shop = await newShop(t.app, 1)
    const buyer = await buyerWithMoney()
    const orderId = await orderThrough(buyer, shop, 'received', [[0, 1]])
    const bookId = shop.bookIds[0] as string
    for (const rating of [0, 6, -1, 2.5, '5', null, 1e9]) {
      const r = await review(buyer, orderId, bookId, rating)
      expect(r, 400)
      assert.match(r.body.message, /rating/)
    }
    const long = await review(buyer, orderId, bookId, 5, 'x'.repeat(2001))
    expect(long, 400)
    assert.match(long.body.message, /text/)
    expect(await review(buyer, orderId, bookId, 5, 42), 400)
    expect(
      await post(
        t.app,
        '/buyer/review',
        { user_id: buyer.userId, order_id: orderId, rating: 5 },
        buyer.token,
      ),
      400,
    )
    expect(await review(buyer, orderId, bookId, 5, 'x'.repeat(2000)), 200)
    expect(await review(buyer, orderId, bookId, 1, ''), 200)
    const [row] = await rowsOf<{ text: string; rating: number }>(
      t.db,
      'SELECT text, rating FROM reviews WHERE order_id = $1',
      [orderId],
    )
    assert.deepEqual(row, { text: '', rating: 1 })
    // The service refuses the same values for callers that skip the route's schema.
    const svc = t.app.services.reviews
    await assert.rejects(svc.post(buyer.userId, { orderId, bookId, rating: 7 }), /rating/)
    await assert.rejects(
      svc.post(buyer.userId, { orderId, bookId, rating: 3, text: 'y'.repeat(2001) }),
      /text/,
    )
  })

  test('401 without a token, or with a token of someone else', async () => {
    const shop = await newShop(t.app, 1)
    const buyer = await buyerWithMoney()
    const other = await newUser(t.app)
    const orderId = await orderThrough(buyer, shop, 'received', [[0, 1]])
    const body = { user_id: buyer.userId, order_id: orderId, book_id: shop.bookIds[0], rating: 5 }
    expect(await post(t.app, '/buyer/review', body), 401)
    expect(await post(t.app, '/buyer/review', body, other.token), 401)
    expect(await post(t.app, '/buyer/review', body, 'not-a-token'), 401)
    assert.equal(await countRows(t.db, `reviews WHERE order_id = '${orderId}'`), 0)
  })

  test('an order received automatically counts as received, even before the sweep has run', async () => {
    const shop = await newShop(t.app, 1)
    const buyer = await buyerWithMoney()
    const orderId = await orderThrough(buyer, shop, 'shipped', [[0, 1]])
    const bookId = shop.bookIds[0] as string
    expect(await review(buyer, orderId, bookId, 4), 526)
    // Shipped longer ago than the auto-receive period: the review receives it on the spot.
    await t.db.query(`UPDATE orders SET shipped_at = now() - interval '15 days' WHERE order_id = $1`, [
      orderId,
    ])
    const sellerBefore = (
      await rowsOf<{ balance: number }>(t.db, 'SELECT balance FROM users WHERE user_id = $1', [
        shop.seller.userId,
      ])
    )[0]?.balance
    expect(await review(buyer, orderId, bookId, 4), 200)
    const [o] = await rowsOf<{ status: string; received_at: Date | null }>(
      t.db,
      'SELECT status, received_at FROM orders WHERE order_id = $1',
      [orderId],
    )
    assert.equal(o?.status, 'received')
    const sellerAfter = (
      await rowsOf<{ balance: number }>(t.db, 'SELECT balance FROM users WHERE user_id = $1', [
        shop.seller.userId,
      ])
    )[0]?.balance
    assert.equal((sellerAfter ?? 0) - (sellerBefore ?? 0), 100, 'the escrow went to the seller')
    assert.equal((await listReviews(shop.storeId, bookId)).body.total, 1)
    // Simultaneous first reviews of such an order: one receives it, all are written.
    const due = await orderThrough(buyer, shop, 'shipped', [[0, 1]])
    await t.db.query(`UPDATE orders SET shipped_at = now() - interval '15 days' WHERE order_id = $1`, [due])
    const racing = await Promise.all([1, 2, 3, 4].map((rating) => review(buyer, due, bookId, rating)))
    for (const r of racing) expect(r, 200)
    assert.equal(await countRows(t.db, `reviews WHERE order_id = '${due}'`), 1)
    assert.equal(await countRows(t.db, `ledger WHERE order_id = '${due}' AND kind = 'release'`), 1)
    expect(await deleteReview(buyer, racing[0]?.body.review_id as string), 200)
    // And an order the sweep received is reviewed like any other.
    const swept = await orderThrough(buyer, shop, 'shipped', [[0, 1]])
    await t.db.query(`UPDATE orders SET shipped_at = now() - interval '15 days' WHERE order_id = $1`, [swept])
    const { receiveOrders } = await import('../../src/repositories/orders.ts')
    assert.deepEqual(await receiveOrders(t.db, [swept], { by: 'auto', afterS: t.config.orderAutoReceiveS }), [
      swept,
    ])
    expect(await review(buyer, swept, bookId, 2), 200)
    assert.deepEqual((await listReviews(shop.storeId, bookId)).body.rating, {
      average: 3,
      count: 2,
      histogram: { 1: 0, 2: 1, 3: 0, 4: 1, 5: 0 },
    })
  })

  test('ten simultaneous posts for one order line leave exactly one review and one count', async () => {
    const shop = await newShop(t.app, 1)
    const buyer = await buyerWithMoney()
    const orderId = await orderThrough(buyer, shop, 'received', [[0, 1]])
    const bookId = shop.bookIds[0] as string
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => review(buyer, orderId, bookId, (i % 5) + 1)),
    )
    for (const r of results) expect(r, 200)
    assert.equal(new Set(results.map((r) => r.body.review_id)).size, 1)
    assert.equal(await countRows(t.db, `reviews WHERE order_id = '${orderId}'`), 1)
    const { kept, actual } = await ratingState(shop.storeId, bookId)
    assert.deepEqual(kept, actual)
    assert.equal(kept?.count, 1)
  })
})

describe('deleting a review', () => {
  test('only the author deletes; the rating follows; 527 unknown or already deleted', async () => {
    const shop = await newShop(t.app, 1)
    const a = await buyerWithMoney()
    const b = await buyerWithMoney()
    const bookId = shop.bookIds[0] as string
    const oa = await orderThrough(a, shop, 'received', [[0, 1]])
    const ob = await orderThrough(b, shop, 'received', [[0, 1]])
    const ra = (await review(a, oa, bookId, 5)).body.review_id as string
    expect(await review(b, ob, bookId, 2), 200)
    assert.deepEqual((await listing(shop.storeId, bookId)).body.rating, { average: 3.5, count: 2 })

    const snap = await snapshotState(t.db)
    expect(await deleteReview(b, ra), 401)
    expect(await deleteReview(shop.seller, ra), 401)
    assert.deepEqual(await snapshotState(t.db), snap)
    expect(await deleteReview(a, 'no-such-review'), 527)
    expect(await post(t.app, '/buyer/delete_review', { user_id: a.userId, review_id: ra }), 401)

    expect(await deleteReview(a, ra), 200)
    expect(await deleteReview(a, ra), 527)
    const list = await listReviews(shop.storeId, bookId)
    assert.equal(list.body.total, 1)
    assert.deepEqual(list.body.rating, { average: 2, count: 1, histogram: { 1: 0, 2: 1, 3: 0, 4: 0, 5: 0 } })
    assert.deepEqual((await listing(shop.storeId, bookId)).body.rating, { average: 2, count: 1 })
    // The line can be reviewed again afterwards: a new review.
    const again = await review(a, oa, bookId, 4)
    expect(again, 200)
    assert.notEqual(again.body.review_id, ra)
  })
})

describe('replying to a review', () => {
  test('only the owner of the store replies, once; replying again replaces the reply', async () => {
    const shop = await newShop(t.app, 1)
    const buyer = await buyerWithMoney()
    const otherSeller = (await newShop(t.app, 1)).seller
    const bookId = shop.bookIds[0] as string
    const orderId = await orderThrough(buyer, shop, 'received', [[0, 1]])
    const reviewId = (await review(buyer, orderId, bookId, 3, 'ok')).body.review_id as string
    const awaiting = await t.app.services.reviews.awaitingReply(shop.seller.userId, { page: 1, pageSize: 10 })
    assert.deepEqual(
      awaiting.reviews.map((r) => r.review_id),
      [reviewId],
    )
    assert.equal(awaiting.total, 1)

    const snap = await snapshotState(t.db)
    expect(await reply(buyer, reviewId, 'thanks'), 401)
    expect(await reply(otherSeller, reviewId, 'thanks'), 401)
    expect(await reply(shop.seller, 'no-such-review', 'thanks'), 527)
    expect(await reply(shop.seller, reviewId, ''), 400)
    expect(await reply(shop.seller, reviewId, 'x'.repeat(2001)), 400)
    expect(
      await post(t.app, '/seller/reply_review', {
        user_id: shop.seller.userId,
        review_id: reviewId,
        text: 'x',
      }),
      401,
    )
    assert.deepEqual(await snapshotState(t.db), snap)

    expect(await reply(shop.seller, reviewId, '谢谢'), 200)
    let [shown] = (await listReviews(shop.storeId, bookId)).body.reviews as {
      reply: string
      replied_at: string
    }[]
    assert.equal(shown?.reply, '谢谢')
    const firstReplyAt = shown?.replied_at
    assert.ok(firstReplyAt)
    expect(await reply(shop.seller, reviewId, 'thank you'), 200)
    ;[shown] = (await listReviews(shop.storeId, bookId)).body.reviews as {
      reply: string
      replied_at: string
    }[]
    assert.equal(shown?.reply, 'thank you')
    assert.ok((shown?.replied_at ?? '') >= (firstReplyAt ?? ''))
    assert.equal(await countRows(t.db, `reviews WHERE review_id = '${reviewId}'`), 1)
    // A reply changes no rating, and the review no longer waits for one.
    assert.deepEqual((await listing(shop.storeId, bookId)).body.rating, { average: 3, count: 1 })
    assert.equal(
      (await t.app.services.reviews.awaitingReply(shop.seller.userId, { page: 1, pageSize: 10 })).total,
      0,
    )
    assert.equal(
      (await t.app.services.reviews.awaitingReply(shop.seller.userId, { page: 2, pageSize: 10 })).total,
      0,
    )
  })
})

describe('listing reviews', () => {
  test('paged and sorted newest, rating_desc and rating_asc; 513 and 515; 400 for a bad sort or page', async () => {
    const shop = await newShop(t.app, 1)
    const bookId = shop.bookIds[0] as string
    const ratings = [3, 5, 1, 5, 2]
    const ids: string[] = []
    for (const rating of ratings) {
      const buyer = await buyerWithMoney()
      const orderId = await orderThrough(buyer, shop, 'received', [[0, 1]])
      ids.push((await review(buyer, orderId, bookId, rating)).body.review_id as string)
      await new Promise((r) => setTimeout(r, 3))
    }
    const page = async (query: string) => {
      const r = await listReviews(shop.storeId, bookId, query)
      expect(r, 200)
      return r.body as unknown as {
        reviews: { review_id: string; rating: number }[]
        total: number
        page: number
        page_size: number
      }
    }
    const newest = await page('')
    assert.deepEqual(
      newest.reviews.map((r) => r.review_id),
      [...ids].reverse(),
    )
    assert.equal(newest.total, 5)
    const p2 = await page('?page=2&page_size=2')
    assert.deepEqual(
      p2.reviews.map((r) => r.review_id),
      [ids[2], ids[1]],
    )
    assert.deepEqual([p2.total, p2.page, p2.page_size], [5, 2, 2])
    assert.deepEqual((await page('?page=9&page_size=2')).reviews, [])
    assert.equal((await page('?page=9&page_size=2')).total, 5)
    // Ties on the rating: newest first.
    assert.deepEqual(
      (await page('?sort=rating_desc')).reviews.map((r) => r.review_id),
      [ids[3], ids[1], ids[0], ids[4], ids[2]],
    )
    assert.deepEqual(
      (await page('?sort=rating_asc')).reviews.map((r) => r.review_id),
      [ids[2], ids[4], ids[0], ids[3], ids[1]],
    )
    const full = await listReviews(shop.storeId, bookId)
    assert.deepEqual(full.body.rating, {
      average: 3.2,
      count: 5,
      histogram: { 1: 1, 2: 1, 3: 1, 4: 0, 5: 2 },
    })

    const none = await listReviews(shop.storeId, 'no-such-book')
    expect(none, 515)
    expect(await listReviews('no-such-store', bookId), 513)
    for (const q of ['?sort=best', '?page=0', '?page_size=101', '?page=x'])
      expect(await listReviews(shop.storeId, bookId, q), 400)
    // Odd bytes in the path are a clear 4xx, never a 500.
    const odd = await call(t.app, 'GET', `/stores/%00/books/%FF/reviews`)
    assert.ok(odd.status >= 400 && odd.status < 500, String(odd.status))
  })

  test('an unrated listing: average null, count 0, empty histogram', async () => {
    const shop = await newShop(t.app, 1)
    const r = await listReviews(shop.storeId, shop.bookIds[0] as string)
    expect(r, 200)
    assert.deepEqual(r.body.rating, { average: null, count: 0, histogram: { 1: 0, 2: 0, 3: 0, 4: 0, 5: 0 } })
    assert.deepEqual(r.body.reviews, [])
    assert.equal(r.body.total, 0)
  })

  test('averages are rounded to 2 decimals (halves up), from exact counts', async () => {
    const { averageOf } = await import('../../src/services/reviews.ts')
    assert.equal(averageOf(0, 0), null)
    assert.equal(averageOf(10, 3), 3.33)
    assert.equal(averageOf(11, 3), 3.67)
    assert.equal(averageOf(469, 200), 2.35)
    assert.equal(averageOf(5, 1), 5)
  })
})

describe('a closed account', () => {
  test('its reviews stay, with its user id, and still count', async () => {
    const shop = await newShop(t.app, 1)
    const buyer = await buyerWithMoney()
    const bookId = shop.bookIds[0] as string
    const orderId = await orderThrough(buyer, shop, 'received', [[0, 1]])
    const reviewId = (await review(buyer, orderId, bookId, 5, 'bye')).body.review_id as string
    expect(await post(t.app, '/auth/unregister', { user_id: buyer.userId, password: buyer.password }), 200)
    const list = await listReviews(shop.storeId, bookId)
    const [shown] = list.body.reviews as { review_id: string; buyer_id: string; text: string }[]
    assert.deepEqual([shown?.review_id, shown?.buyer_id, shown?.text], [reviewId, buyer.userId, 'bye'])
    assert.deepEqual(list.body.rating, { average: 5, count: 1, histogram: { 1: 0, 2: 0, 3: 0, 4: 0, 5: 1 } })
    // The store owner can still answer it; the closed account can no longer act (no session).
    expect(await reply(shop.seller, reviewId, 'thanks'), 200)
    expect(await deleteReview(buyer, reviewId), 401)
  })
})

describe('orders do not pay for ratings', () => {
  test('placing, paying, cancelling and receiving orders never writes the listing’s ratings row', async () => {
    const shop = await newShop(t.app, 1)
    const buyer = await buyerWithMoney()
    const bookId = shop.bookIds[0] as string
    // xmin changes with any update of the row, even one that writes the same values.
    const version = async () =>
      (
        await rowsOf<{ v: string }>(
          t.db,
          'SELECT xmin::text AS v FROM listing_ratings WHERE store_id = $1 AND book_id = $2',
          [shop.storeId, bookId],
        )
      )[0]?.v
    const before = await version()
    assert.ok(before)
    await orderThrough(buyer, shop, 'received', [[0, 1]])
    const cancelled = await orderThrough(buyer, shop, 'paid', [[0, 2]])
    expect(
      await post(t.app, '/buyer/cancel_order', { user_id: buyer.userId, order_id: cancelled }, buyer.token),
      200,
    )
    assert.equal(await version(), before)
    const [reviewed] = await rowsOf<{ order_id: string }>(
      t.db,
      `SELECT order_id FROM orders WHERE buyer_id = $1 AND status = 'received'`,
      [buyer.userId],
    )
    expect(await review(buyer, reviewed?.order_id as string, bookId, 3), 200)
    assert.notEqual(await version(), before, 'a review does write it')
  })
})

describe('observability', () => {
  test('/metrics counts reviews by action', async () => {
    const shop = await newShop(t.app, 1)
    const buyer = await buyerWithMoney()
    const orderId = await orderThrough(buyer, shop, 'received', [[0, 1]])
    const bookId = shop.bookIds[0] as string
    const metric = async (action: string) => {
      const res = await t.app.inject({ method: 'GET', url: '/metrics' })
      const m = res.body.match(new RegExp(`^bookstore_reviews_total\\{action="${action}"\\} (\\d+)`, 'm'))
      return Number(m?.[1] ?? 0)
    }
    const before = {
      posted: await metric('posted'),
      edited: await metric('edited'),
      deleted: await metric('deleted'),
    }
    const id = (await review(buyer, orderId, bookId, 5)).body.review_id as string
    await review(buyer, orderId, bookId, 4)
    await deleteReview(buyer, id)
    assert.equal((await metric('posted')) - before.posted, 1)
    assert.equal((await metric('edited')) - before.edited, 1)
    assert.equal((await metric('deleted')) - before.deleted, 1)
  })
})
