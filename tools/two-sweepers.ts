/**
 * Two real server processes on one PostgreSQL, both sweeping with short timers. Places orders
 * through both, pays and ships some, lets every unpaid order expire and every shipped order be
 * received automatically, then checks that each was handled exactly once: no double cancel (stock
 * released once), no double release (one ledger row per order), money conserved.
 *
 *   DATABASE_URL=postgres://… node --import tsx scripts/two-sweepers.ts
 *
 * Uses a scratch schema that it drops at the end. Exit code 0 when every check holds.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { openPostgres } from '../src/db/postgres.ts'

const url = process.env.DATABASE_URL
if (!url) {
  console.error('set DATABASE_URL to a PostgreSQL server')
  process.exit(2)
}
const ORDERS = 200
const SHIPPED = 40
const PORTS = [5181, 5182]
const schema = `sweepers_${randomBytes(4).toString('hex')}`
const scoped = new URL(url)
scoped.searchParams.set('options', `-c search_path=${schema}`)

const admin = await openPostgres(url, { max: 1 })
await admin.exec(`CREATE SCHEMA ${schema}`)
const children: ChildProcess[] = []
const swept: { expired: number; received: number }[] = []
let failed = false

function check(ok: boolean, what: string) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`)
  if (!ok) failed = true
}

async function call(port: number, path: string, body: unknown, token?: string) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { token } : {}) },
    body: JSON.stringify(body),
  })
  const json = (await res.json()) as Record<string, unknown>
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`)
  return json
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

try {
  const server = fileURLToPath(new URL('../src/server.ts', import.meta.url))
  for (const port of PORTS) {
    const child = spawn(process.execPath, ['--import', 'tsx', server], {
      env: {
        ...process.env,
        DATABASE_URL: scoped.toString(),
        PORT: String(port),
        ORDER_PAYMENT_TIMEOUT_S: '2',
        ORDER_AUTO_RECEIVE_S: '1',
        SWEEP_INTERVAL_S: '0.05',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    children.push(child)
    // Each process logs what its sweeps did: add it up per process.
    const mine = { expired: 0, received: 0 }
    swept.push(mine)
    let rest = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n')
      rest = lines.pop() ?? ''
      for (const line of lines) {
        try {
          const entry = JSON.parse(line) as { msg?: string; expired?: number; received?: number }
          if (entry.msg !== 'order sweep') continue
          mine.expired += entry.expired ?? 0
          mine.received += entry.received ?? 0
        } catch {
          // not a log line
        }
      }
    })
  }
  for (const port of PORTS)
    for (let i = 0; ; i++) {
      const ok = await fetch(`http://127.0.0.1:${port}/ready`).then(
        (r) => r.ok,
        () => false,
      )
      if (ok) break
      if (i > 300) throw new Error(`server on port ${port} did not start`)
      await sleep(100)
    }
  console.log(`two servers up on ports ${PORTS.join(' and ')}, schema ${schema}`)

  const [p1, p2] = PORTS as [number, number]
  const user = async (id: string) => {
    await call(p1, '/auth/register', { user_id: id, password: 'pw' })
    return (await call(p2, '/auth/login', { user_id: id, password: 'pw', terminal: 't' })).token as string
  }
  const sellerToken = await user('seller')
  const buyerToken = await user('buyer')
  await call(p1, '/seller/create_store', { user_id: 'seller', store_id: 'store' }, sellerToken)
  for (const book of ['a', 'b', 'c'])
    await call(
      p2,
      '/seller/add_book',
      {
        user_id: 'seller',
        store_id: 'store',
        book_info: { id: book, title: book, price: 100 },
        stock_level: 10_000,
      },
      sellerToken,
    )
  await call(p1, '/buyer/add_funds', { user_id: 'buyer', password: 'pw', add_value: 10_000_000 })

  let shipped = 0
  for (let i = 0; i < ORDERS; i++) {
    const port = PORTS[i % 2] as number
    const books = [{ id: ['a', 'b', 'c'][i % 3], count: 1 + (i % 3) }]
    const o = await call(port, '/buyer/new_order', { user_id: 'buyer', store_id: 'store', books }, buyerToken)
    if (i % 5 === 0 && shipped < SHIPPED) {
      await call(port === p1 ? p2 : p1, '/buyer/payment', {
        user_id: 'buyer',
        password: 'pw',
        order_id: o.order_id,
      })
      await call(port, '/seller/send_books', { user_id: 'seller', order_id: o.order_id }, sellerToken)
      shipped += 1
    }
  }
  console.log(`placed ${ORDERS} orders, ${shipped} paid and shipped; waiting for both sweepers …`)

  const db = await openPostgres(url, { schema, max: 2 })
  try {
    for (let i = 0; ; i++) {
      const open = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM orders WHERE status IN ('unpaid', 'shipped')`,
      )
      if (open.rows[0]?.n === 0) break
      if (i > 600) throw new Error('orders were not swept')
      await sleep(100)
    }
    const states = await db.query<{ status: string; reason: string | null; n: number }>(
      'SELECT status, cancel_reason AS reason, count(*)::int AS n FROM orders GROUP BY 1, 2 ORDER BY 1',
    )
    console.log('orders by state:', JSON.stringify(states.rows))
    const cancelled = states.rows.find((r) => r.status === 'cancelled')
    const received = states.rows.find((r) => r.status === 'received')
    check(
      cancelled?.reason === 'timeout' && cancelled.n === ORDERS - shipped,
      'every unpaid order expired (timeout)',
    )
    check(received?.n === shipped, 'every shipped order was received automatically')

    const stock = await db.query<{ book_id: string; stock_level: number; sales: number; held: number }>(
      `SELECT l.book_id, l.stock_level, l.sales::int AS sales,
              (SELECT coalesce(sum(i.count), 0) FROM order_items i JOIN orders o USING (order_id)
                WHERE i.book_id = l.book_id AND o.status <> 'cancelled')::int AS held
         FROM listings l ORDER BY 1`,
    )
    check(
      stock.rows.every((r) => r.stock_level + r.held === 10_000 && r.sales === r.held),
      `stock released exactly once: ${JSON.stringify(stock.rows)}`,
    )
    const ledger = await db.query<{ n: number; orders: number; amount: number; expected: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT order_id)::int AS orders, coalesce(sum(amount), 0)::int AS amount,
              (SELECT sum(total_price)::int FROM orders WHERE status = 'received') AS expected
         FROM ledger WHERE kind = 'release'`,
    )
    const l = ledger.rows[0]
    check(
      l?.n === shipped && l.orders === shipped && l.amount === l.expected,
      `escrow released once per order: ${JSON.stringify(l)}`,
    )
    const money = await db.query<{ ok: boolean }>(
      `SELECT (SELECT sum(balance) FROM users)
            + (SELECT coalesce(sum(total_price), 0) FROM orders WHERE status IN ('paid', 'shipped'))
            = (SELECT sum(amount) FROM ledger WHERE kind IN ('deposit', 'withdrawal'))
          AND NOT EXISTS (SELECT 1 FROM users u
                           WHERE u.balance <> (SELECT coalesce(sum(amount), 0) FROM ledger WHERE user_id = u.user_id)) AS ok`,
    )
    check(money.rows[0]?.ok === true, 'money conserved; balances equal their ledgers')
    await sleep(200)
    console.log('what each process swept:', JSON.stringify(swept))
    check(
      swept.reduce((n, x) => n + x.expired, 0) === ORDERS - shipped &&
        swept.reduce((n, x) => n + x.received, 0) === shipped,
      'the processes’ own counts add up to the totals (nothing handled twice)',
    )
  } finally {
    await db.close()
  }
} catch (err) {
  console.error(err)
  failed = true
} finally {
  for (const c of children) c.kill('SIGTERM')
  await Promise.all(
    children.map((c) => new Promise((r) => (c.exitCode === null ? c.once('exit', r) : r(null)))),
  )
  await admin.exec(`DROP SCHEMA ${schema} CASCADE`)
  await admin.close()
}
console.log(failed ? 'FAILED' : 'all checks passed')
process.exit(failed ? 1 : 0)
