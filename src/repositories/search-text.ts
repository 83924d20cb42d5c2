import type { Db } from '../db/db.ts'
import { SEARCH_TEXT_VERSION, searchColumns } from '../search/lexemes.ts'
import { segmenter } from '../search/segmenter.ts'
import { backfillSuggestionKeys } from './suggest.ts'

/** Listings rebuilt per transaction: short enough not to hold their row locks for long. */
const REINDEX_BATCH = 500

interface TextRow {
  doc: string
  title: string
  author: string | null
  tags: string[]
  book_intro: string | null
  content: string | null
}

/**
 * Brings the search columns of every listing up to SEARCH_TEXT_VERSION (migration 014): run after the
 * migrations at every start, it costs one look-up once they are. Listings are rebuilt in doc order, a
 * batch per transaction that also records the last doc done, so an interrupted rebuild resumes there.
 * Each batch locks its rows and reads their text in the transaction that writes the columns, so a
 * listing changed meanwhile is never written back with stale columns; listings added meanwhile are
 * written with the current version already. Until a listing is rebuilt it is found as before (by its
 * old columns). The suggestions' keys are then completed with the new folding. Several processes starting at once may rebuild the same rows: each result is the same.
 * Returns the number of listings rebuilt, or undefined when nothing was to do.
 */
export async function reindexSearchText(
  db: Db,
  progress?: (done: number, total: number) => void,
  batch = REINDEX_BATCH,
): Promise<number | undefined> {
  const state = await db.query<{ version: number; rebuilding: number | null; rebuilt_to: string }>(
    'SELECT version, rebuilding, rebuilt_to FROM search_text_state',
  )
  const row = state.rows[0]
  if (!row || row.version >= SEARCH_TEXT_VERSION) return undefined
  let after = BigInt(row.rebuilt_to)
  if (row.rebuilding !== SEARCH_TEXT_VERSION) {
    // A rebuild to this version starts (or one to another version was left unfinished): from the start.
    await db.query('UPDATE search_text_state SET rebuilding = $1, rebuilt_to = 0', [SEARCH_TEXT_VERSION])
    after = 0n
  }
  const remaining = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM listings WHERE doc > $1', [
    after.toString(),
  ])
  const total = remaining.rows[0]?.n ?? 0
  const seg = segmenter()
  let done = 0
  for (;;) {
    const n = await db.transaction(async (tx) => {
      const r = await tx.query<TextRow>(
        // In the order of the bigint column (the text alias would sort 10 before 9).
        `SELECT l.doc::text AS doc, title, author, tags, book_intro, content FROM listings l
          WHERE l.doc > $1 ORDER BY l.doc LIMIT $2 FOR UPDATE`,
        [after.toString(), batch],
      )
      const last = r.rows[r.rows.length - 1]
      if (!last) return 0
      const columns = r.rows.map((l) =>
        searchColumns(seg, {
          title: l.title,
          author: l.author,
          tags: l.tags,
          bookIntro: l.book_intro,
          content: l.content,
        }),
      )
      const docs = r.rows.map((l) => l.doc)
      // The batch's bits and term counts are moved by two statements of their own (migration 016): the
      // old ones out before the columns change, the new ones in after; the row trigger stands aside.
      await tx.query(`SET LOCAL bookstore.search_by_statement = 'on'`)
      await tx.query('SELECT search_index_of_docs(false, $1::bigint[])', [docs])
      await tx.query(
        `UPDATE listings l SET search_vec = u.search_vec::tsvector, author_tags_vec = u.author_tags_vec::tsvector,
                title_grams = u.title_grams::tsvector
           FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])
             AS u(doc, search_vec, author_tags_vec, title_grams)
          WHERE l.doc = u.doc`,
        [
          docs,
          columns.map((c) => c.searchVec),
          columns.map((c) => c.authorTagsVec),
          columns.map((c) => c.titleGrams),
        ],
      )
      await tx.query('SELECT search_index_of_docs(true, $1::bigint[])', [docs])
      await tx.query('UPDATE search_text_state SET rebuilt_to = greatest(rebuilt_to, $1)', [last.doc])
      after = BigInt(last.doc)
      return r.rows.length
    })
    if (n === 0) break
    done += n
    progress?.(done, total)
  }
  // The suggestions' keys are folded the same way: the new forms are added (the old ones stay, unused).
  await backfillSuggestionKeys(db)
  await db.query(
    'UPDATE search_text_state SET version = $1, rebuilding = NULL, rebuilt_to = 0 WHERE version < $1',
    [SEARCH_TEXT_VERSION],
  )
  return done
}
