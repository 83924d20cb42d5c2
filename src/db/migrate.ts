import { readdirSync, readFileSync } from 'node:fs'
import type { Db } from './db.ts'

const DIR = new URL('./migrations/', import.meta.url)
/** Any constant: every process that migrates takes the same advisory lock, so they apply one at a time. */
const LOCK_KEY = 7_231_004

export interface Migration {
  version: string
  sql: string
}

export function loadMigrations(): Migration[] {
  return readdirSync(DIR)
    .filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: f.replace(/\.sql$/, ''), sql: readFileSync(new URL(f, DIR), 'utf8') }))
}

/** A `report` for migrate that writes each line to stderr (for the server, the CLI and the benchmarks). */
export const reportOnStderr = (line: string): void => {
  process.stderr.write(`${line}\n`)
}

/** How long a migration runs before `report` hears of it, and then how often. */
const REPORT_AFTER_MS = 2_000

/**
 * Applies every migration not yet applied, each in its own transaction. Returns the versions applied.
 * A migration that rebuilds a large table takes minutes: `report` (if given) hears every few seconds
 * that one is still running, and how long it took; quick ones are not reported.
 */
export async function migrate(
  db: Db,
  migrations = loadMigrations(),
  report?: (line: string) => void,
): Promise<string[]> {
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY])
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`)
  })
  const applied: string[] = []
  for (const m of migrations) {
    const start = performance.now()
    const seconds = () => ((performance.now() - start) / 1000).toFixed(0)
    const timer = report
      ? setInterval(() => report(`applying migration ${m.version}… ${seconds()} s`), REPORT_AFTER_MS)
      : undefined
    const done = await db
      .transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY])
        const seen = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version])
        if (seen.rowCount > 0) return false
        await tx.exec(m.sql)
        await tx.query('INSERT INTO schema_migrations (version) VALUES ($1)', [m.version])
        return true
      })
      .finally(() => clearInterval(timer))
    if (done && report && performance.now() - start >= REPORT_AFTER_MS)
      report(`applied migration ${m.version} in ${seconds()} s`)
    if (done) applied.push(m.version)
  }
  return applied
}
