/**
 * Search: the planner (src/search/plan.ts) decides which structure answers a request; this module runs
 * the plan's executor, one per plan kind, each in its own file under ./search/.
 */
import type { Queryable } from '../db/db.ts'
import { planSearch, type SearchPlan, type SearchRequest } from '../search/plan.ts'
import { searchBitmaps } from './search/bitmaps.ts'
import { browse } from './search/browse.ts'
import type { SearchResult } from './search/hits.ts'
import { searchByStatement } from './search/statement.ts'
import { searchWithTypos } from './search/typos.ts'

export type { SearchFilters, SearchRequest } from '../search/plan.ts'
export type { SearchHit, SearchResult } from './search/hits.ts'
export { matchSql } from './search/statement.ts'

/** Runs one plan of a request. */
export function execute(q: Queryable, plan: SearchPlan, req: SearchRequest): Promise<SearchResult> {
  switch (plan.kind) {
    case 'browse':
      return browse(q, plan, req)
    case 'bitmaps':
      return searchBitmaps(q, plan, req)
    case 'statement':
      return searchByStatement(q, req)
    case 'typos':
      return searchWithTypos(q, plan, req, execute)
  }
}

/**
 * One page of matching listings and the exact number of matches. Filters and the text match are
 * applied before paging, every order ends with a unique key (pages are stable), and all statements
 * of a search read one snapshot (the caller's transaction).
 */
export function searchListings(q: Queryable, req: SearchRequest): Promise<SearchResult> {
  return execute(q, planSearch(req), req)
}
