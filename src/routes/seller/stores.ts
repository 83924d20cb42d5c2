import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { LIMITS } from '../../limits.ts'
import type { AuthService } from '../../services/auth.ts'
import type { SellerService } from '../../services/seller.ts'
import { requireToken } from '../guards.ts'
import { BookId, BookInfo, responses, StoreId, TOKEN_SECURITY, UserId, withExample } from '../schemas.ts'

/** The seller's stores and their listings: open a store, list a book, add stock. */
export const sellerStoreRoutes: FastifyPluginAsyncTypebox<{
  auth: AuthService
  seller: SellerService
}> = async (app, { auth, seller }) => {
  const preHandler = requireToken(auth)

  app.post(
    '/seller/create_store',
    {
      preHandler,
      schema: {
        tags: ['seller'],
        security: TOKEN_SECURITY,
        summary: 'Open a store owned by the user',
        body: withExample(Type.Object({ user_id: UserId, store_id: StoreId }), {
          user_id: 'sam',
          store_id: 'sams-books',
        }),
        response: responses({}, [401, 511, 514]),
      },
    },
    async (req) => {
      await seller.createStore(req.body.user_id, req.body.store_id)
      return { message: 'ok' }
    },
  )

  app.post(
    '/seller/add_book',
    {
      preHandler,
      bodyLimit: LIMITS.addBookBodyBytes,
      schema: {
        tags: ['seller'],
        security: TOKEN_SECURITY,
        summary: 'List a book in one of the user’s stores',
        body: withExample(
          Type.Object({
            user_id: UserId,
            store_id: StoreId,
            book_info: BookInfo,
            stock_level: Type.Integer({ minimum: 0, maximum: LIMITS.maxStock }),
          }),
          {
            user_id: 'sam',
            store_id: 'sams-books',
            stock_level: 10,
            book_info: {
              id: '1000067',
              title: '美丽心灵',
              author: '[美] 西尔维娅·娜萨',
              publisher: '上海科技教育出版社',
              pub_year: '2002-1',
              pages: 594,
              price: 3879,
              currency_unit: '元',
              binding: '平装',
              isbn: '9787542823823',
              tags: ['传记', '数学', '经济学'],
              pictures: [],
            },
          },
        ),
        response: responses({}, [401, 511, 513, 516, 413]),
      },
    },
    async (req) => {
      await seller.addBook(req.body.user_id, req.body.store_id, req.body.book_info, req.body.stock_level)
      return { message: 'ok' }
    },
  )

  app.post(
    '/seller/add_stock_level',
    {
      preHandler,
      schema: {
        tags: ['seller'],
        security: TOKEN_SECURITY,
        summary: 'Add copies to a listing',
        body: withExample(
          Type.Object({
            user_id: UserId,
            store_id: StoreId,
            book_id: BookId,
            add_stock_level: Type.Integer({ minimum: 0, maximum: LIMITS.maxStock }),
          }),
          { user_id: 'sam', store_id: 'sams-books', book_id: '1000067', add_stock_level: 5 },
        ),
        response: responses({ stock_level: Type.Integer() }, [401, 511, 513, 515]),
      },
    },
    async (req) => {
      const b = req.body
      const stockLevel = await seller.addStockLevel(b.user_id, b.store_id, b.book_id, b.add_stock_level)
      return { message: 'ok', stock_level: stockLevel }
    },
  )
}
