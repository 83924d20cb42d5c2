import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { type DataDirLock, type Holder, lockDataDir } from './data-dir-lock.ts'
import { type Db, INT8_OID, parseInt8, type QueryOptions, type QueryResult, type Tx } from './db.ts'
import { BYTEA_OID, byteaFromHex } from './pglite-bytea.ts'
import { PgliteStatements } from './pglite-statements.ts'

/**
 * The embedded engine: PostgreSQL compiled to WebAssembly, in this thread (the server opens it in a
 * worker thread of its own through pglite-worker.ts). One connection, so PGlite itself runs
 * transactions one after another; a query outside a transaction waits for it. Statements go through
 * pglite-statements.ts (prepared when named). dataDir undefined = in memory (tests).
 *
 * Durability: a commit has written its WAL to files under dataDir before it returns, so committed
 * data survives the process being killed (tools/chaos.ts checks this with SIGKILL). PGlite runs
 * PostgreSQL with fsync off and its Node filesystem layer cannot fsync, so an operating-system
 * crash or power loss may lose the last commits: use DATABASE_URL where that matters.
 *
 * This is the one place that opens a data directory: it locks the directory for this process first
 * (data-dir-lock.ts), so the server, the import, migrations, benchmarks and generators all refuse to
 * share one. `holder` is what the lock tells a refused opener about us (default: this process).
 */
export async function openPglite(dataDir?: string, opts: { holder?: Holder } = {}): Promise<Db> {
  let lock: DataDirLock | undefined
  let existed = false
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true })
    lock = await lockDataDir(dataDir, opts)
    existed = existsSync(join(dataDir, 'PG_VERSION'))
  }
  let pg: PGlite
  try {
    pg = new PGlite(dataDir, { parsers: { [INT8_OID]: parseInt8, [BYTEA_OID]: byteaFromHex } })
    await pg.waitReady
  } catch (err) {
    await lock?.release()
    throw dataDir && existed ? new DataDirUnreadable(dataDir, err) : err
  }
  const statements = new PgliteStatements(pg)
  /** A statement, prepared once when named, sent without a name (parsed each time) when not. */
  const run = <T>(
    name: string | undefined,
    text: string,
    params: readonly unknown[] = [],
  ): Promise<QueryResult<T>> =>
    name ? statements.run<T>(name, text, params) : statements.runUnnamed<T>(text, params)
  return {
    engine: 'pglite',
    query: <T>(text: string, params?: readonly unknown[], opts?: QueryOptions) => {
      const name = opts?.name
      // Every statement goes round pg.query (pglite-statements.ts), so it takes the two locks
      // pg.query takes itself: the transaction lock, so that it waits for an open transaction instead
      // of running inside it, then the query lock. _runExclusiveTransaction is private (the public runExclusive
      // takes the query lock only); PGlite's own describeQuery nests them the same way.
      // test/db/pglite-contract.test.ts fails if an upgrade changes either.
      return pg._runExclusiveTransaction(() =>
        pg._runExclusiveQuery(async () => {
          const r = await run<T>(name, text, params)
          // pg.query writes a commit's WAL to the data directory itself; execProtocol leaves it to us.
          await pg.syncToFs()
          return r
        }),
      )
    },
    exec: async (script) => {
      await pg.exec(script)
    },
    transaction: (fn, opts) =>
      pg.transaction(async (t) => {
        if (opts?.readOnlySnapshot) await t.exec('SET TRANSACTION READ ONLY')
        const tx: Tx = {
          inTransaction: true,
          // This transaction holds the transaction lock: the query lock (runExclusive) is all it needs
          // to keep its statements one at a time, as t.query does.
          query: <T>(text: string, params?: readonly unknown[], opts?: QueryOptions) =>
            pg.runExclusive(() => run<T>(opts?.name, text, params)),
          exec: async (script) => {
            await t.exec(script)
          },
        }
        return fn(tx)
      }),
    stats: () => ({ total: 1, idle: 1, waiting: 0 }),
    close: async () => {
      try {
        await pg.close()
      } finally {
        await lock?.release()
      }
    },
  }
}

/**
 * A directory PGlite cannot start on: written by another PostgreSQL/PGlite version, or damaged (two
 * processes in it at once, before the lock existed; files edited or truncated). PGlite reports this
 * as a bare WebAssembly `Aborted()`; the message says what it means and what to do. Nothing in the
 * directory has been changed.
 */
export class DataDirUnreadable extends Error {
  override name = 'DataDirUnreadable'
  readonly code = 'BOOKSTORE_DATA_DIR_UNREADABLE'
  constructor(dir: string, cause: unknown) {
    super(
      `the embedded database in ${dir} cannot be read: PGlite could not start on it. ` +
        'It was written by another version of PGlite, or damaged. Nothing in it has been changed. To recover, ' +
        `move it aside (mv ${dir} ${dir}.unreadable) and either put back a backup made with \`bookstore backup\` ` +
        '(README, "Backups and recovery") or start afresh: the next start creates an empty database, and ' +
        '`npm run import` lists a catalogue again.',
      { cause },
    )
  }
}

/**
 * Copies an embedded database directory to `target` (which must not exist) while holding its lock,
 * so that no process writes it during the copy, then opens the copy to prove it can be read. A copy
 * of a directory in use would be as damaged as two processes in it, so it is refused like any other
 * second opener.
 */
export async function backupDataDir(dataDir: string, target: string): Promise<void> {
  if (!existsSync(join(dataDir, 'PG_VERSION'))) throw new Error(`${dataDir} holds no embedded database`)
  if (existsSync(target)) throw new Error(`${target} exists already: name a new directory`)
  const lock = await lockDataDir(dataDir)
  try {
    cpSync(dataDir, target, { recursive: true })
  } finally {
    await lock.release()
  }
  try {
    await (await openPglite(target)).close()
  } catch (err) {
    rmSync(target, { recursive: true, force: true }) // an unreadable copy would only mislead
    throw err
  }
}
