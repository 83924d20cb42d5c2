/**
 * `bookstore bench-account`: where the time of a paid order goes, statement by statement, for the
 * floor (./floor.ts) and for the server's own services in-process (raw), on a PostgreSQL server with
 * pg_stat_statements. Each target is prepared, the statistics are reset, the workload runs, and
 * every statement's calls, execution time, buffers and WAL are divided by the paid orders; the CPU
 * time of the database backends and of this process is divided likewise. Buffers and WAL do not
 * depend on how loaded the machine is; times do, so compare them only within one run.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { openDatabase } from '../../src/app.ts'
import { type Config, loadConfig } from '../../src/config.ts'
import type { Db } from '../../src/db/db.ts'
import { openPostgres } from '../../src/db/postgres.ts'
import { Metrics } from '../../src/metrics.ts'
import { PasswordHasher } from '../../src/security/passwords.ts'
import { floorTarget, openFloor } from './floor.ts'
import { prepare, rawTarget, run, type Target } from './orders.ts'
import { table } from './stats.ts'

export interface AccountOptions {
  concurrency: number
  durationS: number
  /** How many statements to list per target (the most expensive by execution time). */
  top: number
}

interface StatementCost {
  query: string
  toplevel: boolean
  calls: number
  exec_ms: number
  blks_hit: number
  blks_read: number
  blks_dirtied: number
  wal_records: number
  wal_bytes: number
}

/** CPU seconds (user + system) a process has used, from /proc (Linux). */
function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command name
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return 0
  }
}

async function backendPids(admin: Db): Promise<number[]> {
  const r = await admin.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
  )
  return r.rows.map((row) => row.pid)
}

const workload = { sellers: 2, storesPerSeller: 2, booksPerStore: 100, buyers: 10 }

/** Runs one target and returns its statements' costs per paid order. */
async function account(
  name: string,
  admin: Db,
  /** Where pg_stat_statements lives (quoted). */
  ext: string,
  open: () => Promise<{ target: Target; close(): Promise<void> }>,
  o: AccountOptions,
  log: (m: string) => void,
) {
  const { target, close } = await open()
  try {
    log(`bench-account: ${name}: preparing`)
    const prepared = await prepare(target, workload, randomBytes(4).toString('hex'))
    // This database's statistics only: other work on the same server keeps its own.
    await admin.query(
      `SELECT ${ext}.pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)`,
    )
    const pids = await backendPids(admin)
    const backendCpu0 = pids.map(cpuSecondsOf)
    const ownCpu0 = process.cpuUsage()
    log(`bench-account: ${name}: running ${o.durationS} s at concurrency ${o.concurrency}`)
    const results = await run(target, prepared, { concurrency: o.concurrency, durationS: o.durationS })
    const ownCpu = process.cpuUsage(ownCpu0)
    const backendCpu = pids.map(cpuSecondsOf).reduce((sum, s, i) => sum + s - (backendCpu0[i] ?? 0), 0)
    const stats = await admin.query<StatementCost>(
      `SELECT regexp_replace(query, '\\s+', ' ', 'g') AS query, toplevel, calls::float8 AS calls,
              total_exec_time AS exec_ms, shared_blks_hit::float8 AS blks_hit,
              shared_blks_read::float8 AS blks_read, shared_blks_dirtied::float8 AS blks_dirtied,
              wal_records::float8 AS wal_records, wal_bytes::float8 AS wal_bytes
         FROM ${ext}.pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND query NOT ILIKE '%pg_stat_statements%' AND query NOT ILIKE '%pg_stat_activity%'`,
    )
    return {
      name,
      paid: results.paid,
      elapsedS: results.elapsedS,
      backendCpuS: backendCpu,
      ownCpuS: (ownCpu.user + ownCpu.system) / 1e6,
      statements: stats.rows,
    }
  } finally {
    await close()
  }
}

export async function benchAccount(o: AccountOptions, env: Record<string, string | undefined>) {
  const config: Config = loadConfig(env)
  if (!config.databaseUrl)
    throw new Error('bench-account needs DATABASE_URL: a PostgreSQL server with pg_stat_statements')
  const log = (m: string) => process.stderr.write(`${m}\n`)
  const admin = await openPostgres(config.databaseUrl, { max: 1 })
  try {
    // The extension's schema is named in every call: the URL may set a search_path without it.
    const ext = await admin.query<{ schema: string }>(
      `SELECT quote_ident(n.nspname) AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_stat_statements'`,
    )
    const schema = ext.rows[0]?.schema
    if (!schema)
      throw new Error(
        "pg_stat_statements is not installed in this database: add shared_preload_libraries = 'pg_stat_statements' (and pg_stat_statements.track = all, to see the statements inside triggers) to postgresql.conf, restart, and CREATE EXTENSION pg_stat_statements",
      )
    const floor = await account(
      'floor',
      admin,
      schema,
      async () => {
        const f = await openFloor(config)
        return { target: floorTarget(f.db), close: () => f.close() }
      },
      o,
      log,
    )
    const raw = await account(
      'raw',
      admin,
      schema,
      async () => {
        const db = await openDatabase(config)
        const deps = {
          db,
          config,
          hasher: new PasswordHasher(config.passwordMemoryKiB),
          metrics: new Metrics(db),
        }
        return { target: rawTarget(deps), close: () => db.close() }
      },
      o,
      log,
    )
    return [floor, raw].map((r) => accountReport(r, o.top)).join('\n\n')
  } finally {
    await admin.close()
  }
}

function accountReport(r: Awaited<ReturnType<typeof account>>, top: number): string {
  const per = (x: number) => (r.paid ? x / r.paid : 0)
  const sum = (k: keyof StatementCost, toplevel: boolean) =>
    r.statements.filter((s) => s.toplevel === toplevel).reduce((acc, s) => acc + Number(s[k]), 0)
  const f = (x: number, digits = 2) => x.toFixed(digits)
  const lines = [
    `${r.name}: ${r.paid} paid orders in ${f(r.elapsedS, 1)} s = ${f(r.paid / r.elapsedS, 0)}/s`,
    `  per paid order: database backends ${f(per(r.backendCpuS) * 1000, 3)} ms CPU, this process ${f(per(r.ownCpuS) * 1000, 3)} ms CPU`,
    `  per paid order, top-level statements: ${f(per(sum('calls', true)), 1)} calls, ${f(per(sum('exec_ms', true)), 3)} ms executing, ` +
      `${f(per(sum('blks_hit', true)), 1)} buffers hit, ${f(per(sum('blks_dirtied', true)), 2)} dirtied, ` +
      `${f(per(sum('wal_records', true)), 1)} WAL records, ${f(per(sum('wal_bytes', true)), 0)} WAL bytes`,
  ]
  const rows = [...r.statements]
    .sort((a, b) => b.exec_ms - a.exec_ms)
    .slice(0, top)
    .map((s) => [
      s.toplevel ? 'top' : 'nested',
      f(per(s.calls), 2),
      f(per(s.exec_ms), 4),
      f(per(s.blks_hit), 1),
      f(per(s.blks_dirtied), 2),
      f(per(s.wal_records), 1),
      f(per(s.wal_bytes), 0),
      s.query.length > 90 ? `${s.query.slice(0, 87)}...` : s.query,
    ])
  lines.push(
    table(
      ['level', 'calls', 'exec ms', 'hit', 'dirtied', 'WAL rec', 'WAL B', 'statement (per paid order)'],
      rows,
    ),
  )
  return lines.join('\n')
}
