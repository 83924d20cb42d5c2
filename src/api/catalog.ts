/**
 * Search as the API shows it: the request and its hits. The routes validate and answer with these
 * schemas; the catalogue service's and the search repository's types are derived from them.
 */
import { type Static, Type } from 'typebox'
import { LIMITS } from '../limits.ts'
import { StoreId } from '../routes/schemas.ts'
import { EXACT_FACET_MATCHES, FACET_KINDS, FACET_TOP } from '../search/facets.ts'
import { SNIPPET_CHARS, SNIPPET_FIELDS } from '../search/highlight.ts'
import { SUGGEST_KINDS } from '../search/suggest.ts'

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
    description:
      'relevance: 2 + r for title matches, 1 + r for author/tag matches, r otherwise (0 ≤ r < 1); 3 less for a match that needs a typo (below 0)',
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
  facets: Type.Optional(
    Type.String({
      maxLength: 100,
      description: `comma list of ${FACET_KINDS.join(', ')}: counts over the whole match to add as \`facets\``,
      examples: ['tags,price,stores'],
    }),
  ),
})
export type SearchParams = Static<typeof SearchQuery>

export const Facets = Type.Object(
  {
    tags: Type.Optional(
      Type.Array(Type.Object({ value: Type.String(), count: Type.Integer() }), {
        description: `the ${FACET_TOP} tags most matches carry, most first (then by tag)`,
      }),
    ),
    price: Type.Optional(
      Type.Array(Type.Object({ min: Type.Integer(), max: Nullable(Type.Integer()), count: Type.Integer() }), {
        description:
          'matches per price bucket in cents, min ≤ price < max (max null: no bound); always all five',
      }),
    ),
    stores: Type.Optional(
      Type.Array(Type.Object({ store_id: Type.String(), count: Type.Integer() }), {
        description: `the ${FACET_TOP} stores with most matches, most first (then by id); only without store_id`,
      }),
    ),
    in_stock: Type.Integer({ description: 'matches with stock' }),
  },
  {
    description: 'counts over the whole match (all filters applied, before paging), for the kinds asked',
    examples: [
      {
        tags: [
          { value: '传记', count: 12 },
          { value: '数学', count: 7 },
        ],
        price: [
          { min: 0, max: 2000, count: 3 },
          { min: 2000, max: 5000, count: 10 },
          { min: 5000, max: 10000, count: 6 },
          { min: 10000, max: 20000, count: 1 },
          { min: 20000, max: null, count: 0 },
        ],
        stores: [{ store_id: 'store-1', count: 20 }],
        in_stock: 18,
      },
    ],
  },
)
export type Facets = Static<typeof Facets>

/** One page of hits (the 200 answer has these fields and its message). */
export const SearchPage = Type.Object({
  books: Type.Array(Hit),
  total: Type.Integer(),
  page: Type.Integer(),
  page_size: Type.Integer(),
  facets: Type.Optional(Facets),
  facets_exact: Type.Optional(
    Type.Boolean({
      description: `with facets: true when counted exactly (up to ${EXACT_FACET_MATCHES} matches), false when estimated`,
    }),
  ),
})
export type SearchPage = Static<typeof SearchPage>

export const SuggestQuery = Type.Object({
  q: Type.String({
    minLength: 1,
    maxLength: 100,
    description: 'the start of a title, author or tag: as written, or (Latin letters) its pinyin in full',
    examples: ['美丽', 'mei li', 'meilixin'],
  }),
  store_id: Type.Optional(StoreId),
  limit: Type.Integer({ minimum: 1, maximum: 20, default: 8 }),
})
export type SuggestParams = Static<typeof SuggestQuery>

export const Suggestion = Type.Object({
  text: Type.String(),
  kind: Type.Enum([...SUGGEST_KINDS]),
  store_id: Nullable(Type.String({ description: 'a listing with this title; null for authors and tags' })),
  book_id: Nullable(Type.String({ description: 'a listing with this title; null for authors and tags' })),
})

export const Suggestions = Type.Object({
  suggestions: Type.Array(Suggestion, {
    description: 'most listings first, then titles before authors before tags, then shorter, then by text',
    examples: [
      [
        { text: '美丽心灵', kind: 'title', store_id: 'store-1', book_id: '1000067' },
        { text: '美丽人生', kind: 'tag', store_id: null, book_id: null },
      ],
    ],
  }),
})
