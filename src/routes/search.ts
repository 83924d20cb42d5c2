import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { SearchPage, SearchQuery, Suggestions, SuggestQuery } from '../api/catalog.ts'
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
}
