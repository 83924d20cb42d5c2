/**
 * The tools' commands of `bookstore` (benchmarks, catalogue generator, chaos and the other checks),
 * parsed by the same commander program as the server's. Each command calls its tool's function; the
 * tool's module is loaded only when its command runs, so `bookstore serve` does not load them.
 */
import type { Command } from 'commander'
import { positiveDecimal, positiveNumber, quantity, wholeNumber } from '../src/cli/options.ts'

type Env = Record<string, string | undefined>

/** The PostgreSQL server a check needs, or exit code 2 with a message. */
function requirePostgres(env: Env, tool: string): string | undefined {
  if (env.DATABASE_URL) return env.DATABASE_URL
  console.error(`${tool}: set DATABASE_URL to a PostgreSQL server`)
  process.exitCode = 2
  return undefined
}

/** Runs a tool; a failure is printed as one line and exit code 1, not a stack trace. */
async function run(tool: string, body: () => Promise<void>): Promise<void> {
  try {
    await body()
  } catch (err) {
    console.error(`${tool}: ${err instanceof Error ? err.message : String(err)}`)
    process.exitCode = 1
  }
}

export function addToolCommands(program: Command, env: Env): Command {
  program
    .command('bench')
    .description(
      'load-test the order path with the course workload (new_order then payment) and print paid orders/s and latencies',
    )
    .option(
      '--url <url>',
      'measure the server at this URL (default: start one, on DATABASE_URL or a fresh embedded database)',
    )
    .option('--raw', 'run the same transactions in-process against the database, without HTTP: the ceiling')
    .option(
      '--floor',
      'run the least work a paid order needs (guarded stock, order, items; guarded status, debit, ledger) on tables of its own: the floor',
    )
    .option('-c, --concurrency <n>', 'simultaneous buyers', positiveNumber, 16)
    .option('-d, --duration <s>', 'seconds to run', positiveNumber, 10)
    .option('--sellers <n>', 'sellers', positiveNumber, 2)
    .option('--stores <n>', 'stores per seller', positiveNumber, 2)
    .option('--books <n>', 'books per store', positiveNumber, 100)
    .option('--buyers <n>', 'buyers', positiveNumber, 10)
    .option('--book-db <file>', 'take the books from a course catalogue (e.g. ../shared/data/book.db)')
    .option(
      '--workers <n>',
      'server processes when the bench starts the server (PostgreSQL only)',
      positiveNumber,
      1,
    )
    .option(
      '--compare <rounds>',
      'rotate floor, raw and HTTP runs for this many rounds and print each ratio and the medians',
      wholeNumber,
      0,
    )
    .action((o) =>
      run('bench', async () => {
        const { BenchIncomplete, bench } = await import('./bench/orders-command.ts')
        const out = await bench(
          {
            raw: Boolean(o.raw),
            floor: Boolean(o.floor),
            concurrency: o.concurrency,
            durationS: o.duration,
            sellers: o.sellers,
            stores: o.stores,
            books: o.books,
            buyers: o.buyers,
            workers: o.workers,
            compare: o.compare,
            ...(o.url ? { url: o.url } : {}),
            ...(o.bookDb ? { bookDb: o.bookDb } : {}),
          },
          env,
        ).catch((err: unknown) => {
          // A server that stops mid-run ends it: print what was measured, then run() says why.
          if (err instanceof BenchIncomplete) console.log(err.report)
          throw err
        })
        console.log(out)
      }),
    )

  program
    .command('bench-account')
    .description(
      'where a paid order spends its time, statement by statement, for the floor and for the services in-process: ' +
        'calls, execution time, buffers and WAL per paid order from pg_stat_statements, and CPU per paid order ' +
        '(DATABASE_URL: a PostgreSQL server with pg_stat_statements)',
    )
    .option('-c, --concurrency <n>', 'simultaneous buyers', positiveNumber, 16)
    .option('-d, --duration <s>', 'seconds to run each target', positiveNumber, 10)
    .option('--top <n>', 'statements to list per target, most expensive first', positiveNumber, 12)
    .action((o) =>
      run('bench-account', async () => {
        const { benchAccount } = await import('./bench/order-account.ts')
        console.log(
          await benchAccount({ concurrency: o.concurrency, durationS: o.duration, top: o.top }, env),
        )
      }),
    )

  program
    .command('bench-add-book')
    .description(
      'add books of about 3 KB of Chinese and Latin text through the service layer, one at a time and ' +
        'several at once, and print books/s and p50 / p99; several --db are taken in turn each round ' +
        '(A, B, A, B), used as they are (no migration)',
    )
    .option(
      '--db <url>',
      'a PostgreSQL database to measure (repeat to compare; default DATABASE_URL)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('-n, --books <n>', 'books per run', positiveNumber, 500)
    .option('-c, --concurrency <n>', 'books added at once in the second run', positiveNumber, 8)
    .option('--rounds <n>', 'rounds over the databases', positiveNumber, 2)
    .option('--text-bytes <n>', 'bytes of intro and content per book', positiveNumber, 3000)
    .option('--stores <n>', 'stores the books of a round are spread over, in turn', positiveNumber, 1)
    .option('--seed <n>', 'seed of the generated books', wholeNumber, 1)
    .option('--warmup <n>', 'books added untimed on each database before the first round', wholeNumber, 20)
    .action((o) =>
      run('bench-add-book', async () => {
        const urls: string[] = o.db.length > 0 ? o.db : env.DATABASE_URL ? [env.DATABASE_URL] : []
        if (urls.length === 0 && !requirePostgres(env, 'bench-add-book')) return
        const { benchAddBook } = await import('./bench/add-book.ts')
        console.log(
          await benchAddBook(
            {
              urls,
              books: o.books,
              concurrency: o.concurrency,
              rounds: o.rounds,
              textBytes: o.textBytes,
              stores: o.stores,
              seed: o.seed,
              warmup: o.warmup,
            },
            env,
          ),
        )
      }),
    )

  program
    .command('bench-startup')
    .description('start-up time and memory of the server run through tsx against compiled JavaScript')
    .option(
      '--rounds <n>',
      'rounds, each starting both on a fresh and an existing data directory',
      positiveNumber,
      5,
    )
    .action((o) =>
      run('bench-startup', async () => {
        const { benchStartup } = await import('./bench/startup.ts')
        console.log(await benchStartup(o.rounds))
      }),
    )

  program
    .command('gen-catalog')
    .description(
      'fill a database with a synthetic Chinese catalogue for the search benchmark, with progress; ' +
        'DATABASE_URL picks a PostgreSQL database, otherwise an embedded one under BENCH_DIR (./data/bench). ' +
        'Listings already there are kept, so running again with a larger --n grows the catalogue',
    )
    .option('--n <listings>', 'listings in all (100000, 100k, 1m)', quantity, 100_000)
    .option('--stores <n>', 'stores the listings are spread over', positiveNumber, 1000)
    .option('--batch <n>', 'listings per transaction', positiveNumber, 1000)
    .option('--seed <n>', 'seed of the generator', wholeNumber, 1)
    .action((o) =>
      run('gen-catalog', async () => {
        const { genCatalog } = await import('./catalog/gen-catalog.ts')
        await genCatalog({ listings: o.n, stores: o.stores, batch: o.batch, seed: o.seed }, env)
      }),
    )

  program
    .command('gen-course-db')
    .description(
      "write a course catalogue file shaped like the course's book_lx.db (SQLite, table book: ~60 KB of picture " +
        'and ~3 KB of text per book, covers and books repeated as in a real catalogue), with progress, to measure the import',
    )
    .requiredOption('--out <file>', 'the SQLite file to write (replaced if it exists)')
    .option('--n <books>', 'books in the file (40000, 40k)', quantity, 40_000)
    .option('--picture-bytes <n>', 'mean picture size in bytes', wholeNumber, 60_000)
    .option('--seed <n>', 'seed of the generator', wholeNumber, 1)
    .action((o) =>
      run('gen-course-db', async () => {
        const { genCourseDb } = await import('./catalog/gen-course-db.ts')
        await genCourseDb({ books: o.n, out: o.out, seed: o.seed, pictureBytes: o.pictureBytes })
      }),
    )

  program
    .command('bench-search')
    .description(
      'search latency per query kind (p50/p99) on the generated catalogue, and the same mix as ILIKE scans',
    )
    .option('--per-kind <n>', 'measured queries per kind', positiveNumber, 200)
    .option('--ilike-per-kind <n>', 'ILIKE scans per kind (0: none)', wholeNumber, 20)
    .option(
      '--warmup <n>',
      "queries per kind run before measuring (every kind's before any is measured)",
      wholeNumber,
      10,
    )
    .option('--stores <n>', 'stores of the generated catalogue', positiveNumber, 1000)
    .option('--seed <n>', 'seed of the query mix', wholeNumber, 2)
    .option('--slowest <n>', "list each kind's n slowest requests", wholeNumber, 0)
    .option('--kinds <a,b,…>', 'run these kinds only (default: all)', (raw: string) => raw.split(','))
    .action((o) =>
      run('bench-search', async () => {
        const { benchSearch } = await import('./bench/search.ts')
        await benchSearch(
          {
            perKind: o.perKind,
            ilikePerKind: o.ilikePerKind,
            warmup: o.warmup,
            stores: o.stores,
            seed: o.seed,
            slowest: o.slowest,
            ...(o.kinds ? { kinds: o.kinds } : {}),
          },
          env,
        )
      }),
    )

  program
    .command('bench-replicas')
    .description(
      'search throughput over HTTP with 0, 1, … read replicas of DATABASE_URL (on a generated catalogue): q/s and p50/p99 per concurrency, and which server ran the queries',
    )
    .option(
      '--replicas <urls>',
      'comma-separated replica URLs (default: DATABASE_REPLICA_URLS)',
      (raw: string) => raw.split(',').filter((u) => u.trim() !== ''),
    )
    .option(
      '-c, --concurrency <a,b,…>',
      'concurrency levels',
      (raw: string) => raw.split(',').map(Number),
      [1, 2, 4, 8, 16],
    )
    .option('-d, --duration <s>', 'seconds per level', positiveNumber, 5)
    .option('--workers <n>', 'server processes (WORKERS)', positiveNumber, 2)
    .option('--p99-ms <ms>', 'latency bound of the summary', positiveDecimal, 50)
    .option('--stores <n>', 'stores of the generated catalogue', positiveNumber, 1000)
    .option('--seed <n>', 'seed of the query mix', wholeNumber, 3)
    .option(
      '--rounds <n>',
      'rounds over 0 … all replicas, alternating (the summary takes the median)',
      positiveNumber,
      1,
    )
    .action((o) =>
      run('bench-replicas', async () => {
        const url = requirePostgres(env, 'bench-replicas')
        if (!url) return
        const replicas: string[] = o.replicas ?? (env.DATABASE_REPLICA_URLS ?? '').split(',').filter(Boolean)
        if (replicas.length === 0) throw new Error('name the replicas: --replicas or DATABASE_REPLICA_URLS')
        if (o.concurrency.some((c: number) => !Number.isInteger(c) || c < 1))
          throw new Error('--concurrency: a comma list of whole numbers of at least 1')
        const { benchReplicas } = await import('./bench/replicas.ts')
        await benchReplicas(
          {
            replicas,
            concurrency: o.concurrency,
            duration: o.duration,
            workers: o.workers,
            p99Ms: o.p99Ms,
            stores: o.stores,
            seed: o.seed,
            rounds: o.rounds,
          },
          env,
        )
      }),
    )

  program
    .command('bench-pages')
    .description(
      'the web shop on the generated catalogue: server time (p50/p99) of the search results page per kind of ' +
        'query in both languages, and the front page weight (HTML + CSS + JS, compressed); starts the server on ' +
        'DATABASE_URL or on the embedded catalogue under BENCH_DIR (./data/bench)',
    )
    .option('--per-kind <n>', 'measured requests per kind and language', positiveNumber, 200)
    .option('--warmup <n>', 'requests per kind and language run before measuring', wholeNumber, 10)
    .option('--stores <n>', 'stores of the generated catalogue', positiveNumber, 1000)
    .option('--seed <n>', 'seed of the query mix', wholeNumber, 2)
    .option('--kinds <a,b,…>', 'run these kinds only (default: those a shopper makes)', (raw: string) =>
      raw.split(','),
    )
    .action((o) =>
      run('bench-pages', async () => {
        const { benchPages } = await import('./bench/pages.ts')
        console.log(
          await benchPages(
            {
              perKind: o.perKind,
              warmup: o.warmup,
              stores: o.stores,
              seed: o.seed,
              ...(o.kinds ? { kinds: o.kinds } : {}),
            },
            env,
          ),
        )
      }),
    )

  program
    .command('chaos')
    .description(
      'kill the server with SIGKILL under load, restart it on the same data, and check that nothing ' +
        'acknowledged was lost and money and stock are conserved (DATABASE_URL: on that PostgreSQL)',
    )
    .option('--rounds <n>', 'kills and restarts', positiveNumber, 3)
    .option('--seconds <s>', 'longest load per round before the kill', positiveDecimal, 5)
    .option('--concurrency <n>', 'simultaneous clients', positiveNumber, 16)
    .option('--keep', 'keep the data (directory or schema) for a look afterwards')
    .action(async (o) => {
      const { chaosCommand } = await import('./chaos.ts')
      process.exitCode = await chaosCommand({
        rounds: o.rounds,
        seconds: o.seconds,
        concurrency: o.concurrency,
        keep: Boolean(o.keep),
        databaseUrl: env.DATABASE_URL || undefined,
      })
    })

  program
    .command('schema')
    .description(
      'write schema.sql: the schema as the migrations leave a fresh database, read from its catalog',
    )
    .action(() =>
      run('schema', async () => {
        const { writeSchemaFile } = await import('./schema.ts')
        console.log(`wrote ${await writeSchemaFile()}`)
      }),
    )

  program
    .command('sql-snapshots')
    .description(
      'write src/repositories/__sql__/: the SQL each dynamic statement sends, for representative cases',
    )
    .action(() =>
      run('sql-snapshots', async () => {
        const { writeSqlSnapshots, SNAPSHOT_DIR } = await import('./sql-snapshots.ts')
        const changed = await writeSqlSnapshots()
        console.log(changed.length > 0 ? `wrote ${changed.join(', ')} in ${SNAPSHOT_DIR}` : 'no change')
      }),
    )

  program
    .command('demo')
    .description(
      'fill the database with a demo shop (sellers, stores, books with covers, buyers, orders in every status), ' +
        'with progress; nothing changes if it is already there',
    )
    .option('--books <n>', 'books', positiveNumber, 3000)
    .option('--orders <n>', 'orders', wholeNumber, 400)
    .option('--buyers <n>', 'buyers', positiveNumber, 12)
    .option('--seed <n>', 'seed of the generator', wholeNumber, 7)
    .action((o) =>
      run('demo', async () => {
        const { demo } = await import('./demo/demo.ts')
        await demo({ books: o.books, orders: o.orders, buyers: o.buyers, seed: o.seed }, env)
      }),
    )

  program
    .command('two-sweepers')
    .description(
      'two server processes sweeping one PostgreSQL (DATABASE_URL): no order cancelled or released twice',
    )
    .action(async () => {
      const url = requirePostgres(env, 'two-sweepers')
      if (!url) return
      const { twoSweepers } = await import('./two-sweepers.ts')
      process.exitCode = (await twoSweepers(url, env)) ? 0 : 1
    })

  program
    .command('explain-history')
    .description('the query plans of the order-history queries on 500 000 orders (PostgreSQL, DATABASE_URL)')
    .action(async () => {
      const url = requirePostgres(env, 'explain-history')
      if (!url) return
      await run('explain-history', async () => {
        const { explainHistory } = await import('./explain-history.ts')
        await explainHistory(url)
      })
    })

  return program
}
