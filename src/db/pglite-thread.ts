/**
 * The database thread (see pglite-worker.ts): opens PGlite here and answers the main thread's
 * requests. Transactions stay open across messages: `begin` starts one and parks it until `end`.
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { Holder } from './data-dir-lock.ts'
import type { Queryable, TransactionOptions, Tx } from './db.ts'
import { openPglite } from './pglite.ts'
import type { Request, Response, WireError } from './pglite-worker.ts'

const port = parentPort
if (!port) throw new Error('pglite-thread.ts runs as a worker thread')

const { dataDir, holder } = workerData as { dataDir?: string; holder: Holder }
const open = openPglite(dataDir, { holder })
/**
 * Open transactions, registered as their `begin` arrives: the main thread sends a transaction's first
 * statement without waiting for BEGIN (one hop less a transaction), so a statement waits for `ready`.
 * `ready` rejects when BEGIN failed; `outcome` is how the transaction ended (COMMIT's error).
 */
const transactions = new Map<
  number,
  { ready: Promise<Tx>; end: (commit: boolean) => void; outcome: Promise<void> }
>()

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
  return t.ready
}

/**
 * Starts the transaction of a `begin`: BEGIN runs, then the transaction waits for its `end`. Called as
 * the message arrives, before anything awaits, so that the statements behind it find it.
 */
function begin(id: number, opts: TransactionOptions | undefined): void {
  let end: (commit: boolean) => void = () => {}
  let begun: (tx: Tx) => void = () => {}
  let failed: (err: unknown) => void = () => {}
  // Ready once BEGIN has run; if BEGIN fails, with its error, which the transaction's statements get.
  const ready = new Promise<Tx>((resolve, reject) => {
    begun = resolve
    failed = reject
  })
  ready.catch(() => {})
  const outcome: Promise<void> = open
    .then((db) =>
      db.transaction(
        (tx) =>
          new Promise<void>((commit, rollback) => {
            end = (ok: boolean) => (ok ? commit() : rollback(ROLLBACK))
            begun(tx)
          }),
        opts,
      ),
    )
    .catch((err) => {
      if (err === ROLLBACK) return
      failed(err) // no-op once BEGIN has run: the error is COMMIT's, for `end`
      throw err
    })
  // COMMIT's error is answered by `end`, and BEGIN's by the statements: neither is left unhandled here.
  outcome.catch(() => {})
  transactions.set(id, { ready, end: (ok) => end(ok), outcome })
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
      // Registered as the message arrived (begin); answered once BEGIN has run, or with its error.
      await transactions.get(m.tx)?.ready
      return {}
    case 'end': {
      const t = transactions.get(m.tx)
      if (!t) throw new Error('the transaction has ended')
      transactions.delete(m.tx)
      // After a failed BEGIN there is nothing to end: the statements had its error already.
      const begun = await t.ready.then(
        () => true,
        () => false,
      )
      if (!begun) return {}
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
  if (m.op === 'begin') begin(m.tx, m.opts)
  handle(m).then(
    (r) => port.postMessage({ id: m.id, ...r } satisfies Response),
    (err: unknown) => port.postMessage({ id: m.id, error: toWire(err) } satisfies Response),
  )
})
