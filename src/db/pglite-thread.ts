/**
 * The database thread (see pglite-worker.ts): opens PGlite here and answers the main thread's
 * requests. Transactions stay open across messages: `begin` starts one and parks it until `end`.
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { Holder } from './data-dir-lock.ts'
import type { Queryable, Tx } from './db.ts'
import { openPglite } from './pglite.ts'
import type { Request, Response, WireError } from './pglite-worker.ts'

const port = parentPort
if (!port) throw new Error('pglite-thread.ts runs as a worker thread')

const { dataDir, holder } = workerData as { dataDir?: string; holder: Holder }
const open = openPglite(dataDir, { holder })
/** Open transactions: the Tx, how to end it, and its outcome once it has ended (COMMIT's error). */
const transactions = new Map<number, { tx: Tx; end: (commit: boolean) => void; outcome: Promise<void> }>()

const ROLLBACK = Symbol('rollback')

function toWire(err: unknown): WireError {
  if (!(err instanceof Error)) return { message: String(err) }
  const wire: WireError = { message: err.message, name: err.name }
  for (const [k, v] of Object.entries(err)) {
    if (['string', 'number', 'boolean'].includes(typeof v))
      (wire as unknown as Record<string, unknown>)[k] = v
  }
  return wire
}

/** The database, or the open transaction a request belongs to. */
async function target(tx: number | undefined): Promise<Queryable> {
  if (tx === undefined) return open
  const t = transactions.get(tx)
  if (!t) throw new Error('the transaction has ended')
  return t.tx
}

async function handle(m: Request): Promise<Omit<Response, 'id'>> {
  const db = await open
  switch (m.op) {
    case 'open':
      return {}
    case 'query': {
      const r = await (await target(m.tx)).query(
        m.text,
        m.params,
        m.name === undefined ? undefined : { name: m.name },
      )
      return { rows: r.rows, rowCount: r.rowCount }
    }
    case 'exec':
      await (await target(m.tx)).exec(m.text)
      return {}
    case 'begin':
      // Resolves once BEGIN has run and the transaction waits for its `end`; rejects if BEGIN fails.
      await new Promise<void>((begun, failed) => {
        const outcome: Promise<void> = db
          .transaction(
            (tx) =>
              new Promise<void>((commit, rollback) => {
                const end = (ok: boolean) => (ok ? commit() : rollback(ROLLBACK))
                transactions.set(m.tx, { tx, end, outcome })
                begun()
              }),
          )
          .catch((err) => {
            if (err !== ROLLBACK) throw err
          })
        outcome.catch(failed)
      })
      return {}
    case 'end': {
      const t = transactions.get(m.tx)
      if (!t) throw new Error('the transaction has ended')
      transactions.delete(m.tx)
      t.end(m.commit)
      await t.outcome
      return {}
    }
    case 'close':
      await db.close()
      return {}
  }
}

port.on('message', (m: Request) => {
  handle(m).then(
    (r) => port.postMessage({ id: m.id, ...r } satisfies Response),
    (err: unknown) => port.postMessage({ id: m.id, error: toWire(err) } satisfies Response),
  )
})
