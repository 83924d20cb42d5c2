import type { Queryable } from '../db/db.ts'

export interface ReviewRow {
  review_id: string
  store_id: string
  book_id: string
  buyer_id: string
  order_id: string
  rating: number
  text: string | null
  created_at: Date
  updated_at: Date
  reply: string | null
  replied_at: Date | null
}

const REVIEW_COLUMNS = `r.review_id, r.store_id, r.book_id, r.buyer_id, r.order_id, r.rating, r.text, r.created_at,
  r.updated_at, r.reply, r.replied_at`

/** A listing's ratings: how many reviews gave each star (index 0 is one star). */
export interface RatingCounts {
  stars: [number, number, number, number, number]
}

export interface PostReview {
  reviewId: string
  orderId: string
  bookId: string
  buyerId: string
  rating: number
  text: string | null
}

/**
 * Writes the buyer's review of an order line, in one statement, only if the order is the buyer's,
 * received, and holds that book: a new review, or (the line already has one) an edit of its rating
 * and text. The unique order line makes simultaneous posts one review. The listing's star counts
 * follow in the same statement (trigger of migration 011). Returns the review's id, or undefined
 * when the order did not qualify (nothing written).
 */
export async function upsertReview(q: Queryable, p: PostReview): Promise<string | undefined> {
  const r = await q.query<{ review_id: string }>(
    `INSERT INTO reviews AS r (review_id, order_id, book_id, store_id, buyer_id, rating, text)
     SELECT $1, o.order_id, i.book_id, o.store_id, o.buyer_id, $5, $6
       FROM orders o JOIN order_items i ON i.order_id = o.order_id AND i.book_id = $3
      WHERE o.order_id = $2 AND o.buyer_id = $4 AND o.status = 'received'
     ON CONFLICT (order_id, book_id) DO UPDATE
        SET rating = excluded.rating, text = excluded.text, updated_at = now()
     RETURNING r.review_id`,
    [p.reviewId, p.orderId, p.bookId, p.buyerId, p.rating, p.text],
  )
  return r.rows[0]?.review_id
}

/** Deletes a review if it is the buyer's (the star counts follow). Returns whether it did. */
export async function deleteReview(q: Queryable, reviewId: string, buyerId: string): Promise<boolean> {
  const r = await q.query('DELETE FROM reviews WHERE review_id = $1 AND buyer_id = $2', [reviewId, buyerId])
  return r.rowCount === 1
}

/** Sets (or replaces) the reply to a review, if the seller owns the review's store. */
export async function replyToReview(
  q: Queryable,
  reviewId: string,
  sellerId: string,
  text: string,
): Promise<boolean> {
  const r = await q.query(
    `UPDATE reviews SET reply = $3, replied_at = now()
      WHERE review_id = $1 AND store_id IN (SELECT store_id FROM stores WHERE owner_id = $2)`,
    [reviewId, sellerId, text],
  )
  return r.rowCount === 1
}

/** Who may act on a review: its author, and the owner of its store. */
export async function findReviewParties(
  q: Queryable,
  reviewId: string,
): Promise<{ buyer_id: string; seller_id: string } | undefined> {
  const r = await q.query<{ buyer_id: string; seller_id: string }>(
    `SELECT r.buyer_id, s.owner_id AS seller_id FROM reviews r JOIN stores s ON s.store_id = r.store_id
      WHERE r.review_id = $1`,
    [reviewId],
  )
  return r.rows[0]
}

export type ReviewSort = 'newest' | 'rating_desc' | 'rating_asc'
const REVIEW_ORDER: Record<ReviewSort, string> = {
  newest: 'r.created_at DESC, r.review_id',
  rating_desc: 'r.rating DESC, r.created_at DESC, r.review_id',
  rating_asc: 'r.rating, r.created_at DESC, r.review_id',
}

/**
 * One page of a listing's reviews with the listing's star counts, in one statement (one snapshot:
 * the page, the total and the counts agree). undefined when the store does not list the book.
 */
export async function listReviews(
  q: Queryable,
  storeId: string,
  bookId: string,
  page: { sort: ReviewSort; limit: number; offset: number },
): Promise<{ counts: RatingCounts; rows: ReviewRow[] } | undefined> {
  const r = await q.query<
    { n1: number; n2: number; n3: number; n4: number; n5: number } & Partial<ReviewRow>
  >(
    `SELECT lr.n1, lr.n2, lr.n3, lr.n4, lr.n5, p.*
       FROM listing_ratings lr LEFT JOIN LATERAL (
         SELECT ${REVIEW_COLUMNS} FROM reviews r WHERE r.store_id = lr.store_id AND r.book_id = lr.book_id
          ORDER BY ${REVIEW_ORDER[page.sort]} LIMIT $3 OFFSET $4) p ON true
      WHERE lr.store_id = $1 AND lr.book_id = $2`,
    [storeId, bookId, page.limit, page.offset],
  )
  const first = r.rows[0]
  if (!first) return undefined
  return {
    counts: { stars: [first.n1, first.n2, first.n3, first.n4, first.n5] },
    rows: r.rows.filter((x) => x.review_id != null).map(reviewOf),
  }
}

/** The review columns of a row that also carries others. */
function reviewOf(x: Partial<ReviewRow>): ReviewRow {
  return {
    review_id: x.review_id as string,
    store_id: x.store_id as string,
    book_id: x.book_id as string,
    buyer_id: x.buyer_id as string,
    order_id: x.order_id as string,
    rating: x.rating as number,
    text: x.text ?? null,
    created_at: x.created_at as Date,
    updated_at: x.updated_at as Date,
    reply: x.reply ?? null,
    replied_at: x.replied_at ?? null,
  }
}

/** The buyer's reviews of one order, by book id. */
export async function reviewsOfOrder(q: Queryable, buyerId: string, orderId: string): Promise<ReviewRow[]> {
  const r = await q.query<ReviewRow>(
    `SELECT ${REVIEW_COLUMNS} FROM reviews r WHERE r.order_id = $1 AND r.buyer_id = $2 ORDER BY r.book_id`,
    [orderId, buyerId],
  )
  return r.rows
}

/** Reviews of the seller's stores without a reply yet, newest first, one page, and how many in all. */
export async function unansweredReviews(
  q: Queryable,
  sellerId: string,
  page: { limit: number; offset: number },
): Promise<{ rows: ReviewRow[]; total: number }> {
  const from = `stores s JOIN reviews r ON r.store_id = s.store_id AND r.reply IS NULL WHERE s.owner_id = $1`
  const r = await q.query<ReviewRow & { total: number }>(
    `SELECT ${REVIEW_COLUMNS}, count(*) OVER ()::int AS total FROM ${from}
      ORDER BY r.created_at DESC, r.review_id LIMIT $2 OFFSET $3`,
    [sellerId, page.limit, page.offset],
  )
  const first = r.rows[0]
  if (first) return { rows: r.rows.map(({ total: _, ...row }) => row), total: first.total }
  // An empty page says nothing about the total unless it is the first one.
  if (page.offset === 0) return { rows: [], total: 0 }
  const c = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${from}`, [sellerId])
  return { rows: [], total: c.rows[0]?.n ?? 0 }
}
