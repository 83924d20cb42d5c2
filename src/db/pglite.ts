import { mkdirSync } from 'node:fs'
import { PGlite } from '@electric-sql/pglite'
import { type Db, INT8_OID, parseInt8, type QueryResult, type Tx } from './db.ts'
import { PgliteNamedStatements } from './pglite-named.ts'

/**
 * The embedded engine: PostgreSQL compiled to WebAssembly, in this thread (the server opens it in a
 * worker thread of its own through pglite-worker.ts). One connection, so PGlite itself runs
 * transactions one after another; a query outside a transaction waits for it. Named statements go
 * through pglite-named.ts. dataDir undefined = in memory (tests).
 *
 * Durability: a commit has written its WAL to files under dataDir before it returns, so committed
 * data survives the process being killed (tools/chaos.ts checks this with SIGKILL). PGlite runs
 * PostgreSQL with fsync off and its Node filesystem layer cannot fsync, so an operating-system
 * crash or power loss may lose the last commits: use DATABASE_URL where that matters.
 */
export async function openPglite(dataDir?: string): Promise<Db> {
  if (dataDir) mkdirSync(dataDir, { recursive: true })
  const pg = new PGlite(dataDir, { parsers: { [INT8_OID]: parseInt8 } })
  await pg.waitReady
  const wrap = async <T>(
    run: (
      text: string,
      params?: unknown[],
    ) => Promise<{ rows: unknown[]; rowCount?: number; affectedRows?: number }>,
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<T>> => {
    const r = await run(text, params ? [...params] : undefined)
    // rowCount is the command tag's count, as node-postgres reports it: rows returned by a SELECT,
    // rows changed by an INSERT/UPDATE/DELETE. PGlite's rowCount is that (its affectedRows is 0 for
    // every SELECT; test/pglite-contract.test.ts pins both); the others stand in should it go.
    return { rows: r.rows as T[], rowCount: r.rowCount ?? r.affectedRows ?? r.rows.length }
  }
  const named = new PgliteNamedStatements(pg)
  return {
    engine: 'pglite',
    query: (text, params, opts) => {
      const name = opts?.name
      if (!name) return wrap((t, p) => pg.query(t, p), text, params)
      // A named statement goes round pg.query, so it takes the two locks pg.query takes itself: the
      // transaction lock, so that it waits for an open transaction instead of running inside it,
      // then the query lock. _runExclusiveTransaction is private (the public runExclusive takes the
      // query lock only); PGlite's own describeQuery nests them the same way.
      // test/pglite-contract.test.ts fails if an upgrade changes either.
      return pg._runExclusiveTransaction(() =>
        pg._runExclusiveQuery(async () => {
          const r = await named.run<never>(name, text, params ?? [])
          // pg.query writes a commit's WAL to the data directory itself; execProtocol leaves it to us.
          await pg.syncToFs()
          return r
        }),
      )
    },
    exec: async (script) => {
      await pg.exec(script)
    },
    transaction: (fn) =>
      pg.transaction((t) => {
        const tx: Tx = {
          inTransaction: true,
          query: (text, params, opts) => {
            const name = opts?.name
            if (!name) return wrap((q, p) => t.query(q, p), text, params)
            // This transaction holds the transaction lock: the query lock (runExclusive) is all it
            // needs to keep its statements one at a time, as t.query does.
            return pg.runExclusive(() => named.run<never>(name, text, params ?? []))
          },
          exec: async (script) => {
            await t.exec(script)
          },
        }
        return fn(tx)
      }),
    stats: () => ({ total: 1, idle: 1, waiting: 0 }),
    close: () => pg.close(),
  }
}
