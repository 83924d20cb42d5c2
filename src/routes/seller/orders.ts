import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { AuthService } from '../../services/auth.ts'
import type { OrderService } from '../../services/orders.ts'
import { requireToken } from '../guards.ts'
import {
  OrderAction,
  OrderId,
  OrderList,
  OrderPaging,
  responses,
  StoreId,
  TOKEN_SECURITY,
  UserId,
} from '../schemas.ts'

/** The orders of the seller's stores: ship or refuse one, and list them. */
export const sellerOrderRoutes: FastifyPluginAsyncTypebox<{
  auth: AuthService
  orders: OrderService
}> = async (app, { auth, orders }) => {
  const preHandler = requireToken(auth)

  app.post(
    '/seller/send_books',
    {
      preHandler,
      schema: {
        security: TOKEN_SECURITY,
        tags: ['seller'],
        summary: 'Ship a paid order (owner of its store only)',
        description:
          '401 not the store owner · 518 · 523 not paid · 522 already shipped · 524 cancelled or expired.',
        body: OrderAction,
        response: responses({}, [401, 518, 522, 523, 524]),
      },
    },
    async (req) => {
      await orders.ship(req.body.user_id, req.body.order_id)
      return { message: 'ok' }
    },
  )

  app.post(
    '/seller/cancel_order',
    {
      preHandler,
      schema: {
        security: TOKEN_SECURITY,
        tags: ['seller'],
        summary: 'Refuse an order that is not shipped yet (owner of its store only)',
        description:
          'Same effects as a buyer cancel (stock released, a paid order refunded in full); the ' +
          'order records cancel_reason `seller`. `reason` is free text for the log. ' +
          '401 not the store owner · 518 · 522 shipped · 521 received · 524 cancelled.',
        body: Type.Object({
          user_id: UserId,
          order_id: OrderId,
          reason: Type.Optional(Type.String({ maxLength: 1024 })),
        }),
        response: responses({}, [401, 518, 521, 522, 524]),
      },
    },
    async (req) => {
      await orders.cancel(req.body.user_id, req.body.order_id, 'seller')
      if (req.body.reason)
        req.log.info({ order_id: req.body.order_id, reason: req.body.reason }, 'seller cancel')
      return { message: 'ok' }
    },
  )

  app.get(
    '/seller/orders',
    {
      preHandler,
      schema: {
        security: TOKEN_SECURITY,
        tags: ['seller'],
        summary: 'Orders of the seller’s stores (or of one), newest first, paged',
        description: '513 unknown store_id · 401 a store of someone else.',
        querystring: Type.Object({ user_id: UserId, store_id: Type.Optional(StoreId), ...OrderPaging }),
        response: OrderList,
      },
    },
    async (req) => {
      const q = req.query
      const list = await orders.listForSeller(q.user_id, q.store_id, {
        status: q.status,
        page: q.page,
        pageSize: q.page_size,
      })
      return { message: 'ok', ...list }
    },
  )
}
