import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { SearchPage, SearchQuery, Suggestions, SuggestQuery } from '../api/catalog.ts'
import { LIMITS } from '../limits.ts'
import type { CatalogService } from '../services/catalog.ts'
import { Rating } from '../services/reviews.ts'
import { BookId, ErrorBody, responses, StoreId } from './schemas.ts'

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
        response: responses(SearchPage.properties),
      },
    },
    async (req) => ({ message: 'ok', ...(await catalog.search(req.query)) }),
  )

  app.get(
    '/search/suggest',
    {
      schema: {
        tags: ['catalog'],
        summary: 'Completions of what is typed in the search box: titles, authors and tags',
        description:
          'Chinese or Latin prefixes, pinyin included (tones and spaces ignored); 513 for an unknown store_id.',
        querystring: SuggestQuery,
        response: responses(Suggestions.properties, [513]),
      },
    },
    async (req) => ({ message: 'ok', suggestions: await catalog.suggest(req.query) }),
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
