/**
 * Crash safety: runs the real server (`bookstore serve`), puts it under concurrent load (register,
 * login, add_funds, new_order, payment), kills it with SIGKILL while requests are in flight,
 * and checks the data it leaves behind, round after round on the same data:
 *   - every user, order, deposit and payment acknowledged with 200 before the kill is stored;
 *   - no order is half-written (it has lines, and its total is the sum of its lines);
 *   - money is conserved (balances + escrow = deposits − withdrawals; each balance = its ledger);
 *   - stock is conserved (stock + copies in orders not cancelled = initial stock + stock added).
 * Then it restarts the server on the same data and goes on. Exits 1 on any violation.
 *
 *   node --import tsx scripts/chaos.ts [--rounds N] [--seconds S] [--concurrency C] [--keep]
 *
 * The embedded database lives in a temporary DATA_DIR; with DATABASE_URL set, the server uses that
 * PostgreSQL server, in a fresh schema of its own that is dropped at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Db } from '../src/db/db.ts'
import { openPglite } from '../src/db/pglite.ts'
import { openPostgres } from '../src/db/postgres.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

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

interface Buyer {
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

/** What the clients were told: the lower bound of what must be stored. */
class Acks {
  users = new Map<string, Buyer>()
  orders = new Map<string, AckedOrder>()
  unpaid: string[] = []
  payments = new Set<string>()
  deposits = new Map<string, { count: number; sum: number }>()
  /** Copies listed at add_book plus every acknowledged add_stock_level, per "store/book". */
  stockIn = new Map<string, number>()
}

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)] as T
const between = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1))

interface Server {
  child: ChildProcess
  url: string
  exited: Promise<number | null>
  output: () => string
}

/** Starts `bookstore serve` on a free port and waits for its "listening" line. */
function startServer(env: NodeJS.ProcessEnv): Promise<Server> {
  const child = spawn(process.execPath, ['bin/bookstore.js', 'serve'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`server did not start within 120 s: ${out.slice(-2000)}`))
    }, 120_000)
    const onData = (d: Buffer) => {
      // Keep the tail only: request logs add up under load.
      out = (out + d.toString()).slice(-20_000)
      const m = /listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
      if (m?.[1]) {
        clearTimeout(timer)
        resolve({ child, url: m[1], exited, output: () => out })
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code} while starting: ${out.slice(-2000)}`))
    })
  })
}

async function postJson(base: string, path: string, body: unknown, token?: string) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { token } : {}) },
    body: JSON.stringify(body),
  })
  const text = await res.text()
  let json: Record<string, unknown> = {}
  try {
    json = JSON.parse(text) as Record<string, unknown>
  } catch {
    json = { message: `not JSON: ${text.slice(0, 200)}` }
  }
  return { status: res.status, body: json }
}

/** A business answer of the API (4xx, or a result code 511–525); anything else 5xx is a server error. */
const isAnswer = (status: number) => status < 500 || (status >= 511 && status <= 525)

export async function runChaos(opts: ChaosOptions): Promise<ChaosSummary> {
  const log = opts.log ?? ((line: string) => console.log(line))
  const engine = opts.databaseUrl ? 'postgres' : 'pglite'
  const acks = new Acks()
  const violations: string[] = []
  const statuses: Record<string, number> = {}
  let requests = 0
  let inFlightAtKill = 0
  const listings: Listing[] = []
  const stores: string[] = []
  // The sellers own the stores; the clients act as the buyers only.
  const sellerOf = new Map<string, Buyer>()
  const buyerList: Buyer[] = []

  // Where the data lives, and how to open it directly for the checks.
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' }
  let dataDir: string | undefined
  let schema: string | undefined
  let admin: Db | undefined
  if (opts.databaseUrl) {
    schema = `chaos_${process.pid}_${randomBytes(3).toString('hex')}`
    admin = await openPostgres(opts.databaseUrl, { max: 1 })
    await admin.exec(`CREATE SCHEMA ${schema}`)
    const scoped = new URL(opts.databaseUrl)
    scoped.searchParams.set('options', `-c search_path=${schema}`)
    env.DATABASE_URL = scoped.toString()
  } else {
    dataDir = mkdtempSync(join(tmpdir(), 'bookstore-chaos-'))
    delete env.DATABASE_URL
    env.DATA_DIR = dataDir
  }
  const openDirect = (): Promise<Db> =>
    opts.databaseUrl
      ? openPostgres(opts.databaseUrl, { schema, max: 2 })
      : openPglite(join(dataDir as string, 'pglite'))
  log(`chaos: ${engine}, ${opts.rounds} round(s) of up to ${opts.seconds} s, ${opts.concurrency} clients`)

  let server: Server | undefined
  try {
    server = await startServer(env)
    await setUp(server.url)

    for (let round = 1; round <= opts.rounds; round++) {
      const before = { orders: acks.orders.size, payments: acks.payments.size }
      const killAfter = opts.seconds * 1000 * (0.5 + Math.random() / 2)
      const killed = await loadAndKill(server, round, killAfter)
      log(
        `round ${round}: SIGKILL after ${(killAfter / 1000).toFixed(1)} s cut off ${killed} request(s); ` +
          `acknowledged this round: ${acks.orders.size - before.orders} order(s), ` +
          `${acks.payments.size - before.payments} payment(s)`,
      )
      inFlightAtKill += killed
      const found = await verify(`round ${round}`)
      log(
        `round ${round}: verified ${found.orders} stored order(s), ${found.paid} paid; violations so far: ${violations.length}`,
      )
      server = await startServer(env)
      // Between rounds, with nothing in flight: more stock, acknowledged, so the stock count stays exact.
      const l = pick(listings)
      const add = between(1, 20)
      const r = await postJson(
        server.url,
        '/seller/add_stock_level',
        {
          user_id: sellerOf.get(l.store)?.userId,
          store_id: l.store,
          book_id: l.book,
          add_stock_level: add,
        },
        sellerOf.get(l.store)?.token,
      )
      if (r.status === 200) bump(acks.stockIn, key(l), add)
      else
        violations.push(
          `after restart ${round}: add_stock_level answered ${r.status} ${JSON.stringify(r.body)}`,
        )
      const ready = await fetch(`${server.url}/ready`)
      if (ready.status !== 200) violations.push(`after restart ${round}: /ready answered ${ready.status}`)
    }

    // The last restart must also shut down cleanly.
    server.child.kill('SIGTERM')
    const code = await server.exited
    if (code !== 0)
      violations.push(`SIGTERM after the last round: exit code ${code}: ${server.output().slice(-1000)}`)
    server = undefined
    const final = await verify('final')
    const summary: ChaosSummary = {
      engine,
      rounds: opts.rounds,
      requests,
      statuses,
      inFlightAtKill,
      ackedUsers: acks.users.size,
      ackedOrders: acks.orders.size,
      ackedPayments: acks.payments.size,
      ackedDeposits: [...acks.deposits.values()].reduce((n, d) => n + d.count, 0),
      storedOrders: final.orders,
      violations,
    }
    return summary
  } finally {
    if (server) {
      server.child.kill('SIGKILL')
      await server.exited
    }
    if (admin) {
      if (!opts.keep) await admin.exec(`DROP SCHEMA ${schema} CASCADE`)
      await admin.close()
    }
    if (dataDir && !opts.keep) rmSync(dataDir, { recursive: true, force: true })
    if (opts.keep) log(`data kept in ${dataDir ?? `schema ${schema}`}`)
  }

  // -------------------------------------------------------------------------------------------

  function key(l: Listing) {
    return `${l.store}/${l.book}`
  }

  function bump(m: Map<string, number>, k: string, by: number) {
    m.set(k, (m.get(k) ?? 0) + by)
  }

  function count(status: number | string) {
    requests += 1
    statuses[status] = (statuses[status] ?? 0) + 1
  }

  /** Two sellers with a store of five books each, and a few buyers; all acknowledged before any kill. */
  async function setUp(base: string) {
    for (let s = 0; s < 2; s++) {
      const seller = await newAccount(base, `seller${s}`)
      const store = `chaos-store-${s}`
      const r = await postJson(
        base,
        '/seller/create_store',
        { user_id: seller.userId, store_id: store },
        seller.token,
      )
      if (r.status !== 200) throw new Error(`create_store: ${r.status} ${JSON.stringify(r.body)}`)
      stores.push(store)
      sellerOf.set(store, seller)
      for (let b = 0; b < 5; b++) {
        const book = `book-${s}-${b}`
        const stock = between(20, 60)
        const a = await postJson(
          base,
          '/seller/add_book',
          {
            user_id: seller.userId,
            store_id: store,
            book_info: { id: book, title: `Chaos ${s}/${b}`, price: between(1, 50) * 100 },
            stock_level: stock,
          },
          seller.token,
        )
        if (a.status !== 200) throw new Error(`add_book: ${a.status} ${JSON.stringify(a.body)}`)
        listings.push({ store, book })
        bump(acks.stockIn, `${store}/${book}`, stock)
      }
    }
    for (let i = 0; i < 4; i++) buyerList.push(await newAccount(base, `buyer${i}`))
  }

  async function newAccount(base: string, name: string): Promise<Buyer> {
    const u: Buyer = { userId: `chaos-${name}-${randomBytes(3).toString('hex')}`, password: `pw-${name}` }
    const r = await postJson(base, '/auth/register', { user_id: u.userId, password: u.password })
    if (r.status !== 200) throw new Error(`register: ${r.status} ${JSON.stringify(r.body)}`)
    acks.users.set(u.userId, u)
    const l = await postJson(base, '/auth/login', {
      user_id: u.userId,
      password: u.password,
      terminal: 'chaos',
    })
    if (l.status !== 200) throw new Error(`login: ${l.status} ${JSON.stringify(l.body)}`)
    u.token = l.body.token as string
    return u
  }

  /** Runs the clients until the server is killed; answers how many requests the kill cut off. */
  async function loadAndKill(srv: Server, round: number, killAfterMs: number): Promise<number> {
    let killed = false
    let cutOff = 0
    let seq = 0
    const base = srv.url
    const buyers = () => buyerList

    /** One request; undefined when the connection died with the server. */
    const send = async (path: string, body: unknown, token?: string) => {
      try {
        const r = await postJson(base, path, body, token)
        count(r.status)
        if (!isAnswer(r.status))
          violations.push(`round ${round}: ${path} answered ${r.status} ${JSON.stringify(r.body)}`)
        return r
      } catch (err) {
        count('connection lost')
        if (killed) cutOff += 1
        else violations.push(`round ${round}: ${path} failed before the kill: ${String(err)}`)
        return undefined
      }
    }

    const client = async (worker: number) => {
      while (!killed) {
        const roll = Math.random()
        if (roll < 0.1) {
          const u: Buyer = { userId: `chaos-c${round}-${worker}-${seq++}`, password: 'pw' }
          const r = await send('/auth/register', { user_id: u.userId, password: u.password })
          if (r?.status !== 200) continue
          acks.users.set(u.userId, u)
          buyerList.push(u)
          const l = await send('/auth/login', { user_id: u.userId, password: u.password, terminal: 'chaos' })
          if (l?.status === 200) u.token = l.body.token as string
        } else if (roll < 0.35) {
          const u = pick(buyers())
          const value = between(50, 300) * 100
          const r = await send('/buyer/add_funds', {
            user_id: u.userId,
            password: u.password,
            add_value: value,
          })
          if (r?.status === 200) {
            const d = acks.deposits.get(u.userId) ?? { count: 0, sum: 0 }
            acks.deposits.set(u.userId, { count: d.count + 1, sum: d.sum + value })
          }
        } else if (roll < 0.7) {
          const u = pick(buyers().filter((b) => b.token))
          if (!u) continue
          const store = pick(stores)
          const lines = Array.from({ length: between(1, 3) }, () => ({
            id: pick(listings.filter((l) => l.store === store)).book,
            count: between(1, 3),
          }))
          const r = await send(
            '/buyer/new_order',
            { user_id: u.userId, store_id: store, books: lines },
            u.token,
          )
          if (r?.status === 200) {
            const merged = new Map<string, number>()
            for (const l of lines) merged.set(l.id, (merged.get(l.id) ?? 0) + l.count)
            const id = r.body.order_id as string
            acks.orders.set(id, { buyer: u.userId, store, lines: merged })
            acks.unpaid.push(id)
          } else if (r?.status === 401)
            violations.push(`round ${round}: the acknowledged session of ${u.userId} was refused (401)`)
        } else {
          if (acks.unpaid.length === 0) continue
          const id = acks.unpaid.splice(Math.floor(Math.random() * acks.unpaid.length), 1)[0] as string
          const order = acks.orders.get(id) as AckedOrder
          const u = acks.users.get(order.buyer) as Buyer
          const r = await send('/buyer/payment', { user_id: u.userId, password: u.password, order_id: id })
          if (r?.status === 200) acks.payments.add(id)
          else if (r?.status === 519 || r === undefined) acks.unpaid.push(id)
          else if (r.status === 525 && !acks.payments.has(id)) {
            // Paid by a request whose answer the last kill cut off: fine, it is stored as paid.
          } else if (r.status !== 525)
            violations.push(`round ${round}: payment of ${id} answered ${r.status} ${JSON.stringify(r.body)}`)
        }
      }
    }

    const start = { orders: acks.orders.size, payments: acks.payments.size }
    const firstAcks = new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (killed || (acks.orders.size > start.orders && acks.payments.size > start.payments)) {
          clearInterval(poll)
          resolve()
        }
      }, 20)
    })
    const clients = Array.from({ length: opts.concurrency }, (_, i) => client(i))
    await new Promise((resolve) => setTimeout(resolve, killAfterMs))
    // However slow the machine, each round acknowledges writes before the kill (up to a point: with
    // the stock sold out after many rounds, there may be nothing left to order).
    let cap: NodeJS.Timeout | undefined
    await Promise.race([firstAcks, new Promise((resolve) => (cap = setTimeout(resolve, 10 * killAfterMs)))])
    clearTimeout(cap)
    killed = true
    srv.child.kill('SIGKILL')
    await srv.exited
    await Promise.all(clients)
    return cutOff
  }

  /** Checks the stored data against the acknowledgements and the invariants. */
  async function verify(when: string): Promise<{ orders: number; paid: number }> {
    const db = await openDirect()
    const bad = (what: string) => violations.push(`${when}: ${what}`)
    try {
      const ids = [...acks.users.keys()]
      const users = await db.query<{ user_id: string }>(
        'SELECT user_id FROM users WHERE user_id = ANY ($1::text[])',
        [ids],
      )
      const present = new Set(users.rows.map((r) => r.user_id))
      for (const id of ids) if (!present.has(id)) bad(`acknowledged user ${id} is missing`)

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
      for (const i of items.rows) {
        const m = lines.get(i.order_id) ?? new Map<string, number>()
        m.set(i.book_id, i.count)
        lines.set(i.order_id, m)
      }
      for (const [id, o] of acks.orders) {
        const row = stored.get(id)
        if (!row) {
          bad(`acknowledged order ${id} is missing`)
          continue
        }
        if (row.buyer_id !== o.buyer || row.store_id !== o.store)
          bad(`order ${id} has the wrong buyer or store`)
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

      // Whole-database invariants.
      const inv = await db.query<Record<string, number>>(
        `SELECT
           (SELECT count(*) FROM orders o
             WHERE NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.order_id))::int AS orders_without_lines,
           (SELECT count(*) FROM orders o
             WHERE o.total_price <> (SELECT coalesce(sum(i.price * i.count), 0) FROM order_items i
                                      WHERE i.order_id = o.order_id))::int AS orders_with_wrong_total,
           (SELECT count(*) FROM orders o
             WHERE o.status <> 'cancelled'
               AND (SELECT count(*) FROM ledger l WHERE l.order_id = o.order_id AND l.kind = 'payment'
                      AND l.amount = -o.total_price)
                   <> CASE WHEN o.status = 'unpaid' THEN 0 ELSE 1 END)::int AS orders_with_wrong_payments,
           (SELECT count(*) FROM users WHERE balance < 0)::int AS negative_balances,
           (SELECT count(*) FROM listings WHERE stock_level < 0)::int AS negative_stock,
           (SELECT count(*) FROM users u
             WHERE u.balance <> (SELECT coalesce(sum(amount), 0) FROM ledger l WHERE l.user_id = u.user_id))::int
             AS balances_not_their_ledger,
           ((SELECT coalesce(sum(balance), 0) FROM users)
             + (SELECT coalesce(sum(total_price), 0) FROM orders WHERE status IN ('paid', 'shipped'))
             - (SELECT coalesce(sum(amount), 0) FROM ledger WHERE kind IN ('deposit', 'withdrawal')))::bigint
             AS money_created,
           (SELECT count(*) FROM orders)::int AS orders,
           (SELECT count(*) FROM orders WHERE status = 'paid')::int AS paid`,
      )
      const row = inv.rows[0] ?? {}
      for (const [name, n] of Object.entries(row))
        if (name !== 'orders' && name !== 'paid' && n !== 0) bad(`${name} = ${n}`)

      const stock = await db.query<{
        store_id: string
        book_id: string
        stock_level: number
        ordered: number
      }>(
        `SELECT l.store_id, l.book_id, l.stock_level,
                (SELECT coalesce(sum(i.count), 0) FROM order_items i JOIN orders o ON o.order_id = i.order_id
                  WHERE o.store_id = l.store_id AND i.book_id = l.book_id AND o.status <> 'cancelled')::int AS ordered
           FROM listings l`,
      )
      for (const l of stock.rows) {
        const k = `${l.store_id}/${l.book_id}`
        const expected = acks.stockIn.get(k)
        if (expected === undefined) bad(`unexpected listing ${k}`)
        else if (l.stock_level + l.ordered !== expected)
          bad(`${k}: stock ${l.stock_level} + ordered ${l.ordered} ≠ ${expected} listed and added`)
      }
      return { orders: row.orders ?? 0, paid: row.paid ?? 0 }
    } finally {
      await db.close()
    }
  }
}

function parseArgs(argv: string[]): ChaosOptions {
  const o: ChaosOptions = {
    rounds: 3,
    seconds: 5,
    concurrency: 16,
    databaseUrl: process.env.DATABASE_URL || undefined,
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const num = () => {
      const v = Number(argv[++i])
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`)
      return v
    }
    if (a === '--rounds') o.rounds = Math.floor(num())
    else if (a === '--seconds') o.seconds = num()
    else if (a === '--concurrency') o.concurrency = Math.floor(num())
    else if (a === '--keep') o.keep = true
    else
      throw new Error(
        `unknown argument ${a}; usage: chaos [--rounds N] [--seconds S] [--concurrency C] [--keep]`,
      )
  }
  return o
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const summary = await runChaos(parseArgs(process.argv.slice(2)))
    const { violations, ...rest } = summary
    console.log(`summary: ${JSON.stringify(rest)}`)
    if (violations.length > 0) {
      console.error(`${violations.length} violation(s):`)
      for (const v of violations.slice(0, 50)) console.error(`  - ${v}`)
      process.exitCode = 1
    } else console.log('no violations')
  } catch (err) {
    console.error('chaos:', err instanceof Error ? err.message : err)
    process.exitCode = 2
  }
}
