import { join } from 'node:path'
import { bringUpToDate } from '../../src/app.ts'
import type { Db } from '../../src/db/db.ts'
import { openPglite } from '../../src/db/pglite.ts'
import { openPgliteThread } from '../../src/db/pglite-worker.ts'
import { openPostgres } from '../../src/db/postgres.ts'

/**
 * The database the generator and the search benchmark work on: the PostgreSQL server of DATABASE_URL,
 * or else an embedded PGlite database kept under BENCH_DIR (default ./data/bench), apart from the app's.
 * `asServer`: PGlite on its own thread, as the server opens it (pglite-worker.ts), so that a benchmark
 * of requests pays the thread's hops as the server does; a bulk load runs it in this thread.
 */
export async function openBenchDb(
  env: Record<string, string | undefined>,
  opts: { asServer?: boolean } = {},
): Promise<{ db: Db; where: string }> {
  const url = env.DATABASE_URL
  const benchDir = env.BENCH_DIR ?? './data/bench'
  const dir = join(benchDir, 'pglite')
  const db = url
    ? await openPostgres(url, { max: 4 })
    : opts.asServer
      ? await openPgliteThread(dir)
      : await openPglite(dir)
  // As the app opens it: a catalogue generated here records the search text version it is written in.
  await bringUpToDate(db)
  return {
    db,
    where: url
      ? `PostgreSQL ${new URL(url).pathname.slice(1)}`
      : `PGlite ${benchDir}${opts.asServer ? ' (on its own thread, as the server opens it)' : ''}`,
  }
}
