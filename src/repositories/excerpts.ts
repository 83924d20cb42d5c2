import type { Queryable } from '../db/db.ts'

/**
 * How much of book_intro and content a search reads for its hits' excerpts. left() reads only the
 * start of a long (TOASTed) value, so a page of 20 hits costs at most 20 × 2 of these; a match further
 * into a field is not excerpted.
 */
export const EXCERPT_SOURCE_CHARS = 10_000

export interface ExcerptSource {
  book_intro: string | null
  content: string | null
}

const key = (storeId: string, bookId: string) => `${storeId}\u0000${bookId}`

/** The beginnings of book_intro and content of the given listings, by store and book id. */
export async function excerptSources(
  q: Queryable,
  listings: readonly { store_id: string; book_id: string }[],
): Promise<(storeId: string, bookId: string) => ExcerptSource> {
  const found = new Map<string, ExcerptSource>()
  if (listings.length > 0) {
    const r = await q.query<ExcerptSource & { store_id: string; book_id: string }>(
      `SELECT l.store_id, l.book_id, left(l.book_intro, $3) AS book_intro, left(l.content, $3) AS content
         FROM unnest($1::text[], $2::text[]) AS k(store_id, book_id)
         JOIN listings l ON l.store_id = k.store_id AND l.book_id = k.book_id`,
      [listings.map((l) => l.store_id), listings.map((l) => l.book_id), EXCERPT_SOURCE_CHARS],
      { name: 'search_excerpt_sources' },
    )
    for (const row of r.rows)
      found.set(key(row.store_id, row.book_id), { book_intro: row.book_intro, content: row.content })
  }
  return (storeId, bookId) => found.get(key(storeId, bookId)) ?? { book_intro: null, content: null }
}
