import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { LIMITS } from '../../limits.ts'
import type { AuthService } from '../../services/auth.ts'
import type { BuyerService } from '../../services/buyer.ts'
import type { OrderService } from '../../services/orders.ts'
import { requireToken, tokenOf } from '../guards.ts'
import {
  BookId,
  OrderAction,
  OrderId,
  OrderList,
  OrderPaging,
  Password,
  responses,
  StoreId,
  TOKEN_SECURITY,
  UserId,
  withExample,
} from '../schemas.ts'

/** An order's life on the buyer's side: place, pay, receive or cancel it, and list them. */
export const buyerOrderRoutes: FastifyPluginAsyncTypebox<{
  auth: AuthService
  buyer: BuyerService
  orders: OrderService
}> = async (app, { auth, buyer, orders }) => {
  const preHandler = requireToken(auth)

  app.post(
    '/buyer/new_order',
    {
      // The token is checked by the statement that places the order (see BuyerService.newOrder).
      schema: {
        tags: ['buyer'],
        security: TOKEN_SECURITY,
        summary: 'Order books from one store: stock is reserved for every line or none',
        description: 'A book listed twice in `books` is ordered once with the counts added up.',
        body: withExample(
          Type.Object({
            user_id: UserId,
            store_id: StoreId,
            books: Type.Array(
              Type.Object({ id: BookId, count: Type.Integer({ minimum: 1, maximum: LIMITS.maxCount }) }),
              { minItems: 1, maxItems: LIMITS.maxOrderLines },
            ),
          }),
          { user_id: 'alice', store_id: 'sams-books', books: [{ id: '1000067', count: 2 }] },
        ),
        response: responses({ order_id: Type.String() }, [401, 511, 513, 515, 517]),
      },
    },
    async (req) => {
      const orderId = await buyer.newOrder(req.body.user_id, req.body.store_id, req.body.books, {
        token: tokenOf(req),
      })
      return { message: 'ok', order_id: orderId }
    },
  )

  app.post(
    '/buyer/payment',
    {
      schema: {
        tags: ['buyer'],
        summary: 'Pay an unpaid order; the money is held until the books are received',
        body: withExample(Type.Object({ user_id: UserId, order_id: OrderId, password: Password }), {
          user_id: 'alice',
          order_id: '0ce37156-2c82-46b9-8401-09bf75ee0bb6',
          password: 's3cret',
        }),
        response: responses({}, [401, 518, 519, 524, 525]),
      },
    },
    async (req) => {
      await buyer.payment(req.body.user_id, req.body.order_id, req.body.password)
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
        body: OrderAction,
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
        body: OrderAction,
        response: responses({}, [401, 518, 521, 522, 524]),
      },
    },
    async (req) => {
      await orders.cancel(req.body.user_id, req.body.order_id, 'buyer')
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
        querystring: Type.Object({ user_id: UserId, ...OrderPaging }),
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
}
