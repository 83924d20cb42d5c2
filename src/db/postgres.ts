import pg from 'pg'
import {
  type Db,
  INT8_OID,
  PG,
  parseInt8,
  pgCode,
  type QueryOptions,
  type QueryResult,
  type Tx,
} from './db.ts'

export interface PostgresOptions {
  /** Pool size; default 10. */
  max?: number
  /** Every connection uses this schema first (tests: one fresh schema per test file). */
  schema?: string
  /**
   * Replicas (src/db/replicas.ts): no SELECT 1 on open (a replica that is down at start is only
   * marked unhealthy), no retry on the same server (the read goes to the primary instead), and a
   * short wait for a connection.
   */
  replica?: boolean
}

const RETRIES = 5

/** BEGIN for TransactionOptions.readOnlySnapshot: one simple query, one round trip. */
const BEGIN_READ_ONLY_SNAPSHOT = 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL jit = off'

/**
 * Runs work again (up to RETRIES times) when it failed in a way that leaves nothing behind and may
 * pass on a second try: a deadlock, a serialization failure, or a failed bookstore_assert (the
 * statement was undone). The work is a lone statement or a whole transaction, never part of one.
 */
async function retrying<T>(work: () => Promise<T>, retries = RETRIES): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work()
    } catch (err) {
      const code = pgCode(err)
      const again =
        code === PG.deadlockDetected || code === PG.serializationFailure || code === PG.assertionFailed
      if (!again || attempt >= retries) throw err
    }
  }
}

/**
 * A statement through pg's callback API, in a promise of our own. Through pg's promise API (8.23),
 * what the statements of a transaction returned on its client stayed alive until a full collection:
 * 2 000 transactions of two 20-row statements moved 1 970 kB to the old generation at each young
 * collection, as much as the one before had kept, and a full collection followed every few seconds.
 * Through the callback, 9 kB (docs/decisions/2026-12-07-facets-smaller-side.md).
 */
async function send(c: pg.Pool | pg.PoolClient, config: pg.QueryConfig): Promise<pg.QueryResult> {
  try {
    return await new Promise((resolve, reject) => {
      c.query(config, (err: Error | undefined, result: pg.QueryResult) =>
        err ? reject(err) : resolve(result),
      )
    })
  } catch (err) {
    // pg's error carries the stack of the socket's read; this one leads back to the caller.
    if (err instanceof Error) Error.captureStackTrace(err)
    throw err
  }
}

/** A PostgreSQL server through a pool of connections. */
export async function openPostgres(url: string, opts: PostgresOptions = {}): Promise<Db> {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    // Waiting longer than this for a connection means the server is unreachable or saturated.
    connectionTimeoutMillis: opts.replica ? 1000 : 5000,
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        oid === INT8_OID
          ? parseInt8
          : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
    ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
  })
  // An idle client that loses its server connection emits 'error' on the pool; without a listener
  // that would crash the process. The next query simply opens a new connection.
  pool.on('error', () => {})
  const query = async <T>(
    c: pg.Pool | pg.PoolClient,
    text: string,
    params?: readonly unknown[],
    opts?: QueryOptions,
  ) => {
    const values = params as unknown[] | undefined
    const r = await send(c, opts?.name ? { name: opts.name, text, values } : { text, values })
    return { rows: r.rows as T[], rowCount: r.rowCount ?? r.rows.length } satisfies QueryResult<T>
  }
  const retries = opts.replica ? 1 : RETRIES
  // Fail fast when the server cannot be reached.
  if (!opts.replica) await query(pool, 'SELECT 1')
  return {
    engine: 'postgres',
    query: (text, params, opts) => retrying(() => query(pool, text, params, opts), retries),
    exec: async (script) => {
      await send(pool, { text: script })
    },
    transaction: (fn, opts) =>
      retrying(async () => {
        const client = await pool.connect()
        let broken = false
        try {
          await send(client, { text: opts?.readOnlySnapshot ? BEGIN_READ_ONLY_SNAPSHOT : 'BEGIN' })
          const tx: Tx = {
            inTransaction: true,
            query: (text, params, opts) => query(client, text, params, opts),
            exec: async (script) => {
              await send(client, { text: script })
            },
          }
          const result = await fn(tx)
          await send(client, { text: 'COMMIT' })
          return result
        } catch (err) {
          await send(client, { text: 'ROLLBACK' }).catch(() => {
            broken = true
          })
          throw err
        } finally {
          client.release(broken)
        }
      }, retries),
    stats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: () => pool.end(),
  }
}
