/**
 * Search throughput with 0, 1, … read replicas (`npm run bench:replicas`; options: `-- --help`).
 *
 * For each number of replicas k (the first k of --replicas), starts `bookstore serve` against
 * DATABASE_URL with DATABASE_REPLICA_URLS naming them, waits until /ready shows them healthy, then
 * runs the search mix of the search benchmark over HTTP with a closed loop of c clients for each
 * concurrency level, printing queries/s and p50/p99 per level, and which server ran the queries
 * (transactions committed per server, from pg_stat_database: the same on primary and standbys,
 * whichever server process sent them). With --rounds N the configurations alternate N times, so
 * that the machine's other load falls on each alike; the summary gives, per k, the median q/s and
 * p99 per level and the highest median throughput whose p99 stays within --p99-ms. The database
 * must hold a generated catalogue (`gen-catalog`).
 */
import type { Db } from '../../src/db/db.ts'
import { openPostgres } from '../../src/db/postgres.ts'
import { replicaName } from '../../src/db/replicas.ts'
import { Rng } from '../catalog/synthetic.ts'
import { startServer } from '../shared/server-process.ts'
import { HttpClient } from './http-client.ts'
import { kindsOf, qs } from './search.ts'
import { fmt, median, Samples, table } from './stats.ts'

export interface ReplicaBenchOptions {
  /** Replica URLs of DATABASE_URL; rounds run with 0 … all of them. */
  replicas: string[]
  /** Concurrency levels (simultaneous clients), each run for `duration` seconds. */
  concurrency: number[]
  duration: number
  /** Server processes (WORKERS). */
  workers: number
  /** The p99 bound of the summary's throughput, ms. */
  p99Ms: number
  /** Stores of the generated catalogue (store-scoped queries pick one of them). */
  stores: number
  seed: number
  /** Rounds over 0 … all replicas; the summary takes the median. */
  rounds: number
}

interface Level {
  concurrency: number
  qps: number
  p50: number
  p99: number
  errors: number
  /** Transactions committed per server during the level: primary first, then each replica. */
  xacts: number[]
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Transactions committed so far in this database, on one server (primary or standby). */
async function commits(db: Db): Promise<number> {
  const r = await db.query<{ n: string }>(
    'SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = current_database()',
  )
  return Number(r.rows[0]?.n ?? 0)
}

/** Runs `clients` closed loops of the search mix for `seconds`; latencies in ms. */
async function load(url: string, clients: number, seconds: number, stores: number, seed: number) {
  const kinds = Object.values(kindsOf(stores))
  const samples = new Samples()
  const end = performance.now() + seconds * 1000
  const loop = async (i: number) => {
    const http = new HttpClient(url)
    const rng = new Rng(seed * 7919 + i)
    try {
      while (performance.now() < end) {
        const make = kinds[rng.int(kinds.length)] as (r: Rng) => Record<string, unknown>
        const path = `/search/books?${qs(make(rng))}`
        const t0 = performance.now()
        try {
          const reply = await http.get(path)
          if (reply.status === 200) samples.add(performance.now() - t0)
          else samples.errors++
        } catch {
          samples.errors++
        }
      }
    } finally {
      http.close()
    }
  }
  const t0 = performance.now()
  await Promise.all(Array.from({ length: clients }, (_, i) => loop(i)))
  return { samples, seconds: (performance.now() - t0) / 1000 }
}

export async function benchReplicas(
  o: ReplicaBenchOptions,
  env: Record<string, string | undefined>,
): Promise<void> {
  const primaryUrl = env.DATABASE_URL as string
  const servers = [
    await openPostgres(primaryUrl, { max: 1 }),
    ...(await Promise.all(o.replicas.map((u) => openPostgres(u, { max: 1 })))),
  ]
  const names = ['primary', ...o.replicas.map(replicaName)]
  const listings = (await servers[0]?.query<{ n: number }>('SELECT count(*)::int AS n FROM listings'))
    ?.rows[0]?.n
  if (!listings) throw new Error('the database has no listings: run gen-catalog first')
  console.log(
    `replica benchmark: ${listings} listings, ${o.workers} server process(es), ` +
      `${o.duration} s per level, concurrency ${o.concurrency.join(', ')}`,
  )
  // Rounds alternate the number of replicas, so that a change in the machine's other load falls on
  // every configuration alike; the summary takes the median of the rounds.
  const results = new Map<number, Level[][]>()
  try {
    for (let round = 1; round <= o.rounds; round++) {
      for (let k = 0; k <= o.replicas.length; k++) {
        const replicas = o.replicas.slice(0, k)
        console.log(
          `\nround ${round}/${o.rounds}, ${k} replica(s)${k ? `: ${replicas.map(replicaName).join(', ')}` : ''}`,
        )
        const levels = await measure(o, env, primaryUrl, replicas, servers, names)
        results.set(k, [...(results.get(k) ?? []), levels])
      }
    }
  } finally {
    await Promise.all(servers.map((s) => s.close()))
  }
  const summary: (string | number)[][] = []
  for (const [k, rounds] of results) {
    const perLevel = o.concurrency.map((c, i) => ({
      concurrency: c,
      qps: median(rounds.map((levels) => levels[i]?.qps ?? 0)),
      p99: median(rounds.map((levels) => levels[i]?.p99 ?? Number.POSITIVE_INFINITY)),
    }))
    const within = perLevel.filter((l) => l.p99 <= o.p99Ms)
    const best = within.reduce<(typeof perLevel)[number] | undefined>(
      (b, l) => (b && b.qps >= l.qps ? b : l),
      undefined,
    )
    summary.push([
      k,
      best ? best.qps.toFixed(0) : '-',
      best ? best.concurrency : '-',
      ...perLevel.map((l) => `${l.qps.toFixed(0)} (${fmt(l.p99)})`),
    ])
  }
  console.log(
    `\nsummary, median of ${o.rounds} round(s): q/s with p99 ≤ ${o.p99Ms} ms, and q/s (p99 ms) per concurrency:`,
  )
  console.log(
    table(['replicas', `q/s at p99 ≤ ${o.p99Ms} ms`, 'at c', ...o.concurrency.map((c) => `c=${c}`)], summary),
  )
}

/** One server with these replicas: waits until they are in use, warms up, measures each level. */
async function measure(
  o: ReplicaBenchOptions,
  env: Record<string, string | undefined>,
  primaryUrl: string,
  replicas: string[],
  servers: Db[],
  names: string[],
): Promise<Level[]> {
  const server = await startServer({
    env: {
      ...env,
      DATABASE_URL: primaryUrl,
      DATABASE_REPLICA_URLS: replicas.join(','),
      WORKERS: String(o.workers),
      LOG_LEVEL: 'warn',
    },
  })
  const levels: Level[] = []
  try {
    // Every replica in use before measuring (the server starts with a first health check).
    for (let i = 0; ; i++) {
      const ready = (await (await fetch(`${server.url}/ready`)).json()) as {
        replicas?: { healthy: boolean }[]
      }
      if ((ready.replicas ?? []).every((r) => r.healthy)) break
      if (i > 300) throw new Error(`replicas not healthy after 30 s: ${JSON.stringify(ready)}`)
      await sleep(100)
    }
    process.stderr.write('  warm-up (3 s)\n')
    await load(server.url, Math.max(...o.concurrency), 3, o.stores, o.seed)
    for (const c of o.concurrency) {
      const before = await Promise.all(servers.map(commits))
      const { samples, seconds } = await load(server.url, c, o.duration, o.stores, o.seed + c)
      const after = await Promise.all(servers.map(commits))
      const level: Level = {
        concurrency: c,
        qps: samples.count / seconds,
        p50: samples.quantile(0.5),
        p99: samples.quantile(0.99),
        errors: samples.errors,
        xacts: after.map((n, i) => n - (before[i] ?? 0)),
      }
      if (level.errors > 0) throw new Error(`${level.errors} searches failed at concurrency ${c}`)
      levels.push(level)
      const split = level.xacts
        .slice(0, replicas.length + 1)
        .map((n, i) => `${names[i]} ${n}`)
        .join(', ')
      console.log(
        `  c=${String(c).padStart(3)}  ${level.qps.toFixed(0).padStart(5)} q/s  p50 ${fmt(level.p50)} ms  ` +
          `p99 ${fmt(level.p99)} ms  transactions: ${split}`,
      )
    }
  } finally {
    await server.stop()
  }
  return levels
}
