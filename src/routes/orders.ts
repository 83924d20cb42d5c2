import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { Order, OrderPage, OrderStatus } from '../api/orders.ts'
import type { AuthService } from '../services/auth.ts'
import type { OrderService } from '../services/orders.ts'
import { requireToken } from './guards.ts'
import { OrderId, responses, StoreId, TOKEN_SECURITY, UserId } from './schemas.ts'

const Paging = {
  status: Type.Optional(OrderStatus),
  page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 }),
  page_size: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
}
const OrderList = responses(OrderPage.properties, [401])
const Act = Type.Object({ user_id: UserId, order_id: OrderId })

export const orderRoutes: FastifyPluginAsyncTypebox<{ auth: AuthService; orders: OrderService }> = async (
  app,
  { auth, orders },
) => {
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
        body: Act,
        response: responses({}, [401, 518, 522, 523, 524]),
      },
    },
    async (req) => {
      await orders.ship(req.body.user_id, req.body.order_id)
      return { message: 'ok' }
    },
  )

  app.post(
    '/buyer/receive_books',
    {
      preHandler,
      schema: {
        security: TOKEN_SECURITY,
        tags: ['buyer'],
        summary: 'Confirm receipt of a shipped order: the money held for it goes to the seller',
        description: '401 not the buyer · 518 · 520 not shipped · 521 already received · 524 cancelled.',
        body: Act,
        response: responses({}, [401, 518, 520, 521, 524]),
      },
    },
    async (req) => {
      await orders.receive(req.body.user_id, req.body.order_id)
      return { message: 'ok' }
    },
  )

  app.post(
    '/buyer/cancel_order',
    {
      preHandler,
      schema: {
        security: TOKEN_SECURITY,
        tags: ['buyer'],
        summary: 'Cancel an order that is not shipped yet',
        description:
          'The stock is released; a paid order is refunded in full. An unpaid order past its payment ' +
          'deadline is already expired: 524 (and it is cancelled as a timeout). ' +
          '401 not the buyer · 518 · 522 shipped · 521 received · 524 cancelled.',
        body: Act,
        response: responses({}, [401, 518, 521, 522, 524]),
      },
    },
    async (req) => {
      await orders.cancel(req.body.user_id, req.body.order_id, 'buyer')
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
    '/buyer/orders',
    {
      preHandler,
      schema: {
        security: TOKEN_SECURITY,
        tags: ['buyer'],
        summary: 'The buyer’s orders, newest first, paged (the status filter applies before paging)',
        querystring: Type.Object({ user_id: UserId, ...Paging }),
        response: OrderList,
      },
    },
    async (req) => {
      const q = req.query
      const list = await orders.listForBuyer(q.user_id, {
        status: q.status,
        page: q.page,
        pageSize: q.page_size,
      })
      return { message: 'ok', ...list }
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
        querystring: Type.Object({ user_id: UserId, store_id: Type.Optional(StoreId), ...Paging }),
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

  app.get(
    '/orders/:order_id',
    {
      preHandler,
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

  app.get(
    '/buyer/balance',
    {
      preHandler,
      schema: {
        security: TOKEN_SECURITY,
        tags: ['buyer'],
        summary: 'The user’s balance in cents (money held for paid orders is not part of it)',
        querystring: Type.Object({ user_id: UserId }),
        response: responses({ balance: Type.Integer({ description: 'cents' }) }, [401]),
      },
    },
    async (req) => {
      return { message: 'ok', balance: await orders.balance(req.query.user_id) }
    },
  )
}
