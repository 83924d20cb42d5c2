import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { LIMITS } from '../limits.ts'
import type { BuyerService } from '../services/buyer.ts'
import { tokenOf } from './guards.ts'
import {
  BookId,
  OrderId,
  Password,
  responses,
  StoreId,
  TOKEN_SECURITY,
  UserId,
  withExample,
} from './schemas.ts'

export const buyerRoutes: FastifyPluginAsyncTypebox<{ buyer: BuyerService }> = async (app, { buyer }) => {
  app.post(
    '/buyer/add_funds',
    {
      schema: {
        tags: ['buyer'],
        summary: 'Add money to the balance (negative: withdraw; 519 if that would overdraw)',
        body: withExample(
          Type.Object({
            user_id: UserId,
            password: Password,
            add_value: Type.Integer({
              minimum: -LIMITS.maxAddValue,
              maximum: LIMITS.maxAddValue,
              description: 'cents',
            }),
          }),
          { user_id: 'alice', password: 's3cret', add_value: 10000 },
        ),
        response: responses({ balance: Type.Integer() }, [401, 519]),
      },
    },
    async (req) => {
      const balance = await buyer.addFunds(req.body.user_id, req.body.password, req.body.add_value)
      return { message: 'ok', balance }
    },
  )

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
}
