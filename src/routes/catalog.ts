import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { LIMITS } from '../limits.ts'
import { SORTS } from '../repositories/search.ts'
import type { CatalogService } from '../services/catalog.ts'
import { Rating } from '../services/reviews.ts'
import { BookId, ErrorBody, responses, StoreId } from './schemas.ts'

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])

const Hit = Type.Object({
  store_id: Type.String(),
  book_id: Type.String(),
  title: Type.String(),
  author: Nullable(Type.String()),
  publisher: Nullable(Type.String()),
  pub_year: Nullable(Type.String()),
  price: Type.Integer({ description: 'cents' }),
  stock_level: Type.Integer(),
  tags: Type.Array(Type.String()),
  score: Type.Number({
    description: 'relevance: 2 + r for title matches, 1 + r for author/tag matches, r otherwise (0 ≤ r < 1)',
  }),
  rating_average: Nullable(Type.Number({ description: 'average review rating, 2 decimals; null: unrated' })),
  rating_count: Type.Integer({ description: 'number of reviews' }),
})

export const SearchQuery = Type.Object({
  q: Type.Optional(
    Type.String({
      maxLength: 256,
      description:
        'keywords, Chinese or Latin; every word must match; short queries also match inside titles',
    }),
  ),
  scope: Type.Optional(
    Type.String({ maxLength: 100, description: 'comma list of title, author, tags, book_intro, content' }),
  ),
  store_id: Type.Optional(StoreId),
  sort: Type.Enum([...SORTS], {
    default: 'relevance',
    description:
      'relevance without q means newest first; rating_desc: highest average rating, then more ratings, ' +
      'then newest, unrated listings last',
  }),
  tag: Type.Optional(
    Type.Union(
      [Type.String({ maxLength: 255 }), Type.Array(Type.String({ maxLength: 255 }), { maxItems: 20 })],
      {
        description: 'exact tag; repeat for several (all must be present)',
      },
    ),
  ),
  author: Type.Optional(Type.String({ maxLength: 255, description: 'text the author contains (any case)' })),
  min_price: Type.Optional(Type.Integer({ minimum: 0, maximum: LIMITS.maxPrice, description: 'cents' })),
  max_price: Type.Optional(Type.Integer({ minimum: 0, maximum: LIMITS.maxPrice, description: 'cents' })),
  in_stock: Type.Optional(Type.Boolean({ description: 'true: only listings with stock' })),
  page: Type.Integer({ minimum: 1, maximum: 100_000, default: 1 }),
  page_size: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
})

export const catalogRoutes: FastifyPluginAsyncTypebox<{ catalog: CatalogService }> = async (
  app,
  { catalog },
) => {
  app.get(
    '/search/books',
    {
      schema: {
        tags: ['catalog'],
        summary: 'Search listings by keywords and filters, ranked and paged',
        description:
          'Every page is full except the last; filters apply before paging; 513 for an unknown store_id.',
        querystring: SearchQuery,
        response: responses({
          books: Type.Array(Hit),
          total: Type.Integer(),
          page: Type.Integer(),
          page_size: Type.Integer(),
        }),
      },
    },
    async (req) => ({ message: 'ok', ...(await catalog.search(req.query)) }),
  )

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
}
