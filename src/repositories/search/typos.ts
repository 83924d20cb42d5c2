/**
 * The typos plan: the exact matches paged by their own plan, then the typo matches (matching the
 * widened query but not the exact one), read by a statement only when the page reaches them.
 */
import type { Queryable } from '../../db/db.ts'
import { query, sql } from '../../db/sql.ts'
import type { SearchPlan, SearchRequest } from '../../search/plan.ts'
import { TYPO_PENALTY } from '../../search/typos.ts'
import { countWhere, filterSql, type SearchResult } from './hits.ts'
import { searchWhere, typoGroupSql } from './statement.ts'

/** Runs a plan (the dispatcher, passed in so that this module does not import it back). */
export type Execute = (q: Queryable, plan: SearchPlan, req: SearchRequest) => Promise<SearchResult>

/**
 * The total is the sum of both groups' counts, the two being disjoint. With no exact match, a
 * substituted query (one word misspelt, one candidate) is answered by its own plan instead, its scores
 * less TYPO_PENALTY.
 */
export async function searchWithTypos(
  q: Queryable,
  plan: Extract<SearchPlan, { kind: 'typos' }>,
  req: SearchRequest,
  execute: Execute,
): Promise<SearchResult> {
  const text = req.text
  if (!text) throw new Error('a typos plan without text')
  const exactText = { ...text, typos: null }
  const exact = await execute(q, plan.exact, { ...req, text: exactText })
  if (exact.total === 0 && plan.substituted && plan.typos.substituted) {
    const found = await execute(q, plan.substituted, { ...req, text: plan.typos.substituted })
    return { total: found.total, hits: found.hits.map((h) => ({ ...h, score: h.score - TYPO_PENALTY })) }
  }
  const group = typoGroupSql(exactText, plan.typos)
  const where = [...filterSql(req.filters), group.match]
  const room = req.limit - exact.hits.length
  if (room === 0) {
    const typoMatches =
      plan.count === 'bitmaps' ? await countTypoBitmaps(q, plan) : await countWhere(q, where)
    return { total: exact.total + typoMatches, hits: exact.hits }
  }
  const offset = Math.max(0, req.offset - exact.total)
  const found = await searchWhere(q, { ...req, offset, limit: room }, where, group.score)
  return { total: exact.total + found.total, hits: [...exact.hits, ...found.hits] }
}

/**
 * The typo matches of one word anywhere, unfiltered (the planner's condition for count 'bitmaps'):
 * the listings holding a candidate but not the word, counted from the words' bitmaps of kind 'w'
 * (migration 010), the candidates' ORed less the word's, block by block, instead of visiting every
 * listing of a common candidate.
 */
async function countTypoBitmaps(q: Queryable, plan: Extract<SearchPlan, { kind: 'typos' }>): Promise<number> {
  const [word] = plan.typos.widened.terms
  if (!word) return 0
  const r = await query<{ n: number }>(
    q,
    sql`SELECT coalesce(sum(bit_count(CASE WHEN e.bits IS NULL THEN c.bits ELSE c.bits & ~e.bits END)), 0)::int AS n
          FROM (SELECT block, bit_or(bits) AS bits FROM search_bitmaps
                 WHERE kind = 'w' AND key = ANY(${word.typos ?? []}::text[]) GROUP BY block) c
          LEFT JOIN search_bitmaps e ON e.kind = 'w' AND e.key = ${word.text} AND e.block = c.block`,
  )
  return r.rows[0]?.n ?? 0
}
