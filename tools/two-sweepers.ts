/**
 * Two real server processes on one PostgreSQL, both sweeping with short timers
 * (`npm run bookstore -- two-sweepers`, DATABASE_URL set). Places orders through both, pays and ships
 * some, lets every unpaid order expire and every shipped order be received automatically, then checks
 * that each was handled exactly once: no double cancel (stock released once), no double release (one
 * ledger row per order), money conserved. Uses a scratch schema that it drops at the end.
 */
import { randomBytes } from 'node:crypto'
import { openPostgres } from '../src/db/postgres.ts'
import { brokenInvariants, MONEY_INVARIANTS, stockAndHeld } from './shared/invariants.ts'
import { type ServerProcess, startServer } from './shared/server-process.ts'

const ORDERS = 200
const SHIPPED = 40
const STOCK = 10_000

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Runs the check and prints each finding; answers whether every check held. */
export async function twoSweepers(url: string, env: Record<string, string | undefined>): Promise<boolean> {
  const schema = `sweepers_${randomBytes(4).toString('hex')}`
  const scoped = new URL(url)
  scoped.searchParams.set('options', `-c search_path=${schema}`)
  const admin = await openPostgres(url, { max: 1 })
  await admin.exec(`CREATE SCHEMA ${schema}`)
  const servers: ServerProcess[] = []
  const swept: { expired: number; received: number }[] = []
  let failed = false

  const check = (ok: boolean, what: string) => {
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`)
    if (!ok) failed = true
  }

  const call = async (server: ServerProcess, path: string, body: unknown, token?: string) => {
    const res = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { token } : {}) },
      body: JSON.stringify(body),
    })
    const json = (await res.json()) as Record<string, unknown>
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`)
    return json
  }

  /** Adds up what a process's sweeps did, from its JSON log lines. */
  const countSweeps = (mine: { expired: number; received: number }) => (line: string) => {
    try {
      const entry = JSON.parse(line) as { msg?: string; expired?: number; received?: number }
      if (entry.msg !== 'order sweep') return
      mine.expired += entry.expired ?? 0
      mine.received += entry.received ?? 0
    } catch {
      // not a log line
    }
  }

  try {
    for (let i = 0; i < 2; i++) {
      const mine = { expired: 0, received: 0 }
      swept.push(mine)
      const sweeping = {
        ...env,
        DATABASE_URL: scoped.toString(),
        ORDER_PAYMENT_TIMEOUT_S: '2',
        ORDER_AUTO_RECEIVE_S: '1',
        SWEEP_INTERVAL_S: '0.05',
        LOG_LEVEL: 'info',
      }
      // One after the other: the first migrates the fresh schema.
      servers.push(await startServer({ env: sweeping, onLine: countSweeps(mine) }))
    }
    const [p1, p2] = servers as [ServerProcess, ServerProcess]
    console.log(`two servers up at ${p1.url} and ${p2.url}, schema ${schema}`)

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
          stock_level: STOCK,
        },
        sellerToken,
      )
    await call(p1, '/buyer/add_funds', { user_id: 'buyer', password: 'pw', add_value: 10_000_000 })

    let shipped = 0
    for (let i = 0; i < ORDERS; i++) {
      const server = i % 2 ? p2 : p1
      const books = [{ id: ['a', 'b', 'c'][i % 3], count: 1 + (i % 3) }]
      const o = await call(
        server,
        '/buyer/new_order',
        { user_id: 'buyer', store_id: 'store', books },
        buyerToken,
      )
      if (i % 5 === 0 && shipped < SHIPPED) {
        await call(server === p1 ? p2 : p1, '/buyer/payment', {
          user_id: 'buyer',
          password: 'pw',
          order_id: o.order_id,
        })
        await call(server, '/seller/send_books', { user_id: 'seller', order_id: o.order_id }, sellerToken)
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

      const sales = await db.query<{ book_id: string; sales: number }>(
        'SELECT book_id, sales::int AS sales FROM listing_sales ORDER BY store_id, book_id',
      )
      const stock = await stockAndHeld(db)
      check(
        stock.every((r, i) => r.stock_level + r.held === STOCK && sales.rows[i]?.sales === r.held),
        `stock released exactly once: ${JSON.stringify(stock)}`,
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
      const broken = await brokenInvariants(db, MONEY_INVARIANTS)
      check(broken.length === 0, `money conserved; balances equal their ledgers ${broken.join(', ')}`)
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
    await Promise.all(servers.map((server) => server.stop()))
    await admin.exec(`DROP SCHEMA ${schema} CASCADE`)
    await admin.close()
  }
  console.log(failed ? 'FAILED' : 'all checks passed')
  return !failed
}
