/**
 * The database thread (see pglite-worker.ts): opens PGlite here and answers the main thread's
 * requests. Transactions stay open across messages: `begin` starts one and parks it until `end`.
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { Tx } from './db.ts'
import { openPglite } from './pglite.ts'
import type { Request, Response, WireError } from './pglite-worker.ts'

const port = parentPort
if (!port) throw new Error('pglite-thread.ts runs as a worker thread')

const open = openPglite((workerData as { dataDir?: string }).dataDir)
const transactions = new Map<number, { tx: Tx; end: (commit: boolean) => void }>()
/** ends that arrived for transactions: resolved with the transaction's outcome */
const outcomes = new Map<number, Promise<void>>()

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

async function handle(m: Request): Promise<Omit<Response, 'id'>> {
  const db = await open
  switch (m.op) {
    case 'open':
      return {}
    case 'query': {
      const q = m.tx === undefined ? db : transactions.get(m.tx)?.tx
      if (!q) throw new Error('the transaction has ended')
      const r = await q.query(m.text, m.params, m.name === undefined ? undefined : { name: m.name })
      return { rows: r.rows, rowCount: r.rowCount }
    }
    case 'exec': {
      const q = m.tx === undefined ? db : transactions.get(m.tx)?.tx
      if (!q) throw new Error('the transaction has ended')
      await q.exec(m.text)
      return {}
    }
    case 'begin': {
      const tx = m.tx
      const started = new Promise<void>((begun, failed) => {
        const outcome = db
          .transaction(
            (t) =>
              new Promise<void>((commit, rollback) => {
                transactions.set(tx, { tx: t, end: (ok) => (ok ? commit() : rollback(ROLLBACK)) })
                begun()
              }),
          )
          .catch((err) => {
            if (err !== ROLLBACK) throw err
          })
          .finally(() => transactions.delete(tx))
        outcomes.set(tx, outcome)
        outcome.catch((err) => {
          outcomes.delete(tx)
          failed(err)
        })
      })
      await started
      return {}
    }
    case 'end': {
      const t = transactions.get(m.tx)
      const outcome = outcomes.get(m.tx)
      outcomes.delete(m.tx)
      if (!t || !outcome) throw new Error('the transaction has ended')
      t.end(m.commit)
      await outcome
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
