import { join } from 'node:path'
import type { Db } from '../src/db/db.ts'
import { migrate, reportOnStderr } from '../src/db/migrate.ts'
import { openPglite } from '../src/db/pglite.ts'
import { openPostgres } from '../src/db/postgres.ts'

/**
 * The database the generator and the benchmark work on: the PostgreSQL server of DATABASE_URL, or
 * else an embedded PGlite database kept under BENCH_DIR (default ./data/bench), apart from the app's.
 */
export async function openBenchDb(): Promise<{ db: Db; where: string }> {
  const url = process.env.DATABASE_URL
  const db = url
    ? await openPostgres(url, { max: 4 })
    : await openPglite(join(process.env.BENCH_DIR ?? './data/bench', 'pglite'))
  await migrate(db, undefined, reportOnStderr)
  return {
    db,
    where: url
      ? `PostgreSQL ${new URL(url).pathname.slice(1)}`
      : `PGlite ${process.env.BENCH_DIR ?? './data/bench'}`,
  }
}

/** --name value options from the command line. */
export function option(name: string, fallback: number): number
export function option(name: string, fallback: string): string
export function option(name: string, fallback: number | string): number | string {
  const i = process.argv.indexOf(`--${name}`)
  const raw = i >= 0 ? process.argv[i + 1] : undefined
  if (raw === undefined) return fallback
  if (typeof fallback === 'string') return raw
  const n = Number(raw.replaceAll('_', '').replace(/k$/i, '000').replace(/m$/i, '000000'))
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got ${raw}`)
  return n
}
