/**
 * Crash safety (`npm run chaos`): runs the real server (`bookstore serve`), puts it under concurrent
 * load (register, login, add_funds, new_order, payment), kills it with SIGKILL while requests are in
 * flight, and checks the data it leaves behind, round after round on the same data:
 *   - every user, order, deposit and payment acknowledged with 200 before the kill is stored;
 *   - the invariants of ./shared/invariants.ts hold (no half-written order, money conserved, …);
 *   - stock is conserved (stock + copies in orders not cancelled = initial stock + stock added).
 * Then it restarts the server on the same data and goes on.
 *
 * The embedded database lives in a temporary DATA_DIR; with DATABASE_URL set, the server uses that
 * PostgreSQL server, in a fresh schema of its own that is dropped at the end.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Db } from '../src/db/db.ts'
import { openPglite } from '../src/db/pglite.ts'
import { openPostgres } from '../src/db/postgres.ts'
import { brokenInvariants, stockAndHeld } from './shared/invariants.ts'
import { type ServerProcess, startServer } from './shared/server-process.ts'

export interface ChaosOptions {
  rounds: number
  /** Longest load per round before the kill (the kill comes between half of it and all of it). */
  seconds: number
  concurrency: number
  /** A PostgreSQL server; undefined: the embedded database in a temporary directory. */
  databaseUrl?: string | undefined
  keep?: boolean
  log?: (line: string) => void
}

export interface ChaosSummary {
  engine: 'pglite' | 'postgres'
  rounds: number
  requests: number
  statuses: Record<string, number>
  /** Requests whose answer was lost with the server: they may or may not have been applied. */
  inFlightAtKill: number
  ackedUsers: number
  ackedOrders: number
  ackedPayments: number
  ackedDeposits: number
  /** Orders found after the last round (acknowledged ones plus those committed as the server died). */
  storedOrders: number
  violations: string[]
}

interface Account {
  userId: string
  password: string
  token?: string
}

interface AckedOrder {
  buyer: string
  store: string
  lines: Map<string, number>
}

interface Listing {
  store: string
  book: string
}

const listingKey = (store: string, book: string) => `${store}/${book}`

/** What the clients were told: the lower bound of what must be stored. */
class Acks {
  users = new Map<string, Account>()
  orders = new Map<string, AckedOrder>()
  unpaid: string[] = []
  payments = new Set<string>()
  deposits = new Map<string, { count: number; sum: number }>()
  /** Copies listed at add_book plus every acknowledged add_stock_level, per "store/book". */
  stockIn = new Map<string, number>()

  addStock(l: Listing, copies: number) {
    const k = listingKey(l.store, l.book)
    this.stockIn.set(k, (this.stockIn.get(k) ?? 0) + copies)
  }
}

/** Everything one chaos run shares between its steps: the shop, the acknowledgements, the findings. */
class ChaosRun {
  readonly acks = new Acks()
  readonly violations: string[] = []
  readonly statuses: Record<string, number> = {}
  requests = 0
  inFlightAtKill = 0
  readonly listings: Listing[] = []
  readonly stores: string[] = []
  /** The sellers own the stores; the clients act as the buyers only. */
  readonly sellerOf = new Map<string, Account>()
  readonly buyers: Account[] = []

  count(status: number | string) {
    this.requests += 1
    this.statuses[status] = (this.statuses[status] ?? 0) + 1
  }
}

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)] as T
const between = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1))

type Answer = { status: number; body: Record<string, unknown> }

async function postJson(base: string, path: string, body: unknown, token?: string): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { token } : {}) },
    body: JSON.stringify(body),
  })
  const text = await res.text()
  try {
    return { status: res.status, body: JSON.parse(text) as Record<string, unknown> }
  } catch {
    return { status: res.status, body: { message: `not JSON: ${text.slice(0, 200)}` } }
  }
}

/** A request of the set-up, which nothing interrupts: anything but 200 stops the run. */
async function mustPost(base: string, path: string, body: unknown, token?: string): Promise<Answer> {
  const r = await postJson(base, path, body, token)
  if (r.status !== 200) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`)
  return r
}

/** A business answer of the API (4xx, or a result code 511–525); anything else 5xx is a server error. */
const isAnswer = (status: number) => status < 500 || (status >= 511 && status <= 525)

/** Where the data lives: the server's environment, and how to open the same data directly. */
interface DataHome {
  env: NodeJS.ProcessEnv
  openDirect(): Promise<Db>
  /** Drops the data, or says where it was kept. */
  dispose(keep: boolean, log: (line: string) => void): Promise<void>
}

/** A temporary data directory for the embedded database, or a fresh schema on PostgreSQL. */
async function newDataHome(databaseUrl: string | undefined): Promise<DataHome> {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'info' }
  if (!databaseUrl) {
    const dataDir = mkdtempSync(join(tmpdir(), 'bookstore-chaos-'))
    delete env.DATABASE_URL
    env.DATA_DIR = dataDir
    return {
      env,
      openDirect: () => openPglite(join(dataDir, 'pglite')),
      async dispose(keep, log) {
        if (keep) log(`data kept in ${dataDir}`)
        else rmSync(dataDir, { recursive: true, force: true })
      },
    }
  }
  const schema = `chaos_${process.pid}_${randomBytes(3).toString('hex')}`
  const admin = await openPostgres(databaseUrl, { max: 1 })
  await admin.exec(`CREATE SCHEMA ${schema}`)
  const scoped = new URL(databaseUrl)
  scoped.searchParams.set('options', `-c search_path=${schema}`)
  env.DATABASE_URL = scoped.toString()
  return {
    env,
    openDirect: () => openPostgres(databaseUrl, { schema, max: 2 }),
    async dispose(keep, log) {
      if (keep) log(`data kept in schema ${schema}`)
      else await admin.exec(`DROP SCHEMA ${schema} CASCADE`)
      await admin.close()
    },
  }
}

/** An account, registered and logged in; acknowledged. */
async function newAccount(run: ChaosRun, base: string, name: string): Promise<Account> {
  const u: Account = { userId: `chaos-${name}-${randomBytes(3).toString('hex')}`, password: `pw-${name}` }
  await mustPost(base, '/auth/register', { user_id: u.userId, password: u.password })
  run.acks.users.set(u.userId, u)
  const l = await mustPost(base, '/auth/login', {
    user_id: u.userId,
    password: u.password,
    terminal: 'chaos',
  })
  u.token = l.body.token as string
  return u
}

/** Two sellers with a store of five books each, and a few buyers; all acknowledged before any kill. */
async function setUpShop(run: ChaosRun, base: string): Promise<void> {
  for (let s = 0; s < 2; s++) {
    const seller = await newAccount(run, base, `seller${s}`)
    const store = `chaos-store-${s}`
    await mustPost(base, '/seller/create_store', { user_id: seller.userId, store_id: store }, seller.token)
    run.stores.push(store)
    run.sellerOf.set(store, seller)
    for (let b = 0; b < 5; b++) {
      const listing = { store, book: `book-${s}-${b}` }
      const stock = between(20, 60)
      const book_info = { id: listing.book, title: `Chaos ${s}/${b}`, price: between(1, 50) * 100 }
      await mustPost(
        base,
        '/seller/add_book',
        { user_id: seller.userId, store_id: store, book_info, stock_level: stock },
        seller.token,
      )
      run.listings.push(listing)
      run.acks.addStock(listing, stock)
    }
  }
  for (let i = 0; i < 4; i++) run.buyers.push(await newAccount(run, base, `buyer${i}`))
}

/** One round's load: its clients' requests, and whether the server has been killed yet. */
class Load {
  killed = false
  cutOff = 0
  private seq = 0

  constructor(
    private readonly run: ChaosRun,
    private readonly base: string,
    readonly round: number,
  ) {}

  private bad(what: string) {
    this.run.violations.push(`round ${this.round}: ${what}`)
  }

  /** One request; undefined when the connection died with the server. */
  private async send(path: string, body: unknown, token?: string): Promise<Answer | undefined> {
    try {
      const r = await postJson(this.base, path, body, token)
      this.run.count(r.status)
      if (!isAnswer(r.status)) this.bad(`${path} answered ${r.status} ${JSON.stringify(r.body)}`)
      return r
    } catch (err) {
      this.run.count('connection lost')
      if (this.killed) this.cutOff += 1
      else this.bad(`${path} failed before the kill: ${String(err)}`)
      return undefined
    }
  }

  /** A client: random requests until the server is killed. */
  async client(worker: number): Promise<void> {
    while (!this.killed) {
      const roll = Math.random()
      if (roll < 0.1) await this.register(worker)
      else if (roll < 0.35) await this.deposit()
      else if (roll < 0.7) await this.order()
      else await this.pay()
    }
  }

  private async register(worker: number) {
    const u: Account = { userId: `chaos-c${this.round}-${worker}-${this.seq++}`, password: 'pw' }
    const r = await this.send('/auth/register', { user_id: u.userId, password: u.password })
    if (r?.status !== 200) return
    this.run.acks.users.set(u.userId, u)
    this.run.buyers.push(u)
    const l = await this.send('/auth/login', { user_id: u.userId, password: u.password, terminal: 'chaos' })
    if (l?.status === 200) u.token = l.body.token as string
  }

  private async deposit() {
    const u = pick(this.run.buyers)
    const value = between(50, 300) * 100
    const r = await this.send('/buyer/add_funds', {
      user_id: u.userId,
      password: u.password,
      add_value: value,
    })
    if (r?.status !== 200) return
    const d = this.run.acks.deposits.get(u.userId) ?? { count: 0, sum: 0 }
    this.run.acks.deposits.set(u.userId, { count: d.count + 1, sum: d.sum + value })
  }

  private async order() {
    const u = pick(this.run.buyers.filter((b) => b.token))
    if (!u) return
    const store = pick(this.run.stores)
    const inStore = this.run.listings.filter((l) => l.store === store)
    const books = Array.from({ length: between(1, 3) }, () => ({
      id: pick(inStore).book,
      count: between(1, 3),
    }))
    const r = await this.send('/buyer/new_order', { user_id: u.userId, store_id: store, books }, u.token)
    if (r?.status === 200) {
      const lines = new Map<string, number>()
      for (const l of books) lines.set(l.id, (lines.get(l.id) ?? 0) + l.count)
      const id = r.body.order_id as string
      this.run.acks.orders.set(id, { buyer: u.userId, store, lines })
      this.run.acks.unpaid.push(id)
    } else if (r?.status === 401) this.bad(`the acknowledged session of ${u.userId} was refused (401)`)
  }

  private async pay() {
    const { acks } = this.run
    if (acks.unpaid.length === 0) return
    const id = acks.unpaid.splice(Math.floor(Math.random() * acks.unpaid.length), 1)[0] as string
    const u = acks.users.get((acks.orders.get(id) as AckedOrder).buyer) as Account
    const r = await this.send('/buyer/payment', { user_id: u.userId, password: u.password, order_id: id })
    if (r?.status === 200) acks.payments.add(id)
    else if (r === undefined || r.status === 519) acks.unpaid.push(id)
    // 525 for an order not known as paid: paid by a request whose answer the last kill cut off.
    else if (r.status !== 525) this.bad(`payment of ${id} answered ${r.status} ${JSON.stringify(r.body)}`)
  }

  /** Resolves once this round has acknowledged an order and a payment (or the server is killed). */
  firstAcks(): Promise<void> {
    const { acks } = this.run
    const start = { orders: acks.orders.size, payments: acks.payments.size }
    return new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (this.killed || (acks.orders.size > start.orders && acks.payments.size > start.payments)) {
          clearInterval(poll)
          resolve()
        }
      }, 20)
    })
  }
}

/** Runs the clients until the server is killed with SIGKILL; answers how many requests the kill cut off. */
async function loadAndKill(
  run: ChaosRun,
  server: ServerProcess,
  round: number,
  concurrency: number,
  killAfterMs: number,
): Promise<number> {
  const load = new Load(run, server.url, round)
  const acked = load.firstAcks()
  const clients = Array.from({ length: concurrency }, (_, i) => load.client(i))
  await new Promise((resolve) => setTimeout(resolve, killAfterMs))
  // However slow the machine, each round acknowledges writes before the kill (up to a point: with
  // the stock sold out after many rounds, there may be nothing left to order).
  let cap: NodeJS.Timeout | undefined
  await Promise.race([acked, new Promise((resolve) => (cap = setTimeout(resolve, 10 * killAfterMs)))])
  clearTimeout(cap)
  load.killed = true
  await server.stop('SIGKILL')
  await Promise.all(clients)
  return load.cutOff
}

/** Between rounds, with nothing in flight: more stock, acknowledged, so the stock count stays exact. */
async function addStock(run: ChaosRun, base: string, round: number): Promise<void> {
  const l = pick(run.listings)
  const seller = run.sellerOf.get(l.store) as Account
  const copies = between(1, 20)
  const r = await postJson(
    base,
    '/seller/add_stock_level',
    { user_id: seller.userId, store_id: l.store, book_id: l.book, add_stock_level: copies },
    seller.token,
  )
  if (r.status === 200) run.acks.addStock(l, copies)
  else
    run.violations.push(
      `after restart ${round}: add_stock_level answered ${r.status} ${JSON.stringify(r.body)}`,
    )
}

type Bad = (what: string) => void

/** Every acknowledged user, order (with its lines), payment and deposit is stored. */
async function checkAcknowledged(acks: Acks, db: Db, bad: Bad): Promise<void> {
  const userIds = [...acks.users.keys()]
  const users = await db.query<{ user_id: string }>(
    'SELECT user_id FROM users WHERE user_id = ANY ($1::text[])',
    [userIds],
  )
  const present = new Set(users.rows.map((r) => r.user_id))
  for (const id of userIds) if (!present.has(id)) bad(`acknowledged user ${id} is missing`)

  const orderIds = [...acks.orders.keys()]
  const orders = await db.query<{ order_id: string; buyer_id: string; store_id: string; status: string }>(
    'SELECT order_id, buyer_id, store_id, status FROM orders WHERE order_id = ANY ($1::text[])',
    [orderIds],
  )
  const items = await db.query<{ order_id: string; book_id: string; count: number }>(
    'SELECT order_id, book_id, count FROM order_items WHERE order_id = ANY ($1::text[])',
    [orderIds],
  )
  const stored = new Map(orders.rows.map((r) => [r.order_id, r]))
  const lines = new Map<string, Map<string, number>>()
  for (const i of items.rows)
    lines.set(i.order_id, (lines.get(i.order_id) ?? new Map()).set(i.book_id, i.count))
  for (const [id, o] of acks.orders) {
    const row = stored.get(id)
    if (!row) {
      bad(`acknowledged order ${id} is missing`)
      continue
    }
    if (row.buyer_id !== o.buyer || row.store_id !== o.store) bad(`order ${id} has the wrong buyer or store`)
    const got = [...(lines.get(id) ?? new Map<string, number>())].sort().join()
    const want = [...o.lines].sort().join()
    if (got !== want) bad(`order ${id} has lines ${got}, ordered ${want}`)
  }

  const payments = await db.query<{ order_id: string }>(
    "SELECT order_id FROM ledger WHERE kind = 'payment' AND order_id = ANY ($1::text[])",
    [[...acks.payments]],
  )
  const paidRows = new Set(payments.rows.map((r) => r.order_id))
  for (const id of acks.payments) {
    const status = stored.get(id)?.status
    if (status !== 'paid' && status !== 'shipped' && status !== 'received')
      bad(`acknowledged payment of ${id}: the order is ${status ?? 'missing'}`)
    if (!paidRows.has(id)) bad(`acknowledged payment of ${id} has no ledger row`)
  }

  const deposits = await db.query<{ user_id: string; n: number; total: number }>(
    `SELECT user_id, count(*)::int AS n, sum(amount)::bigint AS total FROM ledger
      WHERE kind = 'deposit' AND user_id = ANY ($1::text[]) GROUP BY user_id`,
    [[...acks.deposits.keys()]],
  )
  const byUser = new Map(deposits.rows.map((r) => [r.user_id, r]))
  for (const [user, d] of acks.deposits) {
    const got = byUser.get(user)
    if (!got || got.n < d.count || got.total < d.sum)
      bad(
        `${user}: ${d.count} deposit(s) of ${d.sum} acknowledged, stored ${got?.n ?? 0} of ${got?.total ?? 0}`,
      )
  }
}

/** Stock + copies in orders not cancelled = copies listed and added, for every listing. */
async function checkStock(acks: Acks, db: Db, bad: Bad): Promise<void> {
  for (const l of await stockAndHeld(db)) {
    const k = listingKey(l.store_id, l.book_id)
    const expected = acks.stockIn.get(k)
    if (expected === undefined) bad(`unexpected listing ${k}`)
    else if (l.stock_level + l.held !== expected)
      bad(`${k}: stock ${l.stock_level} + ordered ${l.held} ≠ ${expected} listed and added`)
  }
}

/** Checks the stored data against the acknowledgements and the invariants; answers what is stored. */
async function verify(
  run: ChaosRun,
  home: DataHome,
  when: string,
): Promise<{ orders: number; paid: number }> {
  const db = await home.openDirect()
  const bad: Bad = (what) => run.violations.push(`${when}: ${what}`)
  try {
    await checkAcknowledged(run.acks, db, bad)
    for (const broken of await brokenInvariants(db)) bad(broken)
    await checkStock(run.acks, db, bad)
    const counts = await db.query<{ orders: number; paid: number }>(
      "SELECT count(*)::int AS orders, (count(*) FILTER (WHERE status = 'paid'))::int AS paid FROM orders",
    )
    return counts.rows[0] ?? { orders: 0, paid: 0 }
  } finally {
    await db.close()
  }
}

/** One round: load, SIGKILL, verify, restart on the same data, add stock. Answers the new server. */
async function chaosRound(
  run: ChaosRun,
  home: DataHome,
  server: ServerProcess,
  round: number,
  opts: ChaosOptions,
  log: (line: string) => void,
): Promise<ServerProcess> {
  const before = { orders: run.acks.orders.size, payments: run.acks.payments.size }
  const killAfter = opts.seconds * 1000 * (0.5 + Math.random() / 2)
  const cutOff = await loadAndKill(run, server, round, opts.concurrency, killAfter)
  run.inFlightAtKill += cutOff
  log(
    `round ${round}: SIGKILL after ${(killAfter / 1000).toFixed(1)} s cut off ${cutOff} request(s); ` +
      `acknowledged this round: ${run.acks.orders.size - before.orders} order(s), ` +
      `${run.acks.payments.size - before.payments} payment(s)`,
  )
  const found = await verify(run, home, `round ${round}`)
  log(
    `round ${round}: verified ${found.orders} stored order(s), ${found.paid} paid; violations so far: ${run.violations.length}`,
  )
  const restarted = await startServer({ env: home.env })
  await addStock(run, restarted.url, round)
  return restarted
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosSummary> {
  const log = opts.log ?? ((line: string) => console.log(line))
  const engine = opts.databaseUrl ? 'postgres' : 'pglite'
  const run = new ChaosRun()
  const home = await newDataHome(opts.databaseUrl)
  log(`chaos: ${engine}, ${opts.rounds} round(s) of up to ${opts.seconds} s, ${opts.concurrency} clients`)
  let server: ServerProcess | undefined
  try {
    server = await startServer({ env: home.env })
    await setUpShop(run, server.url)
    for (let round = 1; round <= opts.rounds; round++)
      server = await chaosRound(run, home, server, round, opts, log)
    // The last restart must also shut down cleanly.
    const { code } = await server.stop('SIGTERM')
    if (code !== 0)
      run.violations.push(`SIGTERM after the last round: exit code ${code}: ${server.output().slice(-1000)}`)
    server = undefined
    const final = await verify(run, home, 'final')
    return {
      engine,
      rounds: opts.rounds,
      requests: run.requests,
      statuses: run.statuses,
      inFlightAtKill: run.inFlightAtKill,
      ackedUsers: run.acks.users.size,
      ackedOrders: run.acks.orders.size,
      ackedPayments: run.acks.payments.size,
      ackedDeposits: [...run.acks.deposits.values()].reduce((n, d) => n + d.count, 0),
      storedOrders: final.orders,
      violations: run.violations,
    }
  } finally {
    await server?.stop('SIGKILL')
    await home.dispose(opts.keep ?? false, log)
  }
}

/** `bookstore chaos`: runs it and prints the summary; exit code 0, 1 on a violation, 2 if it could not run. */
export async function chaosCommand(opts: ChaosOptions): Promise<number> {
  try {
    const { violations, ...rest } = await runChaos(opts)
    console.log(`summary: ${JSON.stringify(rest)}`)
    if (violations.length === 0) {
      console.log('no violations')
      return 0
    }
    console.error(`${violations.length} violation(s):`)
    for (const v of violations.slice(0, 50)) console.error(`  - ${v}`)
    return 1
  } catch (err) {
    console.error('chaos:', err instanceof Error ? err.message : err)
    return 2
  }
}
