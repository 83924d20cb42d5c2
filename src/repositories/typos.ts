import type { Queryable } from '../db/db.ts'
import { query, sql } from '../db/sql.ts'
import { NO_TYPOS, oneEditVariants, pickCandidates, type TypoLookup, typoEligible } from '../search/typos.ts'
import { queuedTerms } from './search/pending.ts'

/**
 * The typo candidates of the query words that get them (typoEligible): the terms of the vocabulary
 * one edit away from each, most frequent first, at most MAX_TYPO_CANDIDATES each. One statement
 * looks every variant of every word up in search_terms (about 53 per letter of each word), and the
 * listings queued for the index (search/pending.ts); no word eligible, no statement. Also which of
 * the words no listing holds.
 *
 * The variants are joined as a set, not tested with `term = ANY(array)`: the statement is prepared,
 * and a generic plan compares each term with the array one element at a time (only a constant array
 * is hashed), so a two-word query took 6–7 ms on a vocabulary of 1 000 terms; the join takes 0.3.
 */
export async function findTypoCandidates(q: Queryable, words: readonly string[]): Promise<TypoLookup> {
  const eligible = [...new Set(words.filter(typoEligible))]
  if (eligible.length === 0) return NO_TYPOS
  // Bound once: the merged terms and the queued listings' are looked up for the same variants. The
  // words themselves are looked up too: one in no listing rules out an exact match (TypoLookup.absent).
  const variantsOf = new Map(eligible.map((w) => [w, oneEditVariants(w)]))
  const variants = sql.bind([...new Set([...eligible, ...[...variantsOf.values()].flat()])])
  const r = await query<{ term: string; listings: number }>(
    q,
    sql`SELECT term, sum(listings)::int AS listings
          FROM (SELECT s.term, s.listings FROM unnest(${variants}::text[]) AS v(term)
                  JOIN search_terms s ON s.term = v.term
                UNION ALL ${queuedTerms(variants)}) t
         GROUP BY term HAVING sum(listings) > 0`,
    { name: 'search_typo_candidates' },
  )
  const found = new Set(r.rows.map((row) => row.term))
  return {
    candidates: pickCandidates(variantsOf, r.rows),
    absent: new Set(eligible.filter((w) => !found.has(w))),
  }
}
