import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { LIMITS } from '../../limits.ts'
import type { AuthService } from '../../services/auth.ts'
import { Cart, type CartService } from '../../services/cart.ts'
import { requireToken } from '../guards.ts'
import {
  BookId,
  Message,
  RESULT_CODES,
  responses,
  StoreId,
  TOKEN_SECURITY,
  UserId,
  withExample,
} from '../schemas.ts'

/** The buyer's cart: read it, set a line, order it. */
export const cartRoutes: FastifyPluginAsyncTypebox<{ auth: AuthService; cart: CartService }> = async (
  app,
  { auth, cart },
) => {
  const preHandler = requireToken(auth)

  app.get(
    '/buyer/cart',
    {
      preHandler,
      schema: {
        tags: ['cart'],
        security: TOKEN_SECURITY,
        summary: 'The buyer’s cart, the same from every terminal, at current prices',
        description:
          'Lines by store and book id. The cart reserves no stock: `stock_level` lets a client warn ' +
          'before checkout.',
        querystring: Type.Object({ user_id: UserId }),
        response: responses(Cart.properties, [401]),
      },
    },
    async (req) => ({ message: 'ok', ...(await cart.get(req.query.user_id)) }),
  )

  app.post(
    '/buyer/cart',
    {
      preHandler,
      schema: {
        tags: ['cart'],
        security: TOKEN_SECURITY,
        summary: 'Set the count of one cart line (0 removes it)',
        description:
          `At most ${LIMITS.maxCartLines} lines (400 for one more). 513 unknown or closed store · ` +
          '515 the store does not list the book. Removing a line always works.',
        body: withExample(
          Type.Object({
            user_id: UserId,
            store_id: StoreId,
            book_id: BookId,
            count: Type.Integer({ minimum: 0, maximum: LIMITS.maxCartCount }),
          }),
          { user_id: 'bea', store_id: 'sams-books', book_id: 'b1', count: 2 },
        ),
        response: responses({}, [401, 513, 515]),
      },
    },
    async (req) => {
      const b = req.body
      await cart.setLine(b.user_id, b.store_id, b.book_id, b.count)
      return { message: 'ok' }
    },
  )

  const response = responses(
    { order_ids: Type.Array(Type.String(), { description: 'one unpaid order per store, by store id' }) },
    [401, 513, 515],
  )
  response[517] = Type.Object(
    { message: Message, store_id: Type.String(), book_id: Type.String() },
    { description: `${RESULT_CODES[517]}: the line short of stock` },
  )
  app.post(
    '/buyer/checkout',
    {
      preHandler,
      schema: {
        tags: ['cart'],
        security: TOKEN_SECURITY,
        summary: 'Order the cart: one order per store, all placed or none',
        description:
          'Places one unpaid order per store for the cart’s lines (of `store_ids`, or all), in one ' +
          'transaction, reserving stock as new_order does; the ordered lines leave the cart. If any ' +
          'line is refused, no order is placed, no stock moves and the cart stays as it was. Pay each ' +
          'order with /buyer/payment. 517 names the store and book short of stock · 513 · 515 · ' +
          '400 nothing to order. Of simultaneous checkouts of one cart, one places the orders and ' +
          'the others get 400.',
        body: withExample(
          Type.Object({
            user_id: UserId,
            store_ids: Type.Optional(Type.Array(StoreId, { minItems: 1, maxItems: LIMITS.maxCartLines })),
          }),
          { user_id: 'bea', store_ids: ['sams-books'] },
        ),
        response,
      },
    },
    async (req) => ({ message: 'ok', order_ids: await cart.checkout(req.body.user_id, req.body.store_ids) }),
  )
}
