/**
 * PGlite on its own thread. PGlite runs PostgreSQL in WebAssembly on the thread that opened it, so
 * in the server's thread every statement stops HTTP parsing, validation and JSON work for as long
 * as it runs, and the two take turns on one core. Here PGlite lives in a worker thread and the
 * server's thread sends it each statement as a message (a few tens of microseconds), so request
 * handling and SQL run at the same time on two cores. The database is still one connection:
 * statements and transactions run one after another, exactly as in-thread (pglite.ts).
 *
 * The server, the CLI and the benchmark open the data directory this way; tests use the in-thread
 * adapter on in-memory databases and check this one against the same expectations.
 */
import { Worker } from 'node:worker_threads'
import { thisProcess } from './data-dir-lock.ts'
import type { Db, QueryResult, TransactionOptions, Tx } from './db.ts'

/** A message to the database thread. */
export type Request = { id: number } & (
  | { op: 'open' }
  | { op: 'query'; tx?: number; text: string; params?: readonly unknown[]; name?: string }
  | { op: 'exec'; tx?: number; text: string }
  | { op: 'begin'; tx: number; opts?: TransactionOptions }
  | { op: 'end'; tx: number; commit: boolean }
  | { op: 'close' }
)

/** A request before it is numbered (Omit applied to each member of the union). */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never

/** An error as it crosses threads: its message and the PostgreSQL fields (code, detail, …). */
export interface WireError {
  message: string
  name?: string
  code?: string
}

export interface Response {
  id: number
  rows?: unknown[]
  rowCount?: number
  error?: WireError
}

function fromWire(w: WireError): Error {
  const err = new Error(w.message)
  Object.assign(err, w)
  return err
}

/** Runs the worker's TypeScript through tsx, as bin/bookstore.js does for the main thread. */
const BOOTSTRAP = `
import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then(({ register }) => {
    register()
    return import(${JSON.stringify(new URL('./pglite-thread.ts', import.meta.url).href)})
  })
`

export async function openPgliteThread(dataDir?: string): Promise<Db> {
  // the lock answers for this process as its main thread sees it (a worker's argv is not the command)
  const worker = new Worker(BOOTSTRAP, { eval: true, workerData: { dataDir, holder: thisProcess() } })
  const pending = new Map<number, { resolve: (r: Response) => void; reject: (e: Error) => void }>()
  let nextId = 1
  let nextTx = 1
  let stopped: Error | undefined

  const stop = (err: Error) => {
    stopped ??= err
    for (const p of pending.values()) p.reject(err)
    pending.clear()
  }
  worker.on('message', (r: Response) => {
    const p = pending.get(r.id)
    pending.delete(r.id)
    if (!p) return
    if (r.error) p.reject(fromWire(r.error))
    else p.resolve(r)
  })
  worker.on('error', (err) => stop(err))
  worker.on('exit', (code) => stop(new Error(`the database thread stopped (exit code ${code})`)))

  const send = (m: WithoutId<Request>) =>
    new Promise<Response>((resolve, reject) => {
      if (stopped) return reject(stopped)
      const id = nextId++
      pending.set(id, { resolve, reject })
      worker.postMessage({ ...m, id })
    })

  const queryable = (tx?: number) => ({
    async query<T>(
      text: string,
      params?: readonly unknown[],
      opts?: { name?: string },
    ): Promise<QueryResult<T>> {
      const r = await send({
        op: 'query',
        text,
        ...(params ? { params } : {}),
        ...(opts?.name ? { name: opts.name } : {}),
        ...(tx === undefined ? {} : { tx }),
      })
      return { rows: (r.rows ?? []) as T[], rowCount: r.rowCount ?? 0 }
    },
    async exec(script: string) {
      await send({ op: 'exec', text: script, ...(tx === undefined ? {} : { tx }) })
    },
  })

  try {
    await send({ op: 'open' })
  } catch (err) {
    await worker.terminate()
    throw err
  }
  return {
    engine: 'pglite',
    ...queryable(),
    async transaction(fn, opts) {
      const id = nextTx++
      // Not awaited before the first statement: the thread runs a transaction's messages in order,
      // and a statement there waits for BEGIN (a failed BEGIN fails it with BEGIN's error).
      const begun = send({ op: 'begin', tx: id, ...(opts ? { opts } : {}) })
      begun.catch(() => {})
      let result: Awaited<ReturnType<typeof fn>>
      try {
        result = await fn({ inTransaction: true, ...queryable(id) } as Tx)
        await begun
      } catch (err) {
        await send({ op: 'end', tx: id, commit: false }).catch(() => {})
        throw err
      }
      const ended = send({ op: 'end', tx: id, commit: true })
      // A read-only transaction has nothing to make durable: its answer does not wait for COMMIT's
      // (one hop less). The thread still ends it before anything sent after it.
      if (opts?.readOnlySnapshot) ended.catch(() => {})
      else await ended
      return result
    },
    // one connection: busy while any request is out, the others wait behind it
    stats: () => ({ total: 1, idle: pending.size === 0 ? 1 : 0, waiting: Math.max(0, pending.size - 1) }),
    async close() {
      if (stopped) return
      await send({ op: 'close' })
      await worker.terminate()
    },
  }
}
