import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { LIMITS } from '../limits.ts'
import type { CatalogService } from '../services/catalog.ts'
import { Rating, REVIEW_SORTS, ReviewList, type ReviewService } from '../services/reviews.ts'
import { BookId, ErrorBody, responses, StoreId } from './schemas.ts'

/** A store's listings as anyone sees them: the listing, its pictures and its reviews. */
export const storeRoutes: FastifyPluginAsyncTypebox<{
  catalog: CatalogService
  reviews: ReviewService
}> = async (app, { catalog, reviews }) => {
  const ListingParams = Type.Object({ store_id: StoreId, book_id: BookId })

  app.get(
    '/stores/:store_id/books/:book_id',
    {
      schema: {
        tags: ['catalog'],
        summary: 'A listing: its book_info without the picture bytes, and the pictures’ URLs',
        params: ListingParams,
        response: responses({
          store_id: Type.String(),
          book_id: Type.String(),
          stock_level: Type.Integer(),
          book_info: Type.Object({}, { additionalProperties: true }),
          pictures: Type.Array(Type.String()),
          rating: Rating,
        }),
      },
    },
    async (req) => ({ message: 'ok', ...(await catalog.listing(req.params.store_id, req.params.book_id)) }),
  )

  app.get(
    '/stores/:store_id/books/:book_id/pictures/:index',
    {
      schema: {
        tags: ['catalog'],
        summary: 'One picture of a listing (0-based index), with its sniffed content type',
        description: 'Content addressed: the ETag is the SHA-256 of the bytes; If-None-Match gives 304.',
        params: Type.Object({
          store_id: StoreId,
          book_id: BookId,
          index: Type.Integer({ minimum: 0, maximum: LIMITS.maxPictures }),
        }),
        response: {
          200: Type.Any({ description: 'the image bytes' }),
          304: Type.Null({ description: 'not modified (If-None-Match matched, or was *): no body' }),
          '4xx': ErrorBody,
          '5xx': ErrorBody,
        },
      },
    },
    async (req, reply) => {
      const { store_id, book_id, index } = req.params
      const pic = await catalog.picture(store_id, book_id, index)
      if (!pic) return reply.code(404).send({ message: `no picture ${index} for book id: ${book_id}` })
      reply.header('etag', pic.etag).header('cache-control', 'public, max-age=31536000, immutable')
      // `*` matches any current representation (RFC 9110 §13.1.2); a 304 has no body and no type
      const seen = req.headers['if-none-match']
      if (seen?.split(',').some((t) => ['*', pic.etag].includes(t.trim().replace(/^W\//, ''))))
        return reply.code(304).send(undefined as never) // nothing at all, not a serialised `null`
      return reply.type(pic.mime).send(pic.data)
    },
  )

  app.get(
    '/stores/:store_id/books/:book_id/reviews',
    {
      schema: {
        tags: ['reviews'],
        summary: 'A listing’s reviews, paged, with its average rating and histogram (no login needed)',
        description:
          '`sort`: newest (default), rating_desc or rating_asc (ties: newest first). `rating.average` is ' +
          'null without reviews, else rounded to 2 decimals. 513 unknown store · 515 unknown book.',
        params: Type.Object({ store_id: StoreId, book_id: BookId }),
        querystring: Type.Object({
          page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 }),
          page_size: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          sort: Type.Enum([...REVIEW_SORTS], { default: 'newest' }),
        }),
        response: responses(ReviewList.properties, [513, 515]),
      },
    },
    async (req) => {
      const list = await reviews.list(req.params.store_id, req.params.book_id, {
        page: req.query.page,
        pageSize: req.query.page_size,
        sort: req.query.sort,
      })
      return { message: 'ok', ...list }
    },
  )
}
