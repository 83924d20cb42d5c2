/**
 * An experiment, not used by the server: would per-term bitmaps plus a threshold walk over the
 * ranked postings answer the benchmark's slow kinds on a large catalogue? See docs/search.md,
 * "Measured, not built: bitmaps and a threshold walk".
 *
 *   [DATABASE_URL=…] node --import tsx scripts/experiments/bitmap-search.ts [--queries 50] [--keep 0]
 *
 * Works on a catalogue from gen-catalog. It builds, for the words and tags its queries need, one bitmap
 * per 65 536 docs (bit = the listing has the word, or carries the tag) in an UNLOGGED table, and then
 * answers two kinds of the search benchmark (same generators and seeds):
 *   two_words    <noun> <tag>: total = popcount of the AND of the bitmaps; page = top 20 by a score that
 *                adds up per word (sum of tiers + mean of the per-word ranks), found by walking each
 *                word's postings in score order (search_postings_rank) with Fagin's threshold rule;
 *                a listing found in one walk gets the other words' scores from the primary key.
 *   word_and_tag <noun> + tag filter: total from the bitmaps; page = the word's postings in score
 *                order, kept when the tag bitmap has the listing, until 20 are kept (the one-word
 *                score is the search's score, so this ranking is the current one).
 * Every total is checked against a SQL count. Prints p50/p99/max per kind and how many postings the
 * walks read. The table is dropped at the end unless --keep 1.
 */
import { Rng, VOCABULARY } from '../../src/catalog/synthetic.ts'
import { segmenter } from '../../src/search/segmenter.ts'
import { openBenchDb, option } from '../bench-db.ts'

const QUERIES = option('queries', 50)
const KEEP = option('keep', 0) === 1
const PAGE = 20
const BLOCK = 65_536
const SEED = 2

const { db, where } = await openBenchDb()
const maxDoc = Number(
  (await db.query<{ m: string }>('SELECT coalesce(max(doc), 0)::text AS m FROM listings')).rows[0]?.m,
)
const blocks = Math.floor(maxDoc / BLOCK) + 1
await db.query(`CREATE UNLOGGED TABLE IF NOT EXISTS experiment_bitmaps (
  key text NOT NULL, block int NOT NULL, bits bytea NOT NULL, PRIMARY KEY (key, block))`)

/** Builds the bitmap of a word (its postings) or of a tag ('tag:' + name) unless it is there. */
async function ensureBitmap(key: string): Promise<void> {
  if ((await db.query('SELECT 1 FROM experiment_bitmaps WHERE key = $1 LIMIT 1', [key])).rows.length > 0)
    return
  const tag = key.startsWith('tag:') ? key.slice(4) : null
  const rows = await db.query<{ doc: string }>(
    tag === null
      ? 'SELECT doc::text AS doc FROM search_postings WHERE term = $1'
      : 'SELECT doc::text AS doc FROM listings WHERE tags @> ARRAY[$1::text]',
    [tag ?? key],
  )
  const bits = Array.from({ length: blocks }, () => Buffer.alloc(BLOCK / 8))
  for (const { doc } of rows.rows) {
    const d = Number(doc)
    const block = bits[Math.floor(d / BLOCK)] as Buffer
    const at = d % BLOCK
    block[at >> 3] = (block[at >> 3] as number) | (128 >> (at & 7))
  }
  for (const [i, b] of bits.entries())
    await db.query('INSERT INTO experiment_bitmaps (key, block, bits) VALUES ($1, $2, $3)', [key, i, b])
}

type Bitmap = (Buffer | undefined)[]
async function bitmaps(keys: readonly string[]): Promise<Bitmap[]> {
  const r = await db.query<{ key: string; block: number; bits: Buffer }>(
    'SELECT key, block, bits FROM experiment_bitmaps WHERE key = ANY($1)',
    [keys],
  )
  const by = new Map<string, Bitmap>(keys.map((k) => [k, []]))
  for (const row of r.rows) (by.get(row.key) as Bitmap)[row.block] = row.bits
  return keys.map((k) => by.get(k) as Bitmap)
}
const has = (b: Bitmap, doc: number) => {
  const block = b[Math.floor(doc / BLOCK)]
  const at = doc % BLOCK
  return block !== undefined && ((block[at >> 3] as number) & (128 >> (at & 7))) !== 0
}
const ONES = Uint8Array.from({ length: 256 }, (_, i) => {
  let n = 0
  for (let x = i; x > 0; x >>= 1) n += x & 1
  return n
})
function countAll(bs: readonly Bitmap[]): number {
  let n = 0
  for (let block = 0; block < blocks; block++) {
    const parts = bs.map((b) => b[block])
    if (parts.some((p) => p === undefined)) continue
    for (let i = 0; i < BLOCK / 8; i++) {
      let v = 255
      for (const p of parts) v &= (p as Buffer)[i] as number
      n += ONES[v] as number
    }
  }
  return n
}

/** A word's score for a listing from the primary key's columns, as the stored score computes it. */
const SCORE = `(CASE WHEN a > 0 OR fields & 32 <> 0 THEN 2 WHEN b > 0 THEN 1 ELSE 0 END
  + ((a * 1::real::float8 + b * 0.4::real::float8 + c * 0.2::real::float8 + d * 0.1::real::float8)
   / (a * 1::real::float8 + b * 0.4::real::float8 + c * 0.2::real::float8 + d * 0.1::real::float8 + 1))::real)`
/** Several words: the sum of the tiers, plus the mean of the ranks; monotone in every word's score. */
const combine = (s: readonly number[]) =>
  s.reduce((t, x) => t + Math.floor(x), 0) + s.reduce((t, x) => t + (x - Math.floor(x)), 0) / s.length

interface Walk {
  total: number
  read: number
  probes: number
}

/** Top PAGE listings holding every word and tag; words ranked by combine(), walked by score. */
async function search(words: readonly string[], tags: readonly string[]): Promise<Walk> {
  const filters = await bitmaps([...words, ...tags.map((t) => `tag:${t}`)])
  const total = countAll(filters)
  const front = words.map(() => ({
    score: Number.POSITIVE_INFINITY,
    doc: Number.MAX_SAFE_INTEGER,
    done: false,
  }))
  const seen = new Set<number>()
  const top: { doc: number; score: number }[] = []
  let read = 0
  let probes = 0
  let batch = 256
  const bound = () => combine(front.map((f) => (f.done ? Number.NEGATIVE_INFINITY : f.score)))
  while (
    !(top.length >= PAGE && (top[PAGE - 1] as { score: number }).score >= bound()) &&
    !front.every((f) => f.done)
  ) {
    for (const [i, word] of words.entries()) {
      const f = front[i] as (typeof front)[number]
      if (f.done) continue
      const r = await db.query<{ doc: string; score: number }>(
        `SELECT p.doc::text AS doc, p.score FROM search_postings p
          WHERE p.term = $1 AND (p.score, p.doc) < ($2, $3) ORDER BY p.score DESC, p.doc DESC LIMIT $4`,
        [word, Number.isFinite(f.score) ? f.score : 1e9, f.doc, batch],
      )
      read += r.rows.length
      const last = r.rows.at(-1)
      if (last) Object.assign(f, { score: last.score, doc: Number(last.doc) })
      if (r.rows.length < batch) f.done = true
      const found = new Map<number, number>()
      for (const row of r.rows) {
        const doc = Number(row.doc)
        if (seen.has(doc)) continue
        seen.add(doc)
        if (filters.every((b) => has(b, doc))) found.set(doc, row.score)
      }
      if (found.size === 0) continue
      const others = words.filter((_, j) => j !== i)
      const scores = new Map<string, number>()
      if (others.length > 0) {
        probes += found.size * others.length
        const s = await db.query<{ term: string; doc: string; score: number }>(
          `SELECT term, doc::text AS doc, ${SCORE} AS score FROM search_postings
            WHERE term = ANY($1) AND doc = ANY($2::bigint[])`,
          [others, [...found.keys()]],
        )
        for (const row of s.rows) scores.set(`${row.term} ${row.doc}`, row.score)
      }
      for (const [doc, own] of found) {
        const each = words.map((w, j) => (j === i ? own : (scores.get(`${w} ${doc}`) ?? 0)))
        top.push({ doc, score: combine(each) })
      }
      top.sort((a, b) => b.score - a.score || b.doc - a.doc)
      top.length = Math.min(top.length, PAGE)
    }
    batch = Math.min(batch * 2, 4096)
  }
  return { total, read, probes }
}

const pct = (xs: readonly number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? 0
}
const seg = segmenter()
console.log(
  `bitmap experiment: ${where}, docs up to ${maxDoc} (${blocks} blocks), ${QUERIES} queries per kind`,
)
for (const kind of ['two_words', 'word_and_tag'] as const) {
  const rng = new Rng(SEED * 1000 + kind.length)
  const cases: { words: string[]; tags: string[] }[] = []
  let widened = 0
  for (let i = 0; i < QUERIES; i++) {
    const noun = rng.pick(VOCABULARY.nouns)
    const tag = rng.pick(VOCABULARY.tags)
    const words = [...new Set(seg.queryWords(kind === 'two_words' ? `${noun} ${tag}` : noun))]
    // A word the search widens to its parts is an OR of ANDs; this walk handles plain words only.
    if (words.some((w) => seg.subWords(w).length > 0)) widened++
    else cases.push({ words, tags: kind === 'word_and_tag' ? [tag] : [] })
  }
  const keys = [...new Set(cases.flatMap((c) => [...c.words, ...c.tags.map((t) => `tag:${t}`)]))]
  for (const [i, key] of keys.entries()) {
    await ensureBitmap(key)
    process.stderr.write(`\r  ${kind}: bitmaps ${i + 1}/${keys.length}`)
  }
  process.stderr.write('\n')
  const ms: number[] = []
  const reads: number[] = []
  const probes: number[] = []
  let wrong = 0
  for (const c of cases) {
    const t0 = performance.now()
    const w = await search(c.words, c.tags)
    ms.push(performance.now() - t0)
    reads.push(w.read)
    probes.push(w.probes)
    const joins = c.words.map(
      (_, i) => `JOIN search_postings p${i} ON p${i}.term = $${i + 1} AND p${i}.doc = l.doc`,
    )
    const sql = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM listings l ${joins.join(' ')}
        ${c.tags.length > 0 ? `WHERE l.tags @> $${c.words.length + 1}::text[]` : ''}`,
      c.tags.length > 0 ? [...c.words, c.tags] : c.words,
    )
    if (sql.rows[0]?.n !== w.total) wrong++
  }
  console.log(
    `${kind.padEnd(13)} n ${cases.length} (${widened} widened words left out), totals wrong ${wrong}; ` +
      `ms p50 ${pct(ms, 50).toFixed(1)} p99 ${pct(ms, 99).toFixed(1)} max ${Math.max(...ms).toFixed(1)}; ` +
      `postings read p50 ${pct(reads, 50)} p99 ${pct(reads, 99)}; probes p50 ${pct(probes, 50)} p99 ${pct(probes, 99)}`,
  )
}
if (!KEEP) await db.query('DROP TABLE experiment_bitmaps')
await db.close()
