import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openDatabase } from '../app.ts'
import {
  httpTarget,
  type Prepared,
  prepare,
  type Results,
  rawTarget,
  run,
  type Target,
  type Workload,
} from '../bench/orders.ts'
import { fmt, table } from '../bench/stats.ts'
import { CourseDb } from '../catalog/course-db.ts'
import { loadConfig } from '../config.ts'
import { Metrics } from '../metrics.ts'
import { PasswordHasher } from '../security/passwords.ts'

export interface BenchOptions {
  url?: string
  raw: boolean
  concurrency: number
  durationS: number
  sellers: number
  stores: number
  books: number
  buyers: number
  bookDb?: string
  workers: number
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** Starts `bookstore serve` on a free port in its own process and waits until it is ready. */
async function startServer(env: Record<string, string | undefined>, workers: number) {
  const dataDir = env.DATABASE_URL ? undefined : mkdtempSync(join(tmpdir(), 'bookstore-bench-'))
  const port = 20000 + Math.floor(Math.random() * 20000)
  const child: ChildProcess = spawn(process.execPath, ['bin/bookstore.js', 'serve'], {
    cwd: ROOT,
    env: {
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      WORKERS: String(workers),
      ...(dataDir ? { DATA_DIR: dataDir } : {}),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`)
    try {
      if ((await fetch(`${url}/ready`)).ok) break
    } catch {}
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    url,
    async stop() {
      const done = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await done
      if (dataDir) rmSync(dataDir, { recursive: true, force: true })
    },
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

export async function bench(o: BenchOptions, env: Record<string, string | undefined>): Promise<string> {
  const log = (m: string) => process.stderr.write(`${m}\n`)
  let catalogue: Workload['catalogue']
  if (o.bookDb) {
    const src = new CourseDb(o.bookDb)
    catalogue = []
    for (const batch of src.batches(200)) {
      for (const b of batch.books) catalogue.push({ id: b.id, title: b.title, price: b.price })
      if (catalogue.length >= o.books) break
    }
    src.close()
  }
  const workload: Workload = {
    sellers: o.sellers,
    storesPerSeller: o.stores,
    booksPerStore: o.books,
    buyers: o.buyers,
    ...(catalogue ? { catalogue } : {}),
  }
  const runId = randomBytes(4).toString('hex')
  const config = loadConfig(env)
  const engine = config.databaseUrl ? 'postgres' : 'pglite'
  let target: Target
  let cleanup: () => Promise<void>
  let mode: string
  if (o.raw) {
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
    const server = await startServer(env, o.workers)
    target = httpTarget(server.url)
    cleanup = async () => {
      await target.close()
      await server.stop()
    }
    mode = `HTTP, ${engine}, ${o.workers} worker process${o.workers > 1 ? 'es' : ''}`
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
    return report(`bench: ${mode}, concurrency ${o.concurrency}, ${o.durationS} s`, results)
  } finally {
    await cleanup()
  }
}
