/**
 * Search as the API shows it: the request and its hits. The routes validate and answer with these
 * schemas; the catalogue service's and the search repository's types are derived from them.
 */
import { type Static, Type } from 'typebox'
import { LIMITS } from '../limits.ts'
import { SORTS } from '../repositories/search.ts'
import { StoreId } from '../routes/schemas.ts'
import { SNIPPET_CHARS, SNIPPET_FIELDS } from '../search/highlight.ts'

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])

/** [start, end) in UTF-16 code units, as JavaScript counts string positions. */
const Mark = Type.Array(Type.Integer({ minimum: 0 }), { minItems: 2, maxItems: 2 })

export const Highlights = Type.Object(
  {
    title: Type.Array(Mark, { description: 'where the query’s words are in `title`, in order' }),
    snippet: Nullable(
      Type.Object({
        field: Type.Enum([...SNIPPET_FIELDS], {
          description: 'the other field holding the most query words (tags joined with ", ")',
        }),
        text: Type.String({ maxLength: SNIPPET_CHARS, description: 'plain text, "…" where it was cut' }),
        marks: Type.Array(Mark, { description: 'where the query’s words are in `text`' }),
      }),
    ),
  },
  {
    description:
      'matched words of the query (plain text and offsets, never HTML); without q, no marks and no snippet',
    examples: [
      {
        title: [[2, 4]],
        snippet: { field: 'book_intro', text: '一部关于心灵与数学的传记。', marks: [[4, 6]] },
      },
    ],
  },
)

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
  highlights: Highlights,
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
