import { join } from 'node:path'
import { Command } from 'commander'
import { openDatabase } from '../app.ts'
import { ConfigError, loadConfig } from '../config.ts'
import { backupDataDir } from '../db/pglite.ts'
import { backfillSuggestionKeys } from '../repositories/suggest.ts'
import { serveOrExit } from '../server.ts'
import { main as importMain } from './import.ts'
import { Progress } from './progress.ts'

const failure = (err: unknown) =>
  err instanceof ConfigError
    ? `invalid configuration: ${err.message}`
    : err instanceof Error
      ? err.message
      : String(err)

/**
 * The `bookstore` command with what the server ships: serve, migrate, import. bin/bookstore.js adds
 * the tools' commands (tools/cli.ts) to it.
 */
export function bookstoreCli(env: Record<string, string | undefined>): Command {
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
    .command('suggest-keys')
    .description(
      'add the pinyin keys of the search box suggestions for every title, author and tag, with progress\n' +
        '  (the server does this by itself at the start after migration 012; safe to run again, and while the server runs)',
    )
    .action(async () => {
      try {
        const db = await openDatabase(loadConfig(env))
        const texts =
          (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM suggestion_texts')).rows[0]?.n ?? 0
        const progress = new Progress('suggestion keys', texts)
        const done = await backfillSuggestionKeys(db, (n) => progress.update(n))
        progress.update(done, '', true)
        console.log(`\nkeys of ${done} titles, authors and tags are in place`)
        await db.close()
      } catch (err) {
        console.error(`bookstore suggest-keys: ${failure(err)}`)
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
        if (config.databaseUrl)
          throw new Error('DATABASE_URL is set: back up a PostgreSQL server with pg_dump')
        await backupDataDir(join(config.dataDir, 'pglite'), target)
        console.log(`copied ${join(config.dataDir, 'pglite')} to ${target}`)
      } catch (err) {
        console.error(`bookstore backup: ${failure(err)}`)
        process.exitCode = err instanceof ConfigError ? 2 : 1
      }
    })

  program
    .command('import')
    .description(
      'list the books of a course catalogue (SQLite book.db / book_lx.db) in a store, with progress',
    )
    .argument('<file>', 'the SQLite catalogue')
    .requiredOption('--store <id>', 'store to list the books in (created when missing)')
    .requiredOption('--seller <id>', 'owner of the store')
    .option('--password <pw>', "create the seller's account with this password if it does not exist")
    .option('--stock <n>', 'copies in stock of each book', '10')
    .option('--batch <n>', 'books per transaction', '200')
    .option('--limit <n>', 'import at most n books')
    .action(async (file: string, o: Record<string, string | undefined>) => {
      const args = [file, '--store', o.store, '--seller', o.seller, '--stock', o.stock, '--batch', o.batch]
      if (o.password !== undefined) args.push('--password', o.password)
      if (o.limit !== undefined) args.push('--limit', o.limit)
      process.exitCode = await importMain(args as string[], env)
    })

  return program
}
