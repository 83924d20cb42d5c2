/**
 * The one ranking rule of every search by relevance (docs/search.md, "Ranking"): first the tier (every
 * word in the title, or the title contains a short query: 2; every word in author or tags: 1; else 0),
 * then how well the listing matches (the sum of the words' levels: 2 for a word in the title, else 1 in
 * author or tags, else 0), then the newest. The executors emit these numbers into their SQL from here.
 */

/** Tier and level of a match in the title, in author or tags, and elsewhere. */
export const TITLE = 2
export const AUTHOR_TAGS = 1
export const ELSEWHERE = 0

/**
 * The score of a listing: its tier plus its levels' sum scaled into [0, 1), so that the tier decides
 * first and the sum within the tier. `words` is the number of query words (each adds at most TITLE).
 */
export function score(tier: number, levels: number, words: number): number {
  return tier + levels / levelScale(words)
}

/** What the levels' sum is divided by: above the largest sum, so the fraction stays below 1. */
export const levelScale = (words: number) => TITLE * words + 1
