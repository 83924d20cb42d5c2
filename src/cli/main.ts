import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Command, InvalidArgumentError } from 'commander'
import { openDatabase } from '../app.ts'
import { ConfigError, loadConfig } from '../config.ts'
import { backupDataDir } from '../db/pglite.ts'
import { serveOrExit } from '../server.ts'
import { BenchIncomplete, bench } from './bench.ts'
import { main as importMain } from './import.ts'

const env = process.env

const failure = (err: unknown) =>
  err instanceof ConfigError
    ? `invalid configuration: ${err.message}`
    : err instanceof Error
      ? err.message
      : String(err)

function wholeNumber(raw: string): string {
  if (!/^\d+$/.test(raw)) throw new InvalidArgumentError('expected a whole number')
  return raw
}

const program = new Command()
  .name('bookstore')
  .description('The bookstore server and its tools. Settings come from the environment (see README).')
  .showHelpAfterError()

program
  .command('serve')
  .description('start the HTTP server (PORT, HOST, DATA_DIR, DATABASE_URL, …)')
  .action(() => serveOrExit(env))

program
  .command('migrate')
  .description('apply pending database migrations and exit')
  .action(async () => {
    try {
      const db = await openDatabase(loadConfig(env))
      console.log(`database (${db.engine}) is up to date`)
      await db.close()
    } catch (err) {
      console.error(`bookstore migrate: ${failure(err)}`)
      process.exitCode = err instanceof ConfigError ? 2 : 1
    }
  })

program
  .command('backup')
  .description(
    'copy the embedded database (DATA_DIR) to a new directory, refused while another process has it open;\n' +
      '  to restore, stop the server and put the copy in place of $DATA_DIR/pglite (README, "Backups and recovery")',
  )
  .argument('<dir>', 'the new directory')
  .action(async (target: string) => {
    try {
      const config = loadConfig(env)
      if (config.databaseUrl) throw new Error('DATABASE_URL is set: back up a PostgreSQL server with pg_dump')
      await backupDataDir(join(config.dataDir, 'pglite'), target)
      console.log(`copied ${join(config.dataDir, 'pglite')} to ${target}`)
    } catch (err) {
      console.error(`bookstore backup: ${failure(err)}`)
      process.exitCode = err instanceof ConfigError ? 2 : 1
    }
  })

program
  .command('import')
  .description('list the books of a course catalogue (SQLite book.db / book_lx.db) in a store, with progress')
  .argument('<file>', 'the SQLite catalogue')
  .requiredOption('--store <id>', 'store to list the books in (created when missing)')
  .requiredOption('--seller <id>', 'owner of the store')
  .option('--password <pw>', "create the seller's account with this password if it does not exist")
  .option('--stock <n>', 'copies in stock of each book', wholeNumber, '10')
  .option('--batch <n>', 'books per transaction', wholeNumber, '200')
  .option('--limit <n>', 'import at most n books', wholeNumber)
  .action(async (file: string, o: Record<string, string | undefined>) => {
    const args = [file, '--store', o.store, '--seller', o.seller, '--stock', o.stock, '--batch', o.batch]
    if (o.password !== undefined) args.push('--password', o.password)
    if (o.limit !== undefined) args.push('--limit', o.limit)
    process.exitCode = await importMain(args as string[], env)
  })

const count = (raw: string): number => Number(wholeNumber(raw))

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
  .option('-c, --concurrency <n>', 'simultaneous buyers', count, 16)
  .option('-d, --duration <s>', 'seconds to run', count, 10)
  .option('--sellers <n>', 'sellers', count, 2)
  .option('--stores <n>', 'stores per seller', count, 2)
  .option('--books <n>', 'books per store', count, 100)
  .option('--buyers <n>', 'buyers', count, 10)
  .option('--book-db <file>', 'take the books from a course catalogue (e.g. ../shared/data/book.db)')
  .option('--workers <n>', 'server processes when the bench starts the server (PostgreSQL only)', count, 1)
  .option(
    '--compare <rounds>',
    'alternate raw and HTTP runs for this many rounds and print each ratio and the medians',
    count,
    0,
  )
  .action(async (o) => {
    const out = bench(
      {
        raw: Boolean(o.raw),
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
    )
    // A server that stops mid-run ends it: print what was measured, and why it stopped, no stack.
    await out.then(
      (text) => console.log(text),
      (err: unknown) => {
        if (err instanceof BenchIncomplete) console.log(err.report)
        console.error(failure(err))
        process.exitCode = 1
      },
    )
  })

/** Runs one of the repository's scripts in a child process with the given arguments. */
function runScript(file: string, args: string[]): void {
  const script = fileURLToPath(new URL(`../../scripts/${file}`, import.meta.url))
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { stdio: 'inherit', env })
  process.exitCode = r.status ?? 1
}

program
  .command('gen-catalog')
  .description(
    'fill a database with a synthetic Chinese catalogue for the search benchmark, with progress\n' +
      '  --n <listings> (default 100000; 1m allowed), --stores <n> (1000), --batch <n> (1000), --seed <n> (1)\n' +
      '  DATABASE_URL picks a PostgreSQL database, otherwise an embedded one under BENCH_DIR (./data/bench)',
  )
  .allowUnknownOption()
  .argument('[options...]')
  .action((args: string[]) => runScript('gen-catalog.ts', args))

program
  .command('bench-search')
  .description(
    'search latency per query kind (p50/p99) on the generated catalogue, and the same mix as ILIKE scans\n' +
      '  --per-kind <n> (200), --ilike-per-kind <n> (20), --warmup <n> (10), --stores <n> (1000), --seed <n> (2),\n' +
      "  --slowest <n> (0: list each kind's n slowest requests), --kinds <a,b,…> (all of them)",
  )
  .allowUnknownOption()
  .argument('[options...]')
  .action((args: string[]) => runScript('bench-search.ts', args))

program
  .command('demo')
  .description(
    'fill the database with a demo shop (sellers, stores, books with covers, buyers, orders in every status), with progress\n' +
      '  --books <n> (3000), --orders <n> (400), --buyers <n> (12), --seed <n> (7); nothing changes if it is already there',
  )
  .allowUnknownOption()
  .argument('[options...]')
  .action((args: string[]) => runScript('demo.ts', args))

await program.parseAsync(process.argv)
