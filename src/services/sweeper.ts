import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config.ts'
import type { Db } from '../db/db.ts'
import type { Metrics } from '../metrics.ts'
import * as orders from '../repositories/orders.ts'
import { deleteExpiredSessions } from '../repositories/sessions.ts'

export interface SweepCounts {
  expired: number
  received: number
  sessions: number
}

export interface SweeperOptions {
  /** Where run outcomes and swept items are counted. */
  metrics?: Pick<Metrics, 'sweepRuns' | 'sweepItems'>
  /** Orders (or sessions) per transaction; default 200. */
  batchSize?: number
  /** A run repeats full batches up to this many times per kind; default 50. */
  maxBatches?: number
}

/**
 * The background sweep: cancels unpaid orders past their deadline (reason `timeout`, stock
 * released), receives shipped orders after the auto-receive period (escrow released to the seller),
 * and deletes expired sessions. Each batch is one transaction that claims its orders with
 * FOR UPDATE SKIP LOCKED and then applies the same guarded updates as the HTTP routes, so any number
 * of processes can sweep the same database without handling an order twice.
 */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<unknown> | undefined
  private stopped = true
  /** Set by stop(): a run in progress finishes its current batch and ends. */
  private closing = false

  constructor(
    private readonly db: Db,
    private readonly config: Pick<Config, 'orderAutoReceiveS' | 'sweepIntervalS'>,
    private readonly log?: FastifyBaseLogger,
    private readonly opts: SweeperOptions = {},
  ) {}

  private get batchSize() {
    return this.opts.batchSize ?? 200
  }

  /** Runs a sweep every sweepIntervalS seconds (the first one right away) until stop(). */
  start(): void {
    if (!this.stopped) return
    this.stopped = false
    this.closing = false
    this.schedule(0)
  }

  /** Stops the timer and waits for a sweep in progress to finish. */
  async stop(): Promise<void> {
    this.stopped = true
    this.closing = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    await this.running
  }

  private schedule(delayMs: number) {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.running = this.runOnce()
        .catch((err) => this.log?.error({ err }, 'order sweep failed; retrying at the next interval'))
        .finally(() => {
          this.running = undefined
          this.schedule(this.config.sweepIntervalS * 1000)
        })
    }, delayMs)
    this.timer.unref()
  }

  /** One sweep of everything that is due. */
  async runOnce(): Promise<SweepCounts> {
    const counts = { expired: 0, received: 0, sessions: 0 }
    counts.expired = await this.counted('expire', () => this.repeat(() => this.expireBatch()))
    counts.received = await this.counted('auto_receive', () => this.repeat(() => this.autoReceiveBatch()))
    counts.sessions = await this.counted('sessions', () =>
      this.repeat(() => deleteExpiredSessions(this.db, this.batchSize)),
    )
    if (counts.expired + counts.received > 0) this.log?.info(counts, 'order sweep')
    return counts
  }

  /** Runs one task of a sweep, counting its outcome and the items it handled. */
  private async counted(task: string, run: () => Promise<number>): Promise<number> {
    const m = this.opts.metrics
    try {
      const n = await run()
      m?.sweepRuns.inc({ task, outcome: 'ok' })
      m?.sweepItems.inc({ task }, n)
      return n
    } catch (err) {
      m?.sweepRuns.inc({ task, outcome: 'error' })
      throw err
    }
  }

  private async repeat(batch: () => Promise<number>): Promise<number> {
    let total = 0
    for (let i = 0; i < (this.opts.maxBatches ?? 50) && !this.closing; i++) {
      const n = await batch()
      total += n
      if (n < this.batchSize) break
    }
    return total
  }

  /** Unpaid orders past their deadline → cancelled (timeout), stock back on the shelf. */
  async expireBatch(): Promise<number> {
    return this.db.transaction(async (tx) => {
      const due = await orders.claimDueOrders(tx, { kind: 'expired' }, this.batchSize)
      if (due.length === 0) return 0
      const cancelled = await orders.cancelOrders(tx, due, { by: 'timeout' })
      await orders.releaseStock(
        tx,
        cancelled.map((o) => o.order_id),
      )
      return cancelled.length
    })
  }

  /** Shipped orders older than the auto-receive period → received, escrow to the seller. */
  async autoReceiveBatch(): Promise<number> {
    const afterS = this.config.orderAutoReceiveS
    return this.db.transaction(async (tx) => {
      const due = await orders.claimDueOrders(tx, { kind: 'auto_receive', afterS }, this.batchSize)
      if (due.length === 0) return 0
      await orders.lockUsersOf(tx, due, 'seller')
      return (await orders.receiveOrders(tx, due, { by: 'auto', afterS })).length
    })
  }
}
