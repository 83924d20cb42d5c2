/**
 * add_book on a PostgreSQL catalogue (`npm run bench:add-book -- --db <url> [--db <url> …]`; options:
 * `… -- --help`): adds N books of about 3 KB of Chinese and Latin text each through the service layer
 * (SellerService.addBook, the transaction the route runs), first one at a time, then 8 at once, and
 * prints books/s and p50 / p99 latency of each. Given several databases (say the same catalogue
 * before and after a migration), it takes them in turn within each round (A, B, A, B…), so that a
 * machine whose load drifts weighs on each alike, and prints the medians of the rounds at the end.
 *
 * The databases are used as they are: no migration is applied (a database left at an older schema is
 * measured at that schema, which the output names). Each round's books go to stores of their own
 * (one, or --stores in turn, as books of several sellers would), deleted with them after the round,
 * so the catalogue is the same size in every round. From migration 019 on, a search index merger runs
 * beside the adds as the server's does, and a run's books/s counts until its last book is merged (the
 * time the merge ran on after the last add returned is printed too). Before the first round, a few
 * books are added untimed (--warmup), as a server that has been running has loaded its dictionary.
 */
import { randomBytes } from 'node:crypto'
import type { BookInfo } from '../../src/catalog/book-info.ts'
import { Progress } from '../../src/cli/progress.ts'
import { loadConfig } from '../../src/config.ts'
import type { Db } from '../../src/db/db.ts'
import { openPostgres } from '../../src/db/postgres.ts'
import { Metrics } from '../../src/metrics.ts'
import { PasswordHasher } from '../../src/security/passwords.ts'
import { SearchMerger } from '../../src/services/search-merger.ts'
import { SellerService } from '../../src/services/seller.ts'
import { syntheticListing, VOCABULARY } from '../catalog/synthetic.ts'
import { fmt, median, Samples, table } from './stats.ts'

export interface AddBookBenchOptions {
  /** PostgreSQL databases, taken in turn within each round. */
  urls: string[]
  /** Books added per run (each round runs one at a time, then `concurrency` at once). */
  books: number
  concurrency: number
  rounds: number
  /** UTF-8 bytes of text per book (intro and content), roughly. */
  textBytes: number
  /** Stores of their own the books of a round are spread over, in turn (1: all in one store). */
  stores: number
  seed: number
  /**
   * Books added (and deleted) on each database before the first round, not timed: a running server
   * has its dictionary loaded, its connections open and its statements planned.
   */
  warmup: number
}

export const ADD_BOOK_TARGETS = { booksPerS: 250, p99Ms: 100 }

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8')

/**
 * The n-th book: a generated catalogue listing whose intro and content are filled up to about
 * `bytes` with the intros of the catalogue's other listings, Latin words among them, as a long
 * description of a real book mixes scripts.
 */
export function benchBook(n: number, bytes: number, seed: number, idPrefix: string): BookInfo {
  const l = syntheticListing(n, { storeIds: ['-'], seed, idPrefix })
  const parts: string[] = [l.bookIntro ?? '']
  for (let k = 1; utf8(parts.join('')) < bytes; k++) {
    const other = syntheticListing(n * 31 + k, { storeIds: ['-'], seed })
    const latin = VOCABULARY.latin[(n + k) % VOCABULARY.latin.length] as string
    parts.push(` ${latin} ${other.title} `, other.bookIntro ?? '')
  }
  const half = Math.floor(parts.length / 2)
  return {
    id: l.bookId,
    title: l.title,
    price: l.price,
    author: l.author,
    publisher: l.publisher,
    original_title: null,
    translator: null,
    pub_year: l.pubYear,
    pages: l.pages,
    binding: l.binding,
    isbn: l.isbn,
    author_intro: null,
    book_intro: parts.slice(0, half).join(''),
    content: parts.slice(half).join(''),
    tags: l.tags,
    pictures: null,
  }
}

interface RunResult {
  /** Books added per second, counted until the last one is merged into the search index. */
  booksPerS: number
  /** How long the search index's merge ran on after the last add returned. */
  drainMs: number
  p50: number
  p99: number
  errors: number
}

/** Adds `books` books, `concurrency` at a time, each timed on its own. */
async function addBooks(
  seller: SellerService,
  merger: SearchMerger | undefined,
  userId: string,
  storeIds: string[],
  books: BookInfo[],
  concurrency: number,
  label: string,
): Promise<RunResult> {
  const samples = new Samples()
  const progress = new Progress(label, books.length)
  let next = 0
  let done = 0
  const start = performance.now()
  const worker = async () => {
    for (let i = next++; i < books.length; i = next++) {
      const t0 = performance.now()
      try {
        await seller.addBook(userId, storeIds[i % storeIds.length] as string, books[i] as BookInfo, 10)
        samples.add(performance.now() - t0)
      } catch (err) {
        samples.errors++
        if (samples.errors === 1) process.stderr.write(`  first error: ${(err as Error).message}\n`)
      }
      progress.update(++done)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const added = performance.now()
  // The books are found by search at once; their merge into the index is part of adding them.
  await merger?.drain()
  const drainMs = performance.now() - added
  const seconds = (performance.now() - start) / 1000
  progress.done(done)
  return {
    booksPerS: samples.count / seconds,
    drainMs,
    p50: samples.quantile(0.5),
    p99: samples.quantile(0.99),
    errors: samples.errors,
  }
}

/** A database measured, with the service and merger that add books to it. */
interface Target {
  url: string
  db: Db
  seller: SellerService
  merger?: SearchMerger
  name: string
}

/** The letter a database goes by in the output: A, B, … in the order given. */
const letterOf = (i: number) => String.fromCharCode(65 + i)

/**
 * Runs `run` with stores of the bench owner's own, then deletes them with their books, so that every
 * round starts from the same catalogue.
 */
async function inOwnStores<T>(
  t: Target,
  owner: string,
  storeIds: string[],
  run: () => Promise<T>,
): Promise<T> {
  for (const storeId of storeIds) await t.seller.createStore(owner, storeId)
  try {
    return await run()
  } finally {
    await t.db.query('DELETE FROM listings WHERE store_id = ANY($1)', [storeIds])
    await t.db.query('DELETE FROM stores WHERE store_id = ANY($1)', [storeIds])
  }
}

/** What a database is: its name, last migration and number of listings. */
async function describe(db: Db, url: string): Promise<string> {
  const r = await db.query<{ version: string; listings: number }>(
    `SELECT (SELECT max(version) FROM schema_migrations) AS version,
            (SELECT count(*)::int FROM listings) AS listings`,
  )
  const row = r.rows[0]
  return `${new URL(url).pathname.slice(1)} (schema ${row?.version}, ${row?.listings} listings)`
}

export async function benchAddBook(o: AddBookBenchOptions, env: Record<string, string | undefined>) {
  const config = loadConfig({ ...env, DATABASE_URL: o.urls[0] })
  const hasher = new PasswordHasher(config.passwordMemoryKiB)
  const targets: Target[] = []
  const runId = randomBytes(4).toString('hex')
  const owner = `addbench_${runId}`
  const rows: (string | number)[][] = []
  const byTarget = new Map<string, { seq: RunResult[]; par: RunResult[] }>()
  try {
    for (const url of o.urls) {
      const db = await openPostgres(url, { max: o.concurrency + 2 })
      // From migration 019 on, listings are merged into the search index after add_book, as the server does.
      const queue = await db.query<{ q: string | null }>(`SELECT to_regclass('search_pending')::text AS q`)
      const merger = queue.rows[0]?.q ? new SearchMerger(db) : undefined
      merger?.start()
      const deps = {
        db,
        config: { ...config, databaseUrl: url },
        hasher,
        metrics: new Metrics(db),
        ...(merger ? { searchMerger: merger } : {}),
      }
      targets.push({
        url,
        db,
        seller: new SellerService(deps),
        ...(merger ? { merger } : {}),
        name: await describe(db, url),
      })
      await db.query('INSERT INTO users (user_id, password_hash) VALUES ($1, $2)', [
        owner,
        await hasher.hash(randomBytes(16).toString('hex')),
      ])
    }
    if (o.warmup > 0)
      for (const [i, t] of targets.entries()) {
        const storeIds = [`addbench_${runId}_warmup_${i}`]
        const books = Array.from({ length: o.warmup }, (_, k) =>
          benchBook(k, o.textBytes, o.seed, `${storeIds[0]}_`),
        )
        await inOwnStores(t, owner, storeIds, () =>
          addBooks(t.seller, t.merger, owner, storeIds, books, 1, `warm-up ${letterOf(i)}`),
        )
      }
    const sample = benchBook(0, o.textBytes, o.seed, 'x')
    const textBytes = utf8(`${sample.book_intro}${sample.content}`)
    process.stderr.write(
      `add_book: ${o.books} books per run (${textBytes} bytes of intro and content each), ` +
        `1 then ${o.concurrency} at once, into ${o.stores} store(s), ${o.rounds} rounds over ${targets.length} database(s), ` +
        `after ${o.warmup} untimed\n`,
    )
    for (let round = 1; round <= o.rounds; round++) {
      for (const [i, t] of targets.entries()) {
        const prefix = `addbench_${runId}_${round}_${i}`
        const storeIds = Array.from({ length: o.stores }, (_, k) => `${prefix}_${k}`)
        const books = (from: number) =>
          Array.from({ length: o.books }, (_, k) => benchBook(from + k, o.textBytes, o.seed, `${prefix}_`))
        const tag = `round ${round} ${letterOf(i)}`
        const [seq, par] = await inOwnStores(t, owner, storeIds, async () => [
          await addBooks(t.seller, t.merger, owner, storeIds, books(0), 1, `${tag} one at a time`),
          await addBooks(
            t.seller,
            t.merger,
            owner,
            storeIds,
            books(o.books),
            o.concurrency,
            `${tag} ${o.concurrency} at once`,
          ),
        ])
        const entry = byTarget.get(t.url) ?? { seq: [], par: [] }
        entry.seq.push(seq)
        entry.par.push(par)
        byTarget.set(t.url, entry)
        for (const [how, r] of [
          ['1 at a time', seq],
          [`${o.concurrency} at once`, par],
        ] as const)
          rows.push([
            round,
            letterOf(i),
            how,
            r.booksPerS.toFixed(0),
            fmt(r.p50),
            fmt(r.p99),
            fmt(r.drainMs),
            r.errors,
          ])
      }
    }
  } finally {
    for (const t of targets) {
      await t.merger?.stop()
      await t.db.query('DELETE FROM users WHERE user_id = $1', [owner]).catch(() => undefined)
      await t.db.close()
    }
  }
  const names = targets.map((t, i) => `${letterOf(i)}: ${t.name}`)
  const medians = targets.map((t, i) => {
    const e = byTarget.get(t.url) as { seq: RunResult[]; par: RunResult[] }
    return [
      letterOf(i),
      median(e.seq.map((r) => r.booksPerS)).toFixed(0),
      fmt(median(e.seq.map((r) => r.p99))),
      median(e.par.map((r) => r.booksPerS)).toFixed(0),
      fmt(median(e.par.map((r) => r.p50))),
      fmt(median(e.par.map((r) => r.p99))),
    ]
  })
  return [
    ...names,
    '',
    table(['round', 'db', 'how', 'books/s', 'p50 ms', 'p99 ms', 'merged after ms', 'errors'], rows),
    '',
    `medians over ${o.rounds} rounds (targets: ≥ ${ADD_BOOK_TARGETS.booksPerS} books/s one at a time, ` +
      `p99 ≤ ${ADD_BOOK_TARGETS.p99Ms} ms at ${o.concurrency} at once):`,
    table(
      ['db', '1 at a time books/s', 'p99 ms', `${o.concurrency} at once books/s`, 'p50 ms', 'p99 ms'],
      medians,
    ),
  ].join('\n')
}
