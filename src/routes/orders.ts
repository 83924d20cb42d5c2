import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { Order } from '../api/orders.ts'
import type { AuthService } from '../services/auth.ts'
import type { OrderService } from '../services/orders.ts'
import { requireToken } from './guards.ts'
import { OrderId, responses, TOKEN_SECURITY, UserId } from './schemas.ts'

/** One order, read by either party (the actions on it are under /buyer and /seller). */
export const orderRoutes: FastifyPluginAsyncTypebox<{ auth: AuthService; orders: OrderService }> = async (
  app,
  { auth, orders },
) => {
  app.get(
    '/orders/:order_id',
    {
      preHandler: requireToken(auth),
      schema: {
        security: TOKEN_SECURITY,
        tags: ['orders'],
        summary: 'One order, for its buyer or the owner of its store',
        description:
          'The order object, with `message`. Statuses are as stored: an unpaid order past its ' +
          '`expires_at` can no longer be paid (524) and is cancelled (timeout) by the next sweep. ' +
          '401 neither the buyer nor the store owner · 518.',
        params: Type.Object({ order_id: OrderId }),
        querystring: Type.Object({ user_id: UserId }),
        response: responses(Order.properties, [401, 518]),
      },
    },
    async (req) => {
      const order = await orders.get(req.query.user_id, req.params.order_id)
      return { message: 'ok', ...order }
    },
  )
}
