/**
 * The course workload — sellers with stores of books, buyers placing orders of 1–10 distinct books
 * × 1–10 copies, each new_order followed by its payment — driven either through the course HTTP API
 * (any server that speaks it) or, with raw, in-process through the same services and statements the
 * server runs (token checked, password verified as the server verifies it), without HTTP: the ceiling
 * the HTTP numbers are compared with.
 */
import { DomainError } from '../../src/errors.ts'
import { AuthService } from '../../src/services/auth.ts'
import { BuyerService } from '../../src/services/buyer.ts'
import type { Deps } from '../../src/services/context.ts'
import { SellerService } from '../../src/services/seller.ts'
import { HttpClient, type Reply } from './http-client.ts'
import { Samples } from './stats.ts'

export interface Workload {
  sellers: number
  storesPerSeller: number
  booksPerStore: number
  buyers: number
  /** Books to list (id, title, price); generated when absent. */
  catalogue?: { id: string; title: string; price: number }[]
}

export interface RunOptions {
  concurrency: number
  durationS: number
  onTick?: (paid: number, elapsedS: number) => void
}

export interface Results {
  paid: number
  failed: number
  elapsedS: number
  newOrder: Samples
  payment: Samples
  /** new_order + payment, as one buyer sees it */
  both: Samples
  /** Why the run ended before its time (the server stopped answering), if it did. */
  stoppedBy?: string
}

/** The calls the workload makes; one implementation speaks HTTP, the other calls the database. */
export interface Target {
  register(userId: string, password: string): Promise<void>
  login(userId: string, password: string): Promise<string>
  addFunds(userId: string, password: string, value: number): Promise<void>
  createStore(userId: string, token: string, storeId: string): Promise<void>
  addBook(
    userId: string,
    token: string,
    storeId: string,
    book: { id: string; title: string; price: number },
    stock: number,
  ): Promise<void>
  newOrder(
    userId: string,
    token: string,
    storeId: string,
    books: { id: string; count: number }[],
  ): Promise<string | undefined>
  payment(userId: string, password: string, token: string, orderId: string): Promise<boolean>
  close(): Promise<void>
}

export function httpTarget(baseUrl: string): Target {
  const client = new HttpClient(baseUrl)
  const post = (path: string, json: unknown, token?: string) =>
    client.post(path, json, token ? { token } : {})
  // Only the answers the workload reads are parsed (not payment's, on the hot path).
  const fields = (r: Reply): Record<string, unknown> => {
    try {
      return JSON.parse(r.body.toString())
    } catch {
      return {}
    }
  }
  const must = async (path: string, body: unknown, token?: string) => {
    const r = await post(path, body, token)
    if (r.status !== 200) throw new Error(`${path} → ${r.status} ${r.body.toString()}`)
    return fields(r)
  }
  return {
    register: async (user_id, password) => void (await must('/auth/register', { user_id, password })),
    login: async (user_id, password) =>
      (await must('/auth/login', { user_id, password, terminal: 'bench' })).token as string,
    addFunds: async (user_id, password, add_value) =>
      void (await must('/buyer/add_funds', { user_id, password, add_value })),
    createStore: async (user_id, token, store_id) =>
      void (await must('/seller/create_store', { user_id, store_id }, token)),
    addBook: async (user_id, token, store_id, book, stock_level) =>
      void (await must('/seller/add_book', { user_id, store_id, book_info: book, stock_level }, token)),
    newOrder: async (user_id, token, store_id, books) => {
      const r = await post('/buyer/new_order', { user_id, store_id, books }, token)
      return r.status === 200 ? (fields(r).order_id as string) : undefined
    },
    payment: async (user_id, password, token, order_id) =>
      (await post('/buyer/payment', { user_id, password, order_id }, token)).status === 200,
    close: async () => client.close(),
  }
}

/** The same use cases in-process, through the services the routes call. */
export function rawTarget(deps: Deps): Target {
  const auth = new AuthService(deps)
  const buyer = new BuyerService(deps, auth)
  const seller = new SellerService(deps)
  return {
    register: (u, p) => auth.register(u, p),
    login: (u, p) => auth.login(u, p, 'bench'),
    addFunds: async (u, p, v) => void (await buyer.addFunds(u, p, v)),
    createStore: (u, _t, s) => seller.createStore(u, s),
    addBook: (u, _t, s, b, stock) => seller.addBook(u, s, b, stock),
    newOrder: (u, t, s, books) => buyer.newOrder(u, s, books, { token: t }),
    payment: async (u, p, _t, orderId) => {
      try {
        await buyer.payment(u, orderId, p)
        return true
      } catch (err) {
        if (err instanceof DomainError) return false
        throw err
      }
    },
    close: async () => {},
  }
}

interface Actor {
  userId: string
  password: string
  token: string
}

export interface Prepared {
  buyers: Actor[]
  stores: { storeId: string; bookIds: string[] }[]
}

function generatedCatalogue(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    id: `b${i}`,
    title: `Book ${i}`,
    price: 100 + ((i * 37) % 5000),
  }))
}

/** Registers the sellers, stores, books and buyers of the workload (unique ids per run). */
export async function prepare(
  target: Target,
  w: Workload,
  runId: string,
  onStep?: (what: string) => void,
): Promise<Prepared> {
  const catalogue = (w.catalogue ?? generatedCatalogue(w.booksPerStore)).slice(0, w.booksPerStore)
  const stores: Prepared['stores'] = []
  for (let s = 0; s < w.sellers; s++) {
    const seller = { userId: `bench_${runId}_seller${s}`, password: 'bench-password' }
    await target.register(seller.userId, seller.password)
    const token = await target.login(seller.userId, seller.password)
    for (let k = 0; k < w.storesPerSeller; k++) {
      const storeId = `bench_${runId}_store${s}_${k}`
      await target.createStore(seller.userId, token, storeId)
      for (const book of catalogue) await target.addBook(seller.userId, token, storeId, book, 100_000_000)
      stores.push({ storeId, bookIds: catalogue.map((b) => b.id) })
      onStep?.(`store ${stores.length}/${w.sellers * w.storesPerSeller} listed`)
    }
  }
  const buyers: Actor[] = []
  for (let b = 0; b < w.buyers; b++) {
    const userId = `bench_${runId}_buyer${b}`
    const password = 'bench-password'
    await target.register(userId, password)
    await target.addFunds(userId, password, 100_000_000_000_000)
    buyers.push({ userId, password, token: await target.login(userId, password) })
  }
  onStep?.(`${buyers.length} buyers ready`)
  return { buyers, stores }
}

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)] as T

/** Runs `concurrency` loops of new_order + payment for `durationS` seconds. */
export async function run(target: Target, p: Prepared, opts: RunOptions): Promise<Results> {
  const res: Results = {
    paid: 0,
    failed: 0,
    elapsedS: 0,
    newOrder: new Samples(),
    payment: new Samples(),
    both: new Samples(),
  }
  const start = performance.now()
  const end = start + opts.durationS * 1000
  const ticker = setInterval(() => opts.onTick?.(res.paid, (performance.now() - start) / 1000), 1000)
  // A call that throws (the server went away) ends the run for every buyer; what was measured stays.
  let stopped: Error | undefined
  const worker = async () => {
    try {
      await buy()
    } catch (err) {
      stopped ??= err instanceof Error ? err : new Error(String(err))
    }
  }
  const buy = async () => {
    while (!stopped && performance.now() < end) {
      const buyer = pick(p.buyers)
      const store = pick(p.stores)
      const n = 1 + Math.floor(Math.random() * Math.min(10, store.bookIds.length))
      const ids = new Set<string>()
      while (ids.size < n) ids.add(pick(store.bookIds))
      const books = [...ids].map((id) => ({ id, count: 1 + Math.floor(Math.random() * 10) }))
      const t0 = performance.now()
      const orderId = await target.newOrder(buyer.userId, buyer.token, store.storeId, books)
      const t1 = performance.now()
      res.newOrder.add(t1 - t0)
      if (!orderId) {
        res.failed++
        continue
      }
      const ok = await target.payment(buyer.userId, buyer.password, buyer.token, orderId)
      const t2 = performance.now()
      res.payment.add(t2 - t1)
      res.both.add(t2 - t0)
      if (ok) res.paid++
      else res.failed++
    }
  }
  try {
    await Promise.all(Array.from({ length: opts.concurrency }, worker))
  } finally {
    clearInterval(ticker)
  }
  res.elapsedS = (performance.now() - start) / 1000
  if (stopped) res.stoppedBy = stopped.message
  return res
}
