import type { Config } from '../config.ts'
import type { Db } from '../db/db.ts'
import type { Metrics } from '../metrics.ts'
import type { PasswordHasher } from '../security/passwords.ts'
import type { SearchMerger } from './search-merger.ts'

/** What every service needs; built once per app, never a module-level singleton. */
export interface Deps {
  /** The primary: every write, and every read that must be current (orders, balances, carts, sessions). */
  db: Db
  /**
   * For reads that may lag a few seconds (search, catalogue, pictures, review lists): replicas when
   * DATABASE_REPLICA_URLS names any (src/db/replicas.ts); absent, the primary. Never for a read that
   * decides a write.
   */
  reads?: Db
  config: Config
  hasher: PasswordHasher
  metrics: Metrics
  /**
   * Told when a listing is queued for the search index (migration 019). Without one, the listing is
   * merged by a running server's periodic look at the queue, or at the next start; searches find it
   * meanwhile all the same.
   */
  searchMerger?: Pick<SearchMerger, 'queued'>
}

/** Where a read that may lag goes (see Deps.reads). */
export const laggingReads = (deps: Deps): Db => deps.reads ?? deps.db

/**
 * A read that may lag, whose "not found" is asked again of the primary: what a replica lacks may have
 * been written a moment ago (by this caller through another process, or by someone it told), and
 * answering 513/515 for it would be wrong, not merely late.
 */
export async function readConfirmingMiss<T>(
  deps: Deps,
  read: (db: Db) => Promise<T | undefined>,
): Promise<T | undefined> {
  const reads = laggingReads(deps)
  const found = await read(reads)
  return found !== undefined || reads === deps.db ? found : read(deps.db)
}
