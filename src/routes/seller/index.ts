import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { AuthService } from '../../services/auth.ts'
import type { OrderService } from '../../services/orders.ts'
import type { ReviewService } from '../../services/reviews.ts'
import type { SellerService } from '../../services/seller.ts'
import { sellerOrderRoutes } from './orders.ts'
import { sellerReviewRoutes } from './reviews.ts'
import { sellerStoreRoutes } from './stores.ts'

/** Every /seller/* route, one file per topic. */
export const sellerRoutes: FastifyPluginAsyncTypebox<{
  auth: AuthService
  seller: SellerService
  orders: OrderService
  reviews: ReviewService
}> = async (app, { auth, seller, orders, reviews }) => {
  await app.register(sellerStoreRoutes, { auth, seller })
  await app.register(sellerOrderRoutes, { auth, orders })
  await app.register(sellerReviewRoutes, { auth, reviews })
}
