import { randomUUID } from 'node:crypto'
import { type Static, Type } from 'typebox'
import { BadRequest, NotFound, OrderState, Unauthorized } from '../errors.ts'
import { LIMITS } from '../limits.ts'
import * as orders from '../repositories/orders.ts'
import * as reviews from '../repositories/reviews.ts'
import { findStore } from '../repositories/stores.ts'
import { type Deps, readConfirmingMiss } from './context.ts'
import { loadFor } from './orders.ts'

const Time = Type.String({ description: 'ISO-8601 UTC' })

/** A review as the API shows it (the route's response schema and the type the service returns). */
export const Review = Type.Object({
  review_id: Type.String(),
  buyer_id: Type.String({ description: 'the author (kept when the account is closed)' }),
  order_id: Type.String(),
  store_id: Type.String(),
  book_id: Type.String(),
  rating: Type.Integer({ minimum: 1, maximum: 5 }),
  text: Type.Union([Type.String(), Type.Null()], { description: 'null when the review has no text' }),
  created_at: Time,
  updated_at: Type.String({ description: 'ISO-8601 UTC: the last edit (created_at if never edited)' }),
  reply: Type.Union([Type.String(), Type.Null()], { description: 'the store owner’s answer' }),
  replied_at: Type.Union([Time, Type.Null()]),
})
export type ApiReview = Static<typeof Review>

/** A listing's average (rounded to 2 decimals, null when unrated) and number of reviews. */
export const Rating = Type.Object({
  average: Type.Union([Type.Number(), Type.Null()], { description: '1–5, 2 decimals; null without reviews' }),
  count: Type.Integer(),
})
export type ApiRating = Static<typeof Rating>

const Count = Type.Integer({ minimum: 0 })
export const RatingWithHistogram = Type.Object({
  ...Rating.properties,
  histogram: Type.Object(
    { 1: Count, 2: Count, 3: Count, 4: Count, 5: Count },
    { description: 'reviews per rating' },
  ),
})

export const ReviewList = Type.Object({
  reviews: Type.Array(Review),
  total: Type.Integer({ description: 'reviews of the listing, on all pages' }),
  page: Type.Integer(),
  page_size: Type.Integer(),
  rating: RatingWithHistogram,
})
export type ApiReviewList = Static<typeof ReviewList>

export const REVIEW_SORTS = ['newest', 'rating_desc', 'rating_asc'] as const satisfies reviews.ReviewSort[]

/**
 * The average of `count` ratings adding up to `sum`, rounded to 2 decimals; null without ratings.
 * Computed from the integers, so that a value halfway between two hundredths (2.345) rounds up.
 */
export function averageOf(sum: number, count: number): number | null {
  return count === 0 ? null : Math.round((sum * 100) / count) / 100
}

const iso = (d: Date) => new Date(d).toISOString()

/** Rows become API objects here and nowhere else. */
function toApi(r: reviews.ReviewRow): ApiReview {
  return {
    review_id: r.review_id,
    buyer_id: r.buyer_id,
    order_id: r.order_id,
    store_id: r.store_id,
    book_id: r.book_id,
    rating: r.rating,
    text: r.text,
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
    reply: r.reply,
    replied_at: r.replied_at === null ? null : iso(r.replied_at),
  }
}

export interface ReviewInput {
  orderId: string
  bookId: string
  /** 1–5 */
  rating: number
  /** up to 2000 characters; absent or null: no text */
  text?: string | null | undefined
}

export interface Paging {
  page: number
  pageSize: number
}

/**
 * Reviews of received order lines and the store owners' replies. Every method takes the id of a user
 * the caller has already authenticated (the JSON routes check the token first; the web pages, the
 * session's user).
 */
export class ReviewService {
  constructor(private readonly deps: Deps) {}

  /**
   * Writes the buyer's review of one line of a received order (a second post edits it) and returns
   * its id. A shipped order past the auto-receive period is received on the spot, as the sweep would
   * receive it, so that it can be reviewed at once. Refusals (401, 518, 515, 526) write nothing.
   */
  async post(userId: string, input: ReviewInput): Promise<string> {
    const { db, config, metrics } = this.deps
    const text = input.text ?? null
    // The route's schema refuses these first; callers without it (the pages) get the same 400.
    if (!Number.isInteger(input.rating) || input.rating < 1 || input.rating > 5)
      throw BadRequest('rating', 'must be an integer from 1 to 5')
    if (text !== null && text.length > LIMITS.reviewTextLength)
      throw BadRequest('text', `must be at most ${LIMITS.reviewTextLength} characters`)
    const write = { ...input, reviewId: randomUUID(), buyerId: userId, text }
    const { id, edited } = await db.transaction(async (tx) => {
      let id = await reviews.upsertReview(tx, write)
      if (id === undefined) {
        const o = await loadFor(tx, input.orderId, userId, 'buyer')
        const items = await orders.itemsOf(tx, [input.orderId])
        if (!items.some((i) => i.book_id === input.bookId)) throw NotFound('book', input.bookId)
        if (o.status === 'shipped')
          await orders.receiveOrders(tx, [input.orderId], { by: 'auto', afterS: config.orderAutoReceiveS })
        // Received now (on the spot, or by a request that got there first), or not received yet:
        // unpaid, paid, cancelled, or shipped within the auto-receive period.
        id = await reviews.upsertReview(tx, write)
        if (id === undefined) throw OrderState('not_received', input.orderId)
      }
      return { id, edited: id !== write.reviewId }
    })
    metrics.reviews.inc({ action: edited ? 'edited' : 'posted' })
    return id
  }

  /** Deletes the author's review (401 someone else's, 527 unknown); the listing's rating follows. */
  async remove(userId: string, reviewId: string): Promise<void> {
    const { db, metrics } = this.deps
    if (!(await reviews.deleteReview(db, reviewId, userId))) {
      const parties = await reviews.findReviewParties(db, reviewId)
      if (!parties) throw NotFound('review', reviewId)
      throw Unauthorized('not the author of this review')
    }
    metrics.reviews.inc({ action: 'deleted' })
  }

  /** The store owner answers a review (again: replaces the answer). 401 not the owner, 527 unknown. */
  async reply(userId: string, reviewId: string, text: string): Promise<void> {
    const { db, metrics } = this.deps
    if (text.length < 1 || text.length > LIMITS.reviewTextLength)
      throw BadRequest('text', `must be 1 to ${LIMITS.reviewTextLength} characters`)
    if (!(await reviews.replyToReview(db, reviewId, userId, text))) {
      const parties = await reviews.findReviewParties(db, reviewId)
      if (!parties) throw NotFound('review', reviewId)
      throw Unauthorized('not the owner of the store of this review')
    }
    metrics.reviews.inc({ action: 'replied' })
  }

  /** One page of a listing's reviews with its rating and histogram (513 unknown store, 515 unknown book). */
  async list(
    storeId: string,
    bookId: string,
    q: Paging & { sort: reviews.ReviewSort },
  ): Promise<ApiReviewList> {
    const r = await readConfirmingMiss(this.deps, (db) =>
      reviews.listReviews(db, storeId, bookId, {
        sort: q.sort,
        limit: q.pageSize,
        offset: (q.page - 1) * q.pageSize,
      }),
    )
    if (!r) {
      // The primary has just said the listing is not there: it says whether the store is.
      if (!(await findStore(this.deps.db, storeId))) throw NotFound('store', storeId)
      throw NotFound('book', bookId)
    }
    const [n1, n2, n3, n4, n5] = r.counts.stars
    const count = n1 + n2 + n3 + n4 + n5
    return {
      reviews: r.rows.map(toApi),
      total: count,
      page: q.page,
      page_size: q.pageSize,
      rating: {
        average: averageOf(n1 + 2 * n2 + 3 * n3 + 4 * n4 + 5 * n5, count),
        count,
        histogram: { 1: n1, 2: n2, 3: n3, 4: n4, 5: n5 },
      },
    }
  }

  /** The caller's reviews of one of their orders, by book id (518 unknown order, 401 someone else's). */
  async forOrder(userId: string, orderId: string): Promise<ApiReview[]> {
    const { db } = this.deps
    const rows = await reviews.reviewsOfOrder(db, userId, orderId)
    if (rows.length === 0) await loadFor(db, orderId, userId, 'buyer')
    return rows.map(toApi)
  }

  /** Reviews of the seller's stores that have no reply yet, newest first. */
  async awaitingReply(
    userId: string,
    q: Paging,
  ): Promise<{ reviews: ApiReview[]; total: number; page: number; page_size: number }> {
    const r = await reviews.unansweredReviews(this.deps.db, userId, {
      limit: q.pageSize,
      offset: (q.page - 1) * q.pageSize,
    })
    return { reviews: r.rows.map(toApi), total: r.total, page: q.page, page_size: q.pageSize }
  }
}
