import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { LIMITS } from '../../limits.ts'
import type { AuthService } from '../../services/auth.ts'
import type { BuyerService } from '../../services/buyer.ts'
import type { OrderService } from '../../services/orders.ts'
import { requireToken } from '../guards.ts'
import { Password, responses, TOKEN_SECURITY, UserId, withExample } from '../schemas.ts'

/** The buyer's money: /buyer/add_funds and /buyer/balance. */
export const fundsRoutes: FastifyPluginAsyncTypebox<{
  auth: AuthService
  buyer: BuyerService
  orders: OrderService
}> = async (app, { auth, buyer, orders }) => {
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

  app.get(
    '/buyer/balance',
    {
      preHandler: requireToken(auth),
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
