/**
 * The web shop's pages on a generated catalogue (`npm run bench:pages`; options: `… -- --help`):
 * starts `bookstore serve` on the benchmark database (DATABASE_URL, or the embedded catalogue under
 * BENCH_DIR, default ./data/bench) and
 * - times `GET /search?…` for the search benchmark's kinds of query, in Chinese and in English,
 *   one request at a time: the server's own time per request (Fastify's `responseTime` from its log:
 *   from the request's arrival to the last byte of the page handed to the socket) and, beside it,
 *   the round trip seen by this client; p50 / p99 per kind and language;
 * - weighs the front page: its HTML and every stylesheet and script it loads, as sent with brotli
 *   and with gzip (pictures aside).
 */
import { request } from 'node:http'
import { Rng } from '../catalog/synthetic.ts'
import { startServer } from '../shared/server-process.ts'
import { kindsOf } from './search.ts'
import { fmt, Samples, table } from './stats.ts'

export interface PagesBenchOptions {
  /** Measured requests per kind and language. */
  perKind: number
  warmup: number
  /** Stores of the generated catalogue (store-scoped queries pick one of them). */
  stores: number
  seed: number
  kinds?: string[]
}

/** The kinds the search page is measured with: those of the search benchmark that a shopper makes. */
const PAGE_KINDS = [
  'one_word',
  'two_words',
  'word_and_tag',
  'short_title',
  'deep_page',
  'filter_only',
  'rating_browse',
] as const
const LANGS = ['zh', 'en'] as const
export const TARGETS = { searchP99Ms: 50, frontPageBytes: 150 * 1024 }
const kb = (bytes: number) => (bytes / 1024).toFixed(1)

/** A GET as it travels: the bytes received (still compressed) and the body's encoding. */
function fetchRaw(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; bytes: Buffer; encoding: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          bytes: Buffer.concat(chunks),
          encoding: String(res.headers['content-encoding'] ?? 'identity'),
        }),
      )
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** The front page's HTML, CSS and JS as sent with this encoding: [what, bytes][]. */
async function frontPageWeight(base: string, encoding: 'br' | 'gzip'): Promise<[string, number][]> {
  const headers = { accept: 'text/html', 'accept-encoding': encoding, 'accept-language': 'zh-CN' }
  const page = await fetchRaw(`${base}/`, headers)
  if (page.status !== 200) throw new Error(`GET / answered ${page.status}`)
  const plain = await fetchRaw(`${base}/`, { accept: 'text/html', 'accept-language': 'zh-CN' })
  const html = plain.bytes.toString('utf8')
  const assets = [
    ...html.matchAll(/<link rel="stylesheet" href="([^"]+)"/g),
    ...html.matchAll(/<script src="([^"]+)"/g),
  ].map((m) => m[1] as string)
  const parts: [string, number][] = [[`/ (${page.encoding})`, page.bytes.length]]
  for (const a of assets) {
    const r = await fetchRaw(`${base}${a}`, headers)
    if (r.status !== 200) throw new Error(`GET ${a} answered ${r.status}`)
    parts.push([`${a} (${r.encoding})`, r.bytes.length])
  }
  return parts
}

export async function benchPages(
  o: PagesBenchOptions,
  env: Record<string, string | undefined>,
): Promise<string> {
  const known = kindsOf(o.stores)
  const kinds = (o.kinds ?? [...PAGE_KINDS]).map((k) => {
    const gen = known[k]
    if (!gen) throw new Error(`--kinds: unknown ${k}; known: ${Object.keys(known).join(', ')}`)
    return [k, gen] as const
  })
  const where = env.DATABASE_URL
    ? `PostgreSQL ${new URL(env.DATABASE_URL).pathname.slice(1)}`
    : `PGlite ${env.BENCH_DIR ?? './data/bench'}`
  // The server's time per request, from its log: request id → url, then → responseTime.
  const urls = new Map<string, string>()
  const serverMs = new Map<string, number>()
  const onLine = (line: string) => {
    if (!line.startsWith('{')) return
    try {
      const l = JSON.parse(line) as { reqId?: string; req?: { url?: string }; responseTime?: number }
      if (!l.reqId) return
      if (l.req?.url) urls.set(l.reqId, l.req.url)
      if (typeof l.responseTime === 'number') serverMs.set(urls.get(l.reqId) ?? '', l.responseTime)
    } catch {
      // not a log line
    }
  }
  console.error(`starting the server on ${where}…`)
  const server = await startServer({
    env: {
      ...process.env,
      ...env,
      ...(env.DATABASE_URL ? {} : { DATA_DIR: env.BENCH_DIR ?? './data/bench' }),
      LOG_LEVEL: 'info',
    },
    onLine,
  })
  try {
    const probe = await fetchRaw(`${server.url}/search?q=x`, { accept: 'text/html' })
    if (probe.status !== 200) throw new Error(`GET /search answered ${probe.status}`)
    const rows: (string | number)[][] = []
    let worst = 0
    let seq = 0
    const total = kinds.length * LANGS.length
    for (const [kind, gen] of kinds)
      for (const lang of LANGS) {
        const r = new Rng(o.seed * 1000 + kind.length)
        const server_ = new Samples()
        const client = new Samples()
        for (let i = 0; i < o.warmup + o.perKind; i++) {
          const q = gen(r)
          const qs = new URLSearchParams()
          for (const [k, v] of Object.entries(q)) qs.append(k, String(v))
          // A unique parameter the page ignores keeps every URL distinct, to match the log line.
          qs.append('bench', String(++seq))
          const url = `/search?${qs}`
          const t0 = performance.now()
          const res = await fetchRaw(`${server.url}${url}`, {
            accept: 'text/html',
            'accept-encoding': 'br',
            'accept-language': lang,
          })
          const ms = performance.now() - t0
          if (res.status !== 200) {
            server_.errors++
            continue
          }
          if (i < o.warmup) continue
          client.add(ms)
          for (let w = 0; w < 100 && !serverMs.has(url); w++) await new Promise((s) => setTimeout(s, 5))
          const sms = serverMs.get(url)
          if (sms === undefined) server_.errors++
          else server_.add(sms)
        }
        const p99 = server_.quantile(0.99)
        worst = Math.max(worst, p99)
        const row = [
          kind,
          lang,
          server_.count,
          fmt(server_.quantile(0.5)),
          fmt(p99),
          fmt(client.quantile(0.99)),
          server_.errors,
        ]
        rows.push(row)
        console.error(
          `[${rows.length}/${total}] ${kind} ${lang}: server p50 ${row[3]} ms, p99 ${row[4]} ms (client p99 ${row[5]} ms)`,
        )
      }
    const weights: string[] = []
    const totals: Record<string, number> = {}
    for (const enc of ['br', 'gzip'] as const) {
      const parts = await frontPageWeight(server.url, enc)
      totals[enc] = parts.reduce((s, [, n]) => s + n, 0)
      weights.push(...parts.map(([what, n]) => `  ${what}: ${n} B`), `  total ${enc}: ${totals[enc]} B`)
    }
    const gzipTotal = totals.gzip ?? 0
    return [
      `search results page on ${where}, ${o.perKind} requests per kind and language, one at a time`,
      table(['kind', 'lang', 'n', 'server p50 ms', 'server p99 ms', 'client p99 ms', 'errors'], rows),
      `slowest server p99: ${fmt(worst)} ms (target ≤ ${TARGETS.searchP99Ms} ms: ${worst <= TARGETS.searchP99Ms ? 'met' : 'NOT met'})`,
      'front page, HTML + CSS + JS as sent:',
      ...weights,
      `front page weight: ${kb(totals.br ?? 0)} KB brotli, ${kb(gzipTotal)} KB gzip (target ≤ ${kb(TARGETS.frontPageBytes)} KB: ${gzipTotal <= TARGETS.frontPageBytes ? 'met' : 'NOT met'})`,
    ].join('\n')
  } finally {
    await server.stop()
  }
}
