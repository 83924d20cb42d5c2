import type { Db, Queryable } from '../db/db.ts'
import { query, type Sql, sql } from '../db/sql.ts'
import { KIND_LETTER, MAX_KEYS_PER_TEXT, type SuggestKind, suggestionKeys } from '../search/suggest.ts'

/** One completion, as GET /search/suggest answers it. */
export interface Suggestion {
  text: string
  kind: SuggestKind
  store_id: string | null
  book_id: string | null
}

const KIND_OF: Record<string, SuggestKind> = Object.fromEntries(
  Object.entries(KIND_LETTER).map(([kind, letter]) => [letter, kind as SuggestKind]),
)

/** Suggestion keys to store: one entry per key in each array (insertKeysSql). */
export interface KeyRows {
  keys: string[]
  kinds: string[]
  texts: string[]
  /** The listing being inserted that carries the text, when there is one (a key repeats per listing). */
  storeIds: (string | null)[]
  bookIds: (string | null)[]
}

/** A text to key: (kind letter, text), and the listing being inserted that carries it. */
interface KeyedText {
  kind: string
  text: string
  storeId?: string
  bookId?: string
}

/** The keys of some texts, once per text and listing, computed here (pinyin needs the library). */
function keyRows(texts: readonly KeyedText[]): KeyRows {
  const out: KeyRows = { keys: [], kinds: [], texts: [], storeIds: [], bookIds: [] }
  const seen = new Set<string>()
  const keysOf = new Map<string, string[]>()
  for (const { kind, text, storeId = null, bookId = null } of texts) {
    const id = `${kind}\u0000${text}`
    const once = `${id}\u0000${storeId}\u0000${bookId}`
    if (text.trim() === '' || seen.has(once)) continue
    seen.add(once)
    let keys = keysOf.get(id)
    if (!keys) {
      keys = suggestionKeys(text)
      keysOf.set(id, keys)
    }
    for (const key of keys) {
      out.keys.push(key)
      out.kinds.push(kind)
      out.texts.push(text)
      out.storeIds.push(storeId)
      out.bookIds.push(bookId)
    }
  }
  return out
}

/** The keys of listings' titles, authors and tags. */
export function listingKeyRows(
  listings: readonly {
    storeId: string
    bookId: string
    title: string
    author: string | null
    tags: readonly string[]
  }[],
): KeyRows {
  return keyRows(
    listings.flatMap((l) => {
      const of = { storeId: l.storeId, bookId: l.bookId }
      return [
        { kind: KIND_LETTER.title, text: l.title, ...of },
        ...(l.author ? [{ kind: KIND_LETTER.author, text: l.author, ...of }] : []),
        ...l.tags.map((text) => ({ kind: KIND_LETTER.tag, text, ...of })),
      ]
    }),
  )
}

/**
 * The statement that stores keys. Keys already there cost nothing. In key order, so that concurrent
 * inserts of the same keys wait for each other, never deadlock. A new key carries its text's count
 * (migration 017) as suggestion_texts has it when the statement starts. With `listed`, the rows
 * (store_id, book_id) a statement inserts into listings: only their keys are stored, each counting
 * those of them that carry its text too, so a new text is completed as soon as its listing commits.
 * The counts of keys already there are set by the merge that takes the listings from the search queue
 * (suggestion_keys_sync, migration 023); until then they rank by their previous count.
 */
export function insertKeysSql(rows: KeyRows, listed?: Sql): Sql {
  return sql`INSERT INTO suggestion_keys (key, kind, text, listings)
     SELECT k.key, k.kind, k.text, coalesce(s.listings, 0)${listed ? sql` + count(*)` : sql.empty}
       FROM unnest(${rows.keys}::text[], ${rows.kinds}::"char"[], ${rows.texts}::text[],
                   ${rows.storeIds}::text[], ${rows.bookIds}::text[]) AS k(key, kind, text, store_id, book_id)
       ${listed ? sql`JOIN ${listed} l ON l.store_id = k.store_id AND l.book_id = k.book_id` : sql.empty}
       LEFT JOIN suggestion_texts s ON s.kind = k.kind AND s.text = k.text
      GROUP BY k.key, k.kind, k.text, s.listings
      ORDER BY 1, 2, 3
     ON CONFLICT DO NOTHING`
}

/** Stores the keys of texts already counted in suggestion_texts. */
async function addKeys(q: Queryable, texts: readonly { kind: string; text: string }[]): Promise<void> {
  const rows = keyRows(texts)
  if (rows.keys.length === 0) return
  await query(q, insertKeysSql(rows), { name: 'add_suggestion_keys' })
}

/** The end of a prefix's range of keys: every key starting with the prefix sorts below it. */
const upperBound = (prefix: string) => `${prefix}\u{10FFFF}`

/**
 * Completions of any of the prefixes, most relevant first: more listings carrying the text first, then
 * titles before authors before tags, then shorter texts, then by text. In one store, the counts are
 * that store's listings and a title names the store's listing; site-wide a title names one listing
 * that has it.
 */
export async function findSuggestions(
  q: Queryable,
  prefixes: readonly string[],
  storeId: string | undefined,
  limit: number,
): Promise<Suggestion[]> {
  if (prefixes.length === 0) return []
  const params: unknown[] = [prefixes, prefixes.map(upperBound), limit]
  // The texts whose keys start with a prefix: one range of the primary key per prefix.
  const matching = `SELECT DISTINCT k.kind, k.text FROM unnest($1::text[], $2::text[]) AS p(low, high)
      CROSS JOIN LATERAL (SELECT kind, text FROM suggestion_keys
                           WHERE key >= p.low COLLATE "C" AND key < p.high COLLATE "C") k`
  const order = `n DESC, CASE kind WHEN 't' THEN 0 WHEN 'a' THEN 1 ELSE 2 END, length(text), text COLLATE "C"`
  const sql =
    storeId === undefined
      ? // The keys in the prefixes' ranges carry their texts' counts (migration 017, in the primary
        // key): they are ranked from the index alone, and only the texts taken are looked up (for a
        // title's listing). A text stands in the ranges at most once per key and prefix, so the
        // first $4 rows hold the first $3 texts.
        `WITH ranked AS (
           SELECT k.kind, k.text, k.listings AS n FROM unnest($1::text[], $2::text[]) AS p(low, high)
            CROSS JOIN LATERAL (SELECT kind, text, listings FROM suggestion_keys
                                 WHERE key >= p.low COLLATE "C" AND key < p.high COLLATE "C" AND listings > 0) k
            ORDER BY ${order} LIMIT $4)
         SELECT * FROM (
           SELECT top.kind, top.text, top.n, s.store_id, s.book_id
             FROM (SELECT DISTINCT kind, text, n FROM ranked) top
             JOIN suggestion_texts s ON s.kind = top.kind AND s.text = top.text) r
          ORDER BY ${order} LIMIT $3`
      : `WITH m AS MATERIALIZED (${matching}), l AS MATERIALIZED (
           SELECT book_id, title, author, tags FROM listings WHERE store_id = $4)
         SELECT * FROM (
           SELECT 't'::"char" AS kind, l.title AS text, count(*)::int AS n, $4 AS store_id, min(l.book_id) AS book_id
             FROM l WHERE l.title IN (SELECT text FROM m WHERE kind = 't') GROUP BY l.title
           UNION ALL
           SELECT 'a', l.author, count(*)::int, NULL, NULL
             FROM l WHERE l.author IN (SELECT text FROM m WHERE kind = 'a') GROUP BY l.author
           UNION ALL
           SELECT 'g', t.tag, count(DISTINCT l.book_id)::int, NULL, NULL
             FROM l CROSS JOIN LATERAL unnest(l.tags) AS t(tag)
            WHERE t.tag IN (SELECT text FROM m WHERE kind = 'g') GROUP BY t.tag) s
         ORDER BY ${order} LIMIT $3`
  // $4: the store, or how many keys the site-wide ranking reads.
  params.push(storeId === undefined ? limit * MAX_KEYS_PER_TEXT * prefixes.length : storeId)
  const r = await q.query<{ kind: string; text: string; store_id: string | null; book_id: string | null }>(
    sql,
    params,
  )
  return r.rows.map((row) => ({
    text: row.text,
    kind: KIND_OF[row.kind] ?? 'tag',
    store_id: row.kind === 't' ? row.store_id : null,
    book_id: row.kind === 't' ? row.book_id : null,
  }))
}

/**
 * Adds the pinyin keys that migration 012 could not (it cannot run the pinyin library) when it asked
 * for them, then clears the request: run after the migrations at every start, it costs one look-up
 * once done. Several processes starting at once may each add keys; adding a key twice is harmless.
 * Returns the number of texts keyed, or undefined when nothing was asked.
 */
export async function completeSuggestionKeys(
  db: Db,
  progress?: (texts: number) => void,
): Promise<number | undefined> {
  const pending = await db.query('SELECT 1 FROM suggestion_keys_pending')
  if (pending.rowCount === 0) return undefined
  const done = await backfillSuggestionKeys(db, progress)
  await db.query('DELETE FROM suggestion_keys_pending')
  return done
}

/**
 * Adds the keys of every text of suggestion_texts (listings from before migration 012 have only their
 * folded keys until this runs), a batch at a time, in (kind, text) order. Safe to run again or while
 * books are listed. Returns the number of texts.
 */
export async function backfillSuggestionKeys(db: Db, progress?: (texts: number) => void): Promise<number> {
  let after: { kind: string; text: string } = { kind: '', text: '' }
  let done = 0
  for (;;) {
    const r = await db.query<{ kind: string; text: string }>(
      `SELECT kind::text AS kind, text FROM suggestion_texts
        WHERE (kind::text, text COLLATE "C") > ($1, $2 COLLATE "C")
        ORDER BY kind::text, text COLLATE "C" LIMIT 1000`,
      [after.kind, after.text],
    )
    const last = r.rows[r.rows.length - 1]
    if (!last) return done
    await db.transaction((tx) => addKeys(tx, r.rows))
    done += r.rows.length
    progress?.(done)
    after = last
  }
}
