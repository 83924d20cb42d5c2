import { parseArgs } from 'node:util'
import { openDatabase } from '../app.ts'
import { CourseDb, NotACatalogue } from '../catalog/course-db.ts'
import { ImportError, importCatalog } from '../catalog/import.ts'
import { ConfigError, loadConfig } from '../config.ts'
import { analyseListings } from '../repositories/listings.ts'
import { PasswordHasher } from '../security/passwords.ts'
import { Progress } from './progress.ts'

const USAGE = `Usage: npm run import -- <book.db> --store <store_id> --seller <user_id> [options]

Lists every book of a course catalogue (SQLite, table "book") in one store of the database
configured by DATA_DIR / DATABASE_URL. Books the store already lists are skipped, so an
interrupted import can be run again.

Options:
  --store <id>        store to list the books in (created when missing)
  --seller <id>       owner of the store
  --password <pw>     create the seller's account with this password if it does not exist
  --stock <n>         copies in stock of each book (default 10)
  --batch <n>         books per transaction (default 200)
  --limit <n>         import at most n books
  -h, --help          this text`

function positive(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback
  if (!/^\d+$/.test(raw) || Number(raw) < min)
    throw new ImportError(`--${name} must be a whole number ≥ ${min}`)
  return Number(raw)
}

export async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  let args: ReturnType<typeof parse>
  const parse = (a: string[]) =>
    parseArgs({
      args: a,
      allowPositionals: true,
      options: {
        store: { type: 'string' },
        seller: { type: 'string' },
        password: { type: 'string' },
        stock: { type: 'string' },
        batch: { type: 'string' },
        limit: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    })
  try {
    args = parse(argv)
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  const { values, positionals } = args
  if (values.help) {
    console.log(USAGE)
    return 0
  }
  const [file] = positionals
  if (!file || !values.store || !values.seller) {
    console.error(USAGE)
    return 2
  }
  let source: CourseDb | undefined
  try {
    const config = loadConfig(env)
    const stock = positive('stock', values.stock, 10, 0)
    const batchSize = positive('batch', values.batch, 200, 1)
    const limit = values.limit === undefined ? undefined : positive('limit', values.limit, 0, 1)
    source = new CourseDb(file)
    const db = await openDatabase(config)
    try {
      const bar = new Progress('import', Math.min(source.count(), limit ?? Number.POSITIVE_INFINITY))
      const result = await importCatalog(db, new PasswordHasher(config.passwordMemoryKiB), source, {
        storeId: values.store,
        sellerId: values.seller,
        ...(values.password === undefined ? {} : { sellerPassword: values.password }),
        stock,
        batchSize,
        ...(limit === undefined ? {} : { limit }),
        onProgress: (p) => bar.update(p.seen, `added ${p.added} skipped ${p.skipped}`),
      })
      bar.done(result.seen, `added ${result.added} skipped ${result.skipped}`)
      if (result.added > 0) {
        console.error('updating planner statistics…')
        await analyseListings(db)
      }
      console.log(
        `imported ${result.added} books into store ${values.store} (${result.skipped} already listed, ` +
          `${result.invalid} without id or title, ${result.failed} refused by the database) on ${db.engine}`,
      )
      for (const f of result.failures) console.error(`  not listed: ${f.id ?? `row ${f.row}`}: ${f.reason}`)
      return 0
    } finally {
      await db.close()
    }
  } catch (err) {
    if (err instanceof ImportError || err instanceof ConfigError || err instanceof NotACatalogue) {
      console.error(`import: ${err.message}`)
      return 2
    }
    console.error(`import failed: ${err instanceof Error ? err.message : String(err)}`)
    return 1
  } finally {
    source?.close()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2), process.env)
}
