/**
 * The statement plan: one statement over the listings, the text matched by the tsvector's GIN index
 * and every filter in its WHERE clause. It answers whatever no faster plan does, and it is the
 * reference the other plans are tested against.
 */
import type { Queryable } from '../../db/db.ts'
import { query, type Sql, sql } from '../../db/sql.ts'
import type { SearchFilters, SearchRequest } from '../../search/plan.ts'
import type { TextQuery, TypoQuery } from '../../search/query.ts'
import { AUTHOR_TAGS, ELSEWHERE, levelScale, TITLE } from '../../search/rank.ts'
import { TYPO_PENALTY } from '../../search/typos.ts'
import {
  countWhere,
  filterSql,
  fromSql,
  type SearchResult,
  SORT_KEYS,
  TEXT_HIT_COLUMNS,
  whereOf,
} from './hits.ts'

const literal = (n: number) => sql.literal(n)

/** The sum of the words' levels (src/search/rank.ts), scaled into [0, 1). */
function levelRank(levels: TextQuery['levels']): Sql {
  const level = ({ title, authorTags }: (typeof levels)[number]) => {
    const when = [
      ...(title ? [sql`WHEN l.search_vec @@ ${title}::tsquery THEN ${literal(TITLE)}`] : []),
      ...(authorTags ? [sql`WHEN l.search_vec @@ ${authorTags}::tsquery THEN ${literal(AUTHOR_TAGS)}`] : []),
    ]
    return when.length > 0 ? sql`CASE ${sql.join(when, sql` `)} ELSE ${literal(ELSEWHERE)} END` : sql`0`
  }
  return sql`(${sql.join([sql`0`, ...levels.map(level)], sql` + `)})::float8 / ${literal(levelScale(levels.length))}`
}

/** Each row's text match, as SQL: conditions (for WHERE) and the score (src/search/rank.ts). */
function textSql(t: TextQuery): { match: Sql; score: Sql } {
  const alternatives: Sql[] = []
  let substringHit = sql`false`
  if (t.words) {
    let cond = sql`l.search_vec @@ ${t.words}::tsquery`
    if (t.split) {
      const parts = [sql`ts_filter(l.author_tags_vec, ${`{${t.split.authorOrTags}}`}::"char"[])`]
      if (t.split.others.length > 0)
        parts.unshift(sql`ts_filter(l.search_vec, ${`{${t.split.others.join(',')}}`}::"char"[])`)
      cond = sql`${cond} AND (${sql.join(parts, sql` || `)}) @@ ${t.split.plain}::tsquery`
    }
    alternatives.push(sql`(${cond})`)
  }
  if (t.substring) {
    // The same parameters in the match and in the score.
    substringHit = sql`(l.title_grams @@ ${sql.bind(t.substring.grams)}::tsquery)`
    alternatives.push(substringHit)
  }
  const titleHit = t.inTitle ? sql`l.search_vec @@ ${t.inTitle}::tsquery` : sql`false`
  const authorTagsHit = t.inAuthorTags ? sql`l.search_vec @@ ${t.inAuthorTags}::tsquery` : sql`false`
  const tier = sql`CASE WHEN ${titleHit} OR ${substringHit} THEN ${literal(TITLE)}
    WHEN ${authorTagsHit} THEN ${literal(AUTHOR_TAGS)} ELSE ${literal(ELSEWHERE)} END`
  return {
    match: alternatives.length > 0 ? sql`(${sql.join(alternatives, sql` OR `)})` : sql`false`,
    score: sql`(${tier} + ${levelRank(t.levels)})`,
  }
}

/** The relevance score of listing l for a query (src/search/rank.ts); 0 without text. */
export const scoreSql = (text: TextQuery | undefined): Sql => (text ? textSql(text).score : sql`0`)

/**
 * A query's text match and score, typo matches included: a listing matches when it matches the
 * widened query (each word or one of its typo candidates); one that also matches exactly has its
 * exact score, any other its widened score minus TYPO_PENALTY, so that it ranks below every exact
 * match. `exact` is the exact match (null without typos), which orders the groups in other sorts.
 */
function typoTextSql(t: TextQuery): { match: Sql; score: Sql; exact: Sql | null } {
  const exact = textSql(t)
  if (!t.typos) return { ...exact, exact: null }
  const wide = textSql(t.typos.widened)
  return {
    match: wide.match,
    score: sql`(CASE WHEN ${exact.match} THEN ${exact.score} ELSE ${wide.score} - ${literal(TYPO_PENALTY)} END)`,
    exact: exact.match,
  }
}

/**
 * The typo matches alone (matching the widened query but not the exact one) and their score. The
 * index is asked for the widened words together with the candidates (`(python | pyhton) & python`),
 * so that GIN reads the candidates' entries and skips through a common word's.
 */
export function typoGroupSql(t: TextQuery, typos: TypoQuery): { match: Sql; score: Sql } {
  const needsTypo = {
    ...typos.widened,
    words: `(${typos.widened.words}) & (${typos.candidates})`,
    substring: null,
  }
  return {
    match: sql`(${textSql(needsTypo).match} AND NOT ${textSql(t).match})`,
    score: sql`(${textSql(typos.widened).score} - ${literal(TYPO_PENALTY)})`,
  }
}

/**
 * The listings a search matches, as conditions over listings l (all filters and the text, typo
 * matches included), and the score of a match: the one definition of a match, for the page and for
 * the facets.
 */
export function matchSql(
  text: TextQuery | undefined,
  f: SearchFilters,
): { where: Sql[]; score: Sql; exact: Sql | null } {
  const where = filterSql(f)
  if (!text) return { where, score: sql`0::float8`, exact: null }
  const t = typoTextSql(text)
  where.push(t.match)
  return { where, score: t.score, exact: t.exact }
}

/**
 * One page of the listings meeting `where`, in the request's order, and their exact number. A keyword
 * search visits every match anyway (to rank them, or to filter the text), so the total is counted in
 * the same pass; only a page past the end needs a separate count. The matches are first cut down to
 * their key, score and sort keys, so that the window counting them buffers those and not whole rows
 * with their vectors (which spills to disk on common words); the page's rows are then read by key.
 * `group` (true for exact matches), when given, orders the matches before a sort other than relevance
 * does (by relevance the score already ranks typo matches last).
 */
export async function searchWhere(
  q: Queryable,
  req: SearchRequest,
  where: Sql[],
  score: Sql,
  group: Sql | null = null,
): Promise<SearchResult> {
  const keys: [Sql, Sql][] = [
    ...(group && req.sort !== 'relevance' ? [[group, sql` DESC`] as [Sql, Sql]] : []),
    ...(req.sort === 'relevance' ? [] : SORT_KEYS[req.sort]),
  ]
  const keyCols = sql.join(
    keys.map(([col], i) => sql`, ${col} AS ${sql.ident(`k${i}`)}`),
    sql.empty,
  )
  const by = (alias: 'm' | 'p') =>
    req.sort === 'relevance'
      ? sql`${sql.ident(alias)}.score DESC, ${sql.ident(alias)}.doc DESC`
      : sql.join(keys.map(([, dir], i) => sql`${sql.ident(`${alias}.k${i}`)}${dir}`))
  const r = await query<SearchResult['hits'][number] & { total: number }>(
    q,
    sql`SELECT ${TEXT_HIT_COLUMNS}, p.score, p.total FROM (
         SELECT m.*, count(*) OVER ()::int AS total FROM (
           SELECT l.doc, ${score}::float8 AS score${keyCols} FROM ${fromSql(req.sort)} ${whereOf(where)} OFFSET 0) m
          ORDER BY ${by('m')} LIMIT ${req.limit} OFFSET ${req.offset}) p
         JOIN listings l ON l.doc = p.doc
        ORDER BY ${by('p')}`,
  )
  if (r.rows.length === 0) return { total: req.offset === 0 ? 0 : await countWhere(q, where), hits: [] }
  const total = r.rows[0]?.total ?? 0
  return { total, hits: r.rows.map(({ total: _, ...hit }) => hit) }
}

/** The statement plan: the request's text (typo matches included) and filters in one statement. */
export function searchByStatement(q: Queryable, req: SearchRequest): Promise<SearchResult> {
  const { where, score, exact } = matchSql(req.text, req.filters)
  return searchWhere(q, req, where, score, exact)
}
