/**
 * The one seam between the code and the database engine. The same SQL runs on the embedded
 * PGlite and on a PostgreSQL server; only the adapters behind this interface differ.
 */
export interface QueryResult<T> {
  rows: T[]
  rowCount: number
}

export interface QueryOptions {
  /**
   * Names a hot statement whose text never changes: it is then parsed and planned once per
   * connection instead of on every call (planning the order path's CTEs costs as much as running
   * them; on PGlite, more). Statements built on the fly are named through StatementShapes (sql.ts).
   */
  name?: string
}

/** Something SQL can be sent to: the pool, or an open transaction. */
export interface Queryable {
  query<T = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
    opts?: QueryOptions,
  ): Promise<QueryResult<T>>
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>
}

/** An open transaction. Functions that lock rows take one of these, never the pool. */
export interface Tx extends Queryable {
  readonly inTransaction: true
}

export interface TransactionOptions {
  /**
   * The reads of one request: every statement sees one snapshot, and a write fails. PostgreSQL begins
   * it as REPEATABLE READ READ ONLY, without JIT compilation (which costs more than it saves on
   * statements this short), in the same round trip as BEGIN. PGlite runs one thing at a time, so any
   * of its transactions sees one snapshot; it is READ ONLY there too.
   */
  readOnlySnapshot?: boolean
}

export interface Db extends Queryable {
  readonly engine: 'pglite' | 'postgres'
  /** Runs fn in one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Tx) => Promise<T>, opts?: TransactionOptions): Promise<T>
  /** Pool figures for readiness and metrics (PGlite: one connection). */
  stats(): { total: number; idle: number; waiting: number }
  close(): Promise<void>
}

/** PostgreSQL error codes the code reacts to. */
export const PG = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  /** bookstore_assert failed (migration 005): the statement was undone and can be sent again. */
  assertionFailed: 'BS001',
} as const

export function pgCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code
    return typeof code === 'string' ? code : undefined
  }
  return undefined
}

/** int8 (bigint) columns arrive as JavaScript numbers: every bigint we store is bounded far below 2^53. */
export const INT8_OID = 20
export const parseInt8 = (value: string): number => Number(value)
