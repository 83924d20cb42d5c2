/**
 * Search as the API shows it: the request and its hits. The routes validate and answer with these
 * schemas; the catalogue service's and the search repository's types are derived from them.
 */
import { type Static, Type } from 'typebox'
import { LIMITS } from '../limits.ts'
import { StoreId } from '../routes/schemas.ts'

/** The orders a search can be sorted in (the repository has one ORDER BY for each but relevance). */
export const SORTS = [
  'relevance',
  'price_asc',
  'price_desc',
  'pub_year_desc',
  'sales_desc',
  'rating_desc',
] as const
export type Sort = (typeof SORTS)[number]

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])

export const Hit = Type.Object({
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
export type ApiHit = Static<typeof Hit>

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
export type SearchParams = Static<typeof SearchQuery>

/** One page of hits (the 200 answer has these fields and its message). */
export const SearchPage = Type.Object({
  books: Type.Array(Hit),
  total: Type.Integer(),
  page: Type.Integer(),
  page_size: Type.Integer(),
})
export type SearchPage = Static<typeof SearchPage>
