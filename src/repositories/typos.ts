import type { Queryable } from '../db/db.ts'
import { query, sql } from '../db/sql.ts'
import { oneEditVariants, pickCandidates, typoEligible } from '../search/typos.ts'
import { queuedTerms } from './search/pending.ts'

/**
 * The typo candidates of the query words that get them (typoEligible): the terms of the vocabulary
 * one edit away from each, most frequent first, at most MAX_TYPO_CANDIDATES each. One statement
 * looks every variant of every word up in search_terms' primary key (about 53 probes per letter of
 * each word), and the listings queued for the index (search/pending.ts); no word eligible, no statement.
 */
export async function findTypoCandidates(
  q: Queryable,
  words: readonly string[],
): Promise<Map<string, string[]>> {
  const eligible = [...new Set(words.filter(typoEligible))]
  if (eligible.length === 0) return new Map()
  // Bound once: the merged terms and the queued listings' are looked up for the same variants.
  const variants = sql.bind([...new Set(eligible.flatMap(oneEditVariants))])
  const r = await query<{ term: string; listings: number }>(
    q,
    sql`SELECT term, sum(listings)::int AS listings
          FROM (SELECT term, listings FROM search_terms WHERE term = ANY(${variants}::text[])
                UNION ALL ${queuedTerms(variants)}) t
         GROUP BY term HAVING sum(listings) > 0`,
    { name: 'search_typo_candidates' },
  )
  return pickCandidates(eligible, r.rows)
}
