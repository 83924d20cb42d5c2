/**
 * Facets of a search (API.md, "Search, continued"): what the whole match holds, counted per tag, price
 * bucket and store, with how many are in stock. The kinds and the price buckets are defined here once;
 * the repository emits them into SQL.
 */

export const FACET_KINDS = ['tags', 'price', 'stores'] as const
export type FacetKind = (typeof FACET_KINDS)[number]

/** The price buckets in cents: [min, max), the last without an upper bound. */
export const PRICE_BUCKETS: readonly { min: number; max: number | null }[] = [
  { min: 0, max: 2000 },
  { min: 2000, max: 5000 },
  { min: 5000, max: 10000 },
  { min: 10000, max: 20000 },
  { min: 20000, max: null },
]

/** How many tags and stores a facet lists, most frequent first. */
export const FACET_TOP = 20
/** Up to this many matches the counts are exact; above, they are estimated from this many. */
export const EXACT_FACET_MATCHES = 100_000

/** Parses the facets parameter: a comma list of FACET_KINDS; undefined when a name is unknown. */
export function parseFacets(raw: string | undefined): Set<FacetKind> | undefined {
  const out = new Set<FacetKind>()
  if (raw === undefined || raw.trim() === '') return out
  for (const part of raw.split(',')) {
    const name = part.trim()
    if (!(FACET_KINDS as readonly string[]).includes(name)) return undefined
    out.add(name as FacetKind)
  }
  return out
}
