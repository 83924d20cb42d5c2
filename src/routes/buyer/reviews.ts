import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { LIMITS } from '../../limits.ts'
import type { AuthService } from '../../services/auth.ts'
import type { ReviewService } from '../../services/reviews.ts'
import { requireToken } from '../guards.ts'
import {
  BookId,
  EXAMPLE_REVIEW_ID,
  OrderId,
  ReviewId,
  responses,
  TOKEN_SECURITY,
  UserId,
  withExample,
} from '../schemas.ts'

/** A buyer's reviews of the books of received orders: post (or edit) and delete. */
export const buyerReviewRoutes: FastifyPluginAsyncTypebox<{
  auth: AuthService
  reviews: ReviewService
}> = async (app, { auth, reviews }) => {
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
}
