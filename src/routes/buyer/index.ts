import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { AuthService } from '../../services/auth.ts'
import type { BuyerService } from '../../services/buyer.ts'
import type { CartService } from '../../services/cart.ts'
import type { OrderService } from '../../services/orders.ts'
import type { ReviewService } from '../../services/reviews.ts'
import { cartRoutes } from './cart.ts'
import { fundsRoutes } from './funds.ts'
import { buyerOrderRoutes } from './orders.ts'
import { buyerReviewRoutes } from './reviews.ts'

/** Every /buyer/* route, one file per topic. */
export const buyerRoutes: FastifyPluginAsyncTypebox<{
  auth: AuthService
  buyer: BuyerService
  orders: OrderService
  cart: CartService
  reviews: ReviewService
}> = async (app, { auth, buyer, orders, cart, reviews }) => {
  await app.register(fundsRoutes, { auth, buyer, orders })
  await app.register(buyerOrderRoutes, { auth, buyer, orders })
  await app.register(cartRoutes, { auth, cart })
  await app.register(buyerReviewRoutes, { auth, reviews })
}
