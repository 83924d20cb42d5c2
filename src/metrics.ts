import type { FastifyInstance } from 'fastify'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Db } from './db/db.ts'

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
