import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { SearchPage, SearchQuery } from '../api/catalog.ts'
import type { CatalogService } from '../services/catalog.ts'
import { responses } from './schemas.ts'

/** Search over every store's listings. */
export const searchRoutes: FastifyPluginAsyncTypebox<{ catalog: CatalogService }> = async (
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
}
