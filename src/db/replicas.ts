/**
 * Reads that may lag, spread over PostgreSQL streaming replicas (DATABASE_REPLICA_URLS).
 *
 * `ReplicaSet.reads` is a Db like the primary's: each query (or read-only transaction) goes to the
 * next healthy replica in turn, and to the primary when the caller must see its own writes, when no
 * replica is healthy, or when the chosen replica fails to answer (the read is then run again on the
 * primary at once, so a replica going away costs no request). Only services that read what may lag
 * (search, catalogue, pictures, review lists) take `reads`; everything else keeps using the primary.
 *
 * A background check (every `checkIntervalS(maxLagS)` seconds) measures each replica's lag against
 * the primary's WAL position and marks it healthy or not: a replica more than maxLagS behind is
 * skipped until it catches up, one that does not answer is skipped until it does.
 */
import { type Db, pgCode, type QueryOptions, type TransactionOptions, type Tx } from './db.ts'
import { openPostgres } from './postgres.ts'

export interface ReplicaStatus {
  /** host:port/database of the replica (never its user or password) */
  name: string
  healthy: boolean
  /** Seconds of data the replica may be missing (an upper bound); null when it does not answer or is not measured yet. */
  lag_s: number | null
}

export interface ReplicaOptions {
  maxLagS: number
  /** Connections per replica. */
  poolSize: number
  /** Every connection uses this schema first (tests). */
  schema?: string
}

/** What the app plugs in once it is built (ReplicaSet.hooks). */
export interface ReplicaHooks {
  /** true: this read must see the caller's own recent writes, so it goes to the primary. */
  mustReadPrimary?: () => boolean
  /** Called once per read with the name of the server that answered ('primary' or a replica's). */
  onRead?: (target: string) => void
  /** Called when a read meant for a replica ran on the primary instead. */
  onFallback?: (replica: string, reason: 'unreachable' | 'conflict') => void
  log?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void }
}

/**
 * How often replicas are checked: twice per lag bound, at most once a second, so that a replica is
 * skipped at most maxLagS + one interval after it falls behind, and taken back as soon after.
 */
export const checkIntervalS = (maxLagS: number) => Math.min(1, Math.max(0.05, maxLagS / 2))

/** host:port/database of a postgres:// URL, for logs, /ready and metrics. */
export function replicaName(url: string): string {
  const u = new URL(url)
  return `${u.hostname}:${u.port || '5432'}${u.pathname}`
}

/** A pg_lsn ('16/B374D848') as a number of bytes (below 2^53 for any real cluster). */
export function lsnBytes(lsn: string): number {
  const [hi, lo] = lsn.split('/')
  return Number.parseInt(hi ?? '0', 16) * 2 ** 32 + Number.parseInt(lo ?? '0', 16)
}

/** What the pg client throws, without a code, when a connection cannot be made or is lost. */
const CONNECTION_LOST = /connection|terminated|timeout exceeded|not queryable/i

/**
 * Errors after which the read is run on the primary: the replica cannot be reached or closed the
 * connection (a system error code such as ECONNREFUSED, the pg client's own connection errors,
 * SQLSTATE classes 08 and 57P, too many connections) — it is then marked unhealthy — or the standby
 * cancelled the query to replay WAL (40001 there). Anything else (a domain error thrown inside a
 * read, a bad query) is the caller's, and is thrown as it is.
 */
export function replicaFailure(err: unknown): 'unreachable' | 'conflict' | undefined {
  const code = pgCode(err)
  if (code === undefined)
    return err instanceof Error && err.name === 'Error' && CONNECTION_LOST.test(err.message)
      ? 'unreachable'
      : undefined
  if (/^E[A-Z]+$/.test(code)) return 'unreachable'
  if (code.startsWith('08') || code.startsWith('57P') || code === '53300') return 'unreachable'
  if (code === '40001') return 'conflict'
  return undefined
}

interface Replica {
  name: string
  db: Db
  healthy: boolean
  lagS: number | null
}

/** The primary's WAL position at a moment: a replica that has replayed it misses nothing before it. */
interface Sample {
  at: number
  lsn: number
}

export class ReplicaSet {
  /** The Db for reads that may lag (see the module comment). */
  readonly reads: Db
  hooks: ReplicaHooks = {}
  private next = 0
  private samples: Sample[] = []
  private timer: NodeJS.Timeout | undefined
  private checking: Promise<void> | undefined
  private stopped = false

  private constructor(
    private readonly primary: Db,
    private readonly replicas: Replica[],
    private readonly opts: ReplicaOptions,
  ) {
    const route = <T>(onReplica: (db: Db) => Promise<T>, onPrimary: () => Promise<T>) =>
      this.route(onReplica, onPrimary)
    this.reads = {
      engine: primary.engine,
      query: <T>(text: string, params?: readonly unknown[], o?: QueryOptions) =>
        route(
          (db) => db.query<T>(text, params, o),
          () => primary.query<T>(text, params, o),
        ),
      exec: (script) =>
        route(
          (db) => db.exec(script),
          () => primary.exec(script),
        ),
      transaction: <T>(fn: (tx: Tx) => Promise<T>, opts?: TransactionOptions) =>
        route(
          (db) => db.transaction(fn, opts),
          () => primary.transaction(fn, opts),
        ),
      stats: () => primary.stats(),
      // The replicas belong to the set, the primary to its opener: ReplicaSet.close closes the former.
      close: async () => {},
    }
  }

  /** Connects to the replicas (one that is down now is only marked unhealthy) and checks them once. */
  static async open(primary: Db, urls: readonly string[], opts: ReplicaOptions): Promise<ReplicaSet> {
    const replicas: Replica[] = []
    for (const url of urls) {
      const db = await openPostgres(url, {
        max: opts.poolSize,
        replica: true,
        ...(opts.schema ? { schema: opts.schema } : {}),
      })
      replicas.push({ name: replicaName(url), db, healthy: false, lagS: null })
    }
    const set = new ReplicaSet(primary, replicas, opts)
    await set.check()
    return set
  }

  /** The lag bound this set enforces (REPLICA_MAX_LAG_S). */
  get maxLagS(): number {
    return this.opts.maxLagS
  }

  status(): ReplicaStatus[] {
    return this.replicas.map((r) => ({ name: r.name, healthy: r.healthy, lag_s: r.lagS }))
  }

  /** Starts the background checks (stop() ends them). */
  start(): void {
    this.stopped = false
    const tick = () => {
      this.timer = setTimeout(async () => {
        this.checking = this.check()
        await this.checking
        if (!this.stopped) tick()
      }, checkIntervalS(this.opts.maxLagS) * 1000)
      this.timer.unref()
    }
    if (this.timer === undefined) tick()
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    this.timer = undefined
    await this.checking
  }

  async close(): Promise<void> {
    await this.stop()
    await Promise.all(this.replicas.map((r) => r.db.close()))
  }

  /** Measures every replica's lag now and marks it healthy or not (the background check's one step). */
  async check(): Promise<void> {
    try {
      const r = await this.primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')
      const now = Date.now()
      this.samples.push({ at: now, lsn: lsnBytes(r.rows[0]?.lsn ?? '0/0') })
      // Kept long enough to tell any lag up to well past the bound.
      const keepMs = Math.max(10, 3 * this.opts.maxLagS) * 1000
      while (this.samples.length > 2 && (this.samples[0]?.at ?? now) < now - keepMs) this.samples.shift()
    } catch {
      // The primary does not answer: the replicas are measured against the samples already taken.
    }
    await Promise.all(this.replicas.map((r) => this.checkOne(r)))
  }

  private async checkOne(r: Replica): Promise<void> {
    const wasHealthy = r.healthy
    try {
      const q = r.db.query<{ standby: boolean; replay: string | null; replay_age: number | null }>(
        `SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS replay,
                extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS replay_age`,
      )
      const row = (await withTimeout(q, 2000)).rows[0]
      if (!row?.standby || row.replay === null) {
        // Promoted, or pointed at a server that is no replica: its data may differ from the primary's.
        r.healthy = false
        r.lagS = null
        this.logChange(r, wasHealthy, 'not a streaming replica')
        return
      }
      r.lagS = this.lagOf(lsnBytes(row.replay), row.replay_age)
      r.healthy = r.lagS !== null && r.lagS <= this.opts.maxLagS
      this.logChange(r, wasHealthy, r.healthy ? 'caught up' : 'lagging')
    } catch (err) {
      r.healthy = false
      r.lagS = null
      this.logChange(r, wasHealthy, err instanceof Error ? err.message : String(err))
    }
  }

  /**
   * Seconds of data a replica that has replayed up to `replay` may miss: the time since the newest
   * primary sample it has fully replayed (it has everything committed before that moment). When it
   * has not even replayed the oldest sample, the age of its last replayed transaction bounds it.
   * Unlike that age alone, this is not fooled by a primary with nothing to replicate.
   */
  private lagOf(replay: number, replayAgeS: number | null): number | null {
    const now = Date.now()
    for (let i = this.samples.length - 1; i >= 0; i--) {
      const s = this.samples[i] as Sample
      if (s.lsn <= replay) return round3(Math.max(0, (now - s.at) / 1000))
    }
    // Behind every sample: at least as old as the oldest one, and, by the age of its last replayed
    // transaction, at most that old. Unknown (skipped) when it has replayed none since it started.
    if (replayAgeS === null) return null
    const oldest = this.samples[0]
    return round3(Math.max(oldest ? (now - oldest.at) / 1000 : 0, replayAgeS))
  }

  private logChange(r: Replica, wasHealthy: boolean, why: string): void {
    if (r.healthy === wasHealthy) return
    const entry = { replica: r.name, lag_s: r.lagS, why }
    if (r.healthy) this.hooks.log?.info(entry, 'replica in use again')
    else this.hooks.log?.warn(entry, 'replica skipped')
  }

  /** The next healthy replica in turn; undefined when there is none. */
  private pick(): Replica | undefined {
    const n = this.replicas.length
    for (let i = 0; i < n; i++) {
      const r = this.replicas[(this.next + i) % n] as Replica
      if (r.healthy) {
        this.next = (this.next + i + 1) % n
        return r
      }
    }
    return undefined
  }

  private async route<T>(onReplica: (db: Db) => Promise<T>, onPrimary: () => Promise<T>): Promise<T> {
    const r = this.hooks.mustReadPrimary?.() ? undefined : this.pick()
    if (r === undefined) {
      const result = await onPrimary()
      this.hooks.onRead?.('primary')
      return result
    }
    try {
      const result = await onReplica(r.db)
      this.hooks.onRead?.(r.name)
      return result
    } catch (err) {
      const failure = replicaFailure(err)
      if (failure === undefined) throw err
      if (failure === 'unreachable' && r.healthy) {
        r.healthy = false
        r.lagS = null
        this.logChange(r, true, err instanceof Error ? err.message : String(err))
      }
      this.hooks.onFallback?.(r.name, failure)
      const result = await onPrimary()
      this.hooks.onRead?.('primary')
      return result
    }
  }
}

const round3 = (s: number) => Math.round(s * 1000) / 1000

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}
