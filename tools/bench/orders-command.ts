/** `bookstore bench`: the order benchmark (./orders.ts) run once, or floor, raw and HTTP in rounds. */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase } from '../../src/app.ts'
import { CourseDb } from '../../src/catalog/course-db.ts'
import { type Config, loadConfig } from '../../src/config.ts'
import { Metrics } from '../../src/metrics.ts'
import { PasswordHasher } from '../../src/security/passwords.ts'
import { startServer } from '../shared/server-process.ts'
import { floorTarget, openFloor } from './floor.ts'
import {
  httpTarget,
  type Prepared,
  prepare,
  type Results,
  rawTarget,
  run,
  type Target,
  type Workload,
} from './orders.ts'
import { fmt, median, table } from './stats.ts'

export interface BenchOptions {
  url?: string
  /** Which target one run measures (HTTP when neither): the services in-process, or the floor. */
  raw: boolean
  floor?: boolean
  concurrency: number
  durationS: number
  sellers: number
  stores: number
  books: number
  buyers: number
  bookDb?: string
  workers: number
  /** Rounds of floor, raw and HTTP side by side (0: one run of the chosen mode). */
  compare?: number
}

/** `bookstore serve` in its own process, on a fresh embedded database unless DATABASE_URL is set. */
export async function benchServer(env: Record<string, string | undefined>, workers: number) {
  const dataDir = env.DATABASE_URL ? undefined : mkdtempSync(join(tmpdir(), 'bookstore-bench-'))
  const server = await startServer({
    env: { ...env, LOG_LEVEL: 'warn', WORKERS: String(workers), ...(dataDir ? { DATA_DIR: dataDir } : {}) },
    // warnings and errors only: the server's own word on what went wrong during a run
    onLine: (line) => process.stderr.write(`${line}\n`),
    // a loaded machine has taken over 60 s to start one
    timeoutMs: 300_000,
  })
  return {
    url: server.url,
    pid: server.child.pid as number,
    async stop() {
      await server.stop()
      if (dataDir) rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** The run ended early (the server stopped answering); `report` holds what it measured until then. */
export class BenchIncomplete extends Error {
  override name = 'BenchIncomplete'
  constructor(
    readonly report: string,
    reason: string,
  ) {
    super(`bench: stopped early: ${reason}`)
  }
}

function report(title: string, r: Results): string {
  const row = (name: string, s: Results['newOrder']) => [
    name,
    s.count,
    fmt(s.quantile(0.5)),
    fmt(s.quantile(0.99)),
  ]
  return [
    title,
    `paid orders: ${r.paid} in ${r.elapsedS.toFixed(1)} s = ${(r.paid / r.elapsedS).toFixed(1)} paid orders/s (failed: ${r.failed})`,
    table(
      ['call', 'n', 'p50 ms', 'p99 ms'],
      [row('new_order', r.newOrder), row('payment', r.payment), row('new_order+payment', r.both)],
    ),
  ].join('\n')
}

/** The workload's catalogue: the first books of a course database, or generated. */
function catalogueOf(o: BenchOptions): Workload['catalogue'] {
  if (!o.bookDb) return undefined
  const src = new CourseDb(o.bookDb)
  const catalogue: NonNullable<Workload['catalogue']> = []
  try {
    for (const batch of src.batches(200)) {
      for (const b of batch.books) catalogue.push({ id: b.id, title: b.title, price: b.price })
      if (catalogue.length >= o.books) break
    }
  } finally {
    src.close()
  }
  return catalogue
}

/** What every run of one bench command shares: its options, workload and configuration. */
interface Session {
  o: BenchOptions
  workload: Workload
  env: Record<string, string | undefined>
  config: Config
  engine: 'postgres' | 'pglite'
  log: (m: string) => void
}

const processes = (n: number, kind: string) => `${n} ${kind} process${n > 1 ? 'es' : ''}`

/** What one run measures: the server over HTTP, its services in-process, or the floor. */
type Mode = 'http' | 'raw' | 'floor'

/** One measurement: sets up the target (floor, raw, a URL, or a server of its own), prepares, runs, cleans up. */
async function measure(
  { o, workload, env, config, engine, log }: Session,
  kind: Mode,
): Promise<{ mode: string; results: Results }> {
  const runId = randomBytes(4).toString('hex')
  let target: Target
  let cleanup: () => Promise<void>
  let mode: string
  if (kind === 'floor') {
    // the server's pool size (DB_POOL_SIZE) here too: the floor differs from raw only by the work
    const floor = await openFloor(config)
    target = floorTarget(floor.db)
    cleanup = () => floor.close()
    mode = `floor (minimal transactions on tables of their own), ${engine}`
  } else if (kind === 'raw') {
    const dataDir = config.databaseUrl ? undefined : mkdtempSync(join(tmpdir(), 'bookstore-bench-'))
    // the server's pool size (DB_POOL_SIZE), so that raw and HTTP differ only by HTTP
    const db = await openDatabase({ ...config, ...(dataDir ? { dataDir } : {}) })
    const deps = {
      db,
      config,
      hasher: new PasswordHasher(config.passwordMemoryKiB),
      metrics: new Metrics(db),
    }
    target = rawTarget(deps)
    cleanup = async () => {
      await db.close()
      if (dataDir) rmSync(dataDir, { recursive: true, force: true })
    }
    mode = `raw (in-process, no HTTP), ${engine}`
  } else if (o.url) {
    target = httpTarget(o.url)
    cleanup = () => target.close()
    mode = `HTTP to ${o.url}`
  } else {
    const server = await benchServer(env, o.workers)
    target = httpTarget(server.url)
    cleanup = async () => {
      await target.close()
      await server.stop()
    }
    mode = `HTTP, ${engine}, ${processes(o.workers, 'worker')}`
  }
  try {
    log(
      `bench: preparing ${o.sellers} sellers × ${o.stores} stores × ${o.books} books, ${o.buyers} buyers (${mode})`,
    )
    const prepared: Prepared = await prepare(target, workload, runId, (m) => log(`  ${m}`))
    log(`bench: running for ${o.durationS} s at concurrency ${o.concurrency}`)
    const results = await run(target, prepared, {
      concurrency: o.concurrency,
      durationS: o.durationS,
      onTick: (paid, s) =>
        process.stderr.write(`\r  ${s.toFixed(0)} s: ${paid} paid orders (${(paid / s).toFixed(0)}/s)  `),
    })
    process.stderr.write('\n')
    return { mode, results }
  } finally {
    await cleanup()
  }
}

/** The slower of the two calls' q-quantile, in ms. */
const slower = (r: Results, q: number) => Math.max(r.newOrder.quantile(q), r.payment.quantile(q))

/**
 * Floor, raw and HTTP in rotating rounds (round 1 runs floor, raw, HTTP; round 2 raw, HTTP, floor;
 * round 3 HTTP, floor, raw; and so on), so that a machine whose speed drifts affects all three alike;
 * prints each round's rates and ratios, and the medians.
 */
async function compare(session: Session, rounds: number): Promise<string> {
  const { o, engine, log } = session
  const once = async (kind: Mode) => {
    const { mode, results } = await measure(session, kind)
    if (results.stoppedBy) throw new Error(`${mode} stopped early: ${results.stoppedBy}`)
    return results
  }
  const rate = (r: Results) => r.paid / r.elapsedS
  const order: Mode[] = ['floor', 'raw', 'http']
  type Round = {
    floor: number
    raw: number
    http: number
    ofRaw: number
    ofFloor: number
    p50: number
    p99: number
  }
  const measured: Round[] = []
  for (let round = 1; round <= rounds; round++) {
    log(`bench: round ${round}/${rounds}`)
    const results = {} as Record<Mode, Results>
    for (let i = 0; i < order.length; i++) {
      const kind = order[(round - 1 + i) % order.length] as Mode
      results[kind] = await once(kind)
    }
    const [floor, raw, http] = [rate(results.floor), rate(results.raw), rate(results.http)]
    measured.push({
      floor,
      raw,
      http,
      ofRaw: http / raw,
      ofFloor: http / floor,
      p50: slower(results.http, 0.5),
      p99: slower(results.http, 0.99),
    })
  }
  const mid = (k: keyof Round) => median(measured.map((m) => m[k]))
  const medians: Round = {
    floor: mid('floor'),
    raw: mid('raw'),
    http: mid('http'),
    ofRaw: mid('ofRaw'),
    ofFloor: mid('ofFloor'),
    p50: mid('p50'),
    p99: mid('p99'),
  }
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`
  const row = (label: string | number, m: Round) => [
    label,
    m.floor.toFixed(0),
    m.raw.toFixed(0),
    m.http.toFixed(0),
    pct(m.ofRaw),
    pct(m.ofFloor),
    `${fmt(m.p50)} / ${fmt(m.p99)}`,
  ]
  return [
    `bench: floor vs raw vs HTTP (${processes(o.workers, 'server')}), ${engine}, concurrency ${o.concurrency}, ${o.durationS} s per run, ${rounds} rounds`,
    table(
      [
        'round',
        'floor paid/s',
        'raw paid/s',
        'HTTP paid/s',
        'HTTP / raw',
        'HTTP / floor',
        'HTTP p50 / p99 ms (slower call)',
      ],
      [...measured.map((m, i) => row(i + 1, m)), row('median', medians)],
    ),
  ].join('\n')
}

export async function bench(o: BenchOptions, env: Record<string, string | undefined>): Promise<string> {
  const catalogue = catalogueOf(o)
  const config = loadConfig(env)
  const session: Session = {
    o,
    workload: {
      sellers: o.sellers,
      storesPerSeller: o.stores,
      booksPerStore: o.books,
      buyers: o.buyers,
      ...(catalogue ? { catalogue } : {}),
    },
    env,
    config,
    engine: config.databaseUrl ? 'postgres' : 'pglite',
    log: (m: string) => process.stderr.write(`${m}\n`),
  }
  if (o.compare) {
    if (o.url || o.raw || o.floor)
      throw new Error(
        '--compare starts its own server and runs floor and raw itself: drop --url, --raw and --floor',
      )
    return compare(session, o.compare)
  }
  if (o.raw && o.floor) throw new Error('--raw and --floor are two different runs: pick one')
  if (o.url && (o.raw || o.floor))
    throw new Error('--url measures a server over HTTP: drop --raw and --floor')
  const { mode, results } = await measure(session, o.floor ? 'floor' : o.raw ? 'raw' : 'http')
  const text = report(`bench: ${mode}, concurrency ${o.concurrency}, ${o.durationS} s`, results)
  if (results.stoppedBy) throw new BenchIncomplete(text, results.stoppedBy)
  return text
}
