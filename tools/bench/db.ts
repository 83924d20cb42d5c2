import { join } from 'node:path'
import { bringUpToDate } from '../../src/app.ts'
import type { Db } from '../../src/db/db.ts'
import { openPglite } from '../../src/db/pglite.ts'
import { openPostgres } from '../../src/db/postgres.ts'

/**
 * The database the generator and the search benchmark work on: the PostgreSQL server of DATABASE_URL,
 * or else an embedded PGlite database kept under BENCH_DIR (default ./data/bench), apart from the app's.
 */
export async function openBenchDb(
  env: Record<string, string | undefined>,
): Promise<{ db: Db; where: string }> {
  const url = env.DATABASE_URL
  const dir = env.BENCH_DIR ?? './data/bench'
  const db = url ? await openPostgres(url, { max: 4 }) : await openPglite(join(dir, 'pglite'))
  // As the app opens it: a catalogue generated here records the search text version it is written in.
  await bringUpToDate(db)
  return { db, where: url ? `PostgreSQL ${new URL(url).pathname.slice(1)}` : `PGlite ${dir}` }
}
