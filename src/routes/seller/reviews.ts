import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { LIMITS } from '../../limits.ts'
import type { AuthService } from '../../services/auth.ts'
import type { ReviewService } from '../../services/reviews.ts'
import { requireToken } from '../guards.ts'
import { EXAMPLE_REVIEW_ID, ReviewId, responses, TOKEN_SECURITY, UserId, withExample } from '../schemas.ts'

const ReplyText = Type.String({ minLength: 1, maxLength: LIMITS.reviewTextLength })

/** The seller's answer to a review of a book bought in one of their stores. */
export const sellerReviewRoutes: FastifyPluginAsyncTypebox<{
  auth: AuthService
  reviews: ReviewService
}> = async (app, { auth, reviews }) => {
  app.post(
    '/seller/reply_review',
    {
      preHandler: requireToken(auth),
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
}
