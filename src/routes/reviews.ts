import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { LIMITS } from '../limits.ts'
import type { AuthService } from '../services/auth.ts'
import { REVIEW_SORTS, ReviewList, type ReviewService } from '../services/reviews.ts'
import { requireToken } from './guards.ts'
import { BookId, OrderId, responses, StoreId, TOKEN_SECURITY, UserId, withExample } from './schemas.ts'

const ReviewId = Type.String({ minLength: 1, maxLength: LIMITS.idLength, description: 'review id' })
const ReplyText = Type.String({ minLength: 1, maxLength: LIMITS.reviewTextLength })
const EXAMPLE_REVIEW_ID = '5b0e9d8e-7f0c-4c53-9d2c-1f7a3c2b9e41'

export const reviewRoutes: FastifyPluginAsyncTypebox<{ auth: AuthService; reviews: ReviewService }> = async (
  app,
  { auth, reviews },
) => {
  const preHandler = requireToken(auth)

  app.post(
    '/buyer/review',
    {
      preHandler,
      schema: {
        tags: ['reviews'],
        security: TOKEN_SECURITY,
        summary: 'Review a book of a received order (posting again for the same line edits the review)',
        description:
          'A rating of 1–5 and an optional text, once per order line; the listing’s rating is updated in ' +
          'the same transaction. An order counts as received once the buyer received it or it was ' +
          'received automatically (a shipped order past the auto-receive period is received on the spot). ' +
          '401 not the order’s buyer · 518 · 515 book not in that order · 526 order not received ' +
          '(unpaid, paid, shipped or cancelled).',
        body: withExample(
          Type.Object({
            user_id: UserId,
            order_id: OrderId,
            book_id: BookId,
            rating: Type.Integer({ minimum: 1, maximum: 5 }),
            text: Type.Optional(Type.String({ maxLength: LIMITS.reviewTextLength })),
          }),
          {
            user_id: 'bea',
            order_id: '0ce37156-2c82-46b9-8401-09bf75ee0bb6',
            book_id: 'b1',
            rating: 5,
            text: '译文流畅，值得一读',
          },
        ),
        response: responses({ review_id: Type.String() }, [401, 515, 518, 526]),
      },
    },
    async (req) => {
      const b = req.body
      const reviewId = await reviews.post(b.user_id, {
        orderId: b.order_id,
        bookId: b.book_id,
        rating: b.rating,
        text: b.text,
      })
      return { message: 'ok', review_id: reviewId }
    },
  )

  app.post(
    '/buyer/delete_review',
    {
      preHandler,
      schema: {
        tags: ['reviews'],
        security: TOKEN_SECURITY,
        summary: 'Delete one’s own review (the listing’s rating follows)',
        description: '401 not its author · 527 unknown review.',
        body: withExample(Type.Object({ user_id: UserId, review_id: ReviewId }), {
          user_id: 'bea',
          review_id: EXAMPLE_REVIEW_ID,
        }),
        response: responses({}, [401, 527]),
      },
    },
    async (req) => {
      await reviews.remove(req.body.user_id, req.body.review_id)
      return { message: 'ok' }
    },
  )

  app.post(
    '/seller/reply_review',
    {
      preHandler,
      schema: {
        tags: ['reviews'],
        security: TOKEN_SECURITY,
        summary: 'Answer a review of a book bought in one’s store (again: replaces the answer)',
        description: '401 not the owner of the store the book was bought in · 527 unknown review.',
        body: withExample(Type.Object({ user_id: UserId, review_id: ReviewId, text: ReplyText }), {
          user_id: 'sam',
          review_id: EXAMPLE_REVIEW_ID,
          text: '谢谢您的评价！',
        }),
        response: responses({}, [401, 527]),
      },
    },
    async (req) => {
      await reviews.reply(req.body.user_id, req.body.review_id, req.body.text)
      return { message: 'ok' }
    },
  )

  app.get(
    '/stores/:store_id/books/:book_id/reviews',
    {
      schema: {
        tags: ['reviews'],
        summary: 'A listing’s reviews, paged, with its average rating and histogram (no login needed)',
        description:
          '`sort`: newest (default), rating_desc or rating_asc (ties: newest first). `rating.average` is ' +
          'null without reviews, else rounded to 2 decimals. 513 unknown store · 515 unknown book.',
        params: Type.Object({ store_id: StoreId, book_id: BookId }),
        querystring: Type.Object({
          page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 }),
          page_size: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          sort: Type.Enum([...REVIEW_SORTS], { default: 'newest' }),
        }),
        response: responses(ReviewList.properties, [513, 515]),
      },
    },
    async (req) => {
      const list = await reviews.list(req.params.store_id, req.params.book_id, {
        page: req.query.page,
        pageSize: req.query.page_size,
        sort: req.query.sort,
      })
      return { message: 'ok', ...list }
    },
  )
}
