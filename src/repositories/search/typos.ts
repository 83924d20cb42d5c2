/**
 * The typos plan: the exact matches paged by their own plan, then the typo matches (matching the
 * widened query but not the exact one), read by a statement only when the page reaches them.
 */
import type { Queryable } from '../../db/db.ts'
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
  const exact = plan.exact
    ? await execute(q, plan.exact, { ...req, text: exactText })
    : { total: 0, hits: [] }
  if (exact.total === 0 && plan.substituted && plan.typos.substituted) {
    const found = await execute(q, plan.substituted, { ...req, text: plan.typos.substituted })
    return { total: found.total, hits: found.hits.map((h) => ({ ...h, score: h.score - TYPO_PENALTY })) }
  }
  const room = req.limit - exact.hits.length
  const offset = Math.max(0, req.offset - exact.total)
  // The typo matches: counted only when the page lies within the exact matches (a page of none).
  const group = { ...req, offset, limit: room }
  if (plan.typoMatches.kind === 'statement') {
    const typoMatches = typoGroupSql(exactText, plan.typos)
    const where = [...filterSql(req.filters), typoMatches.match]
    const found =
      room === 0
        ? { total: await countWhere(q, where), hits: [] }
        : await searchWhere(q, group, where, typoMatches.score)
    return { total: exact.total + found.total, hits: [...exact.hits, ...found.hits] }
  }
  const found = await execute(q, plan.typoMatches, { ...group, text: plan.typos.widened })
  return { total: exact.total + found.total, hits: [...exact.hits, ...found.hits] }
}
