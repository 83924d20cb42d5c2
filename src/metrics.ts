import type { FastifyInstance } from 'fastify'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Db } from './db/db.ts'
import type { ReplicaStatus } from './db/replicas.ts'

/**
 * Prometheus metrics of one app: its own registry (no process-wide state), filled by request hooks,
 * the background sweeps, and, at scrape time, the database.
 */
export class Metrics {
  readonly registry = new Registry()
  readonly requests: Counter<'method' | 'route' | 'status'>
  readonly duration: Histogram<'method' | 'route' | 'status'>
  readonly sweepRuns: Counter<'task' | 'outcome'>
  readonly sweepItems: Counter<'task'>
  readonly reviews: Counter<'action'>
  readonly checkouts: Counter<'outcome'>
  readonly checkoutOrders: Counter
  readonly reads: Counter<'target'>
  readonly replicaFallbacks: Counter<'replica' | 'reason'>
  readonly orderBatches: Histogram<'kind'>
  /** The replicas' state at scrape time (set when replicas are configured). */
  replicaStatus: () => ReplicaStatus[] = () => []

  constructor(db: Db) {
    const registers = [this.registry]
    this.requests = new Counter({
      name: 'bookstore_http_requests_total',
      help: 'HTTP requests by route template and result code',
      labelNames: ['method', 'route', 'status'],
      registers,
    })
    this.duration = new Histogram({
      name: 'bookstore_http_request_duration_seconds',
      help: 'HTTP request latency by route template and result code',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    })
    this.sweepRuns = new Counter({
      name: 'bookstore_sweep_runs_total',
      help: 'Background sweep runs by task (expire, auto_receive, sessions) and outcome (ok, error)',
      labelNames: ['task', 'outcome'],
      registers,
    })
    this.sweepItems = new Counter({
      name: 'bookstore_sweep_items_total',
      help: 'Orders cancelled by expiry, received automatically, or sessions removed, by sweep task',
      labelNames: ['task'],
      registers,
    })
    this.reviews = new Counter({
      name: 'bookstore_reviews_total',
      help: 'Reviews posted, edited, deleted, and replies written, by action',
      labelNames: ['action'],
      registers,
    })
    this.checkouts = new Counter({
      name: 'bookstore_checkouts_total',
      help: 'Cart checkouts by outcome (placed; refused: stock, store, book or empty cart)',
      labelNames: ['outcome'],
      registers,
    })
    this.checkoutOrders = new Counter({
      name: 'bookstore_checkout_orders_total',
      help: 'Orders placed by cart checkouts (one per store)',
      registers,
    })
    this.reads = new Counter({
      name: 'bookstore_db_reads_total',
      help: 'Reads that may lag (search, catalogue, pictures, review lists) by the server that answered: primary or a replica (host:port/database)',
      labelNames: ['target'],
      registers,
    })
    this.replicaFallbacks = new Counter({
      name: 'bookstore_replica_fallbacks_total',
      help: 'Reads meant for a replica that ran on the primary, by replica and reason (unreachable; conflict: cancelled by WAL replay)',
      labelNames: ['replica', 'reason'],
      registers,
    })
    this.orderBatches = new Histogram({
      name: 'bookstore_order_batch_size',
      help: 'Orders placed (kind new_order) or paid (kind payment) per database call: requests that arrived while the calls before them ran go together',
      labelNames: ['kind'],
      buckets: [1, 2, 4, 8, 16, 32],
      registers,
    })
    const replicaStatus = () => this.replicaStatus()
    new Gauge({
      name: 'bookstore_replica_lag_seconds',
      help: 'Seconds of data each replica may be missing, as of its last check (absent while it does not answer)',
      labelNames: ['replica'],
      registers,
      collect() {
        this.reset()
        for (const r of replicaStatus()) if (r.lag_s !== null) this.set({ replica: r.name }, r.lag_s)
      },
    })
    new Gauge({
      name: 'bookstore_replica_healthy',
      help: '1 when a replica takes reads (answers, and lags at most REPLICA_MAX_LAG_S), else 0',
      labelNames: ['replica'],
      registers,
      collect() {
        this.reset()
        for (const r of replicaStatus()) this.set({ replica: r.name }, r.healthy ? 1 : 0)
      },
    })
    new Gauge({
      name: 'bookstore_orders',
      help: 'Orders by status (read from the database at scrape time)',
      labelNames: ['status'],
      registers,
      async collect() {
        const r = await db.query<{ status: string; n: number }>(
          'SELECT status, count(*)::int AS n FROM orders GROUP BY status',
        )
        this.reset()
        for (const s of ['unpaid', 'paid', 'shipped', 'received', 'cancelled'])
          this.set({ status: s }, r.rows.find((x) => x.status === s)?.n ?? 0)
      },
    })
    new Gauge({
      name: 'bookstore_db_pool_connections',
      help: 'Database pool connections by state (total, idle, waiting clients)',
      labelNames: ['state'],
      registers,
      collect() {
        const s = db.stats()
        this.set({ state: 'total' }, s.total)
        this.set({ state: 'idle' }, s.idle)
        this.set({ state: 'waiting' }, s.waiting)
      },
    })
  }

  /** Counts and times every request (GET /metrics, in routes/ops.ts, serves the registry). */
  install(app: FastifyInstance): void {
    // One pair of label-bound children per method, route and status (a bounded set: routes are
    // templates, unknown paths are 'unmatched'), so a request does not hash its labels twice.
    const bound = new Map<string, { count: { inc(): void }; time: { observe(v: number): void } }>()
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched'
      const key = `${request.method} ${reply.statusCode} ${route}`
      let b = bound.get(key)
      if (b === undefined) {
        const labels = { method: request.method, route, status: String(reply.statusCode) }
        b = { count: this.requests.labels(labels), time: this.duration.labels(labels) }
        bound.set(key, b)
      }
      b.count.inc()
      b.time.observe(reply.elapsedTime / 1000)
      done()
    })
  }
}
