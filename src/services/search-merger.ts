import type { FastifyBaseLogger } from 'fastify'
import type { Queryable } from '../db/db.ts'
import { mergeAllQueued } from '../repositories/search/pending.ts'

export interface SearchMergerOptions {
  /** How long after a listing is queued its merge starts, so that listings added meanwhile join it. */
  delayMs?: number
  /** How often the queue is looked at without being told (what another process or a crash left). */
  intervalMs?: number
}

/**
 * Merges the listings queued for the search index (migration 019) into its bitmaps and term counts,
 * in the background: shortly after add_book says it queued one (queued()), a batch at a time until the
 * queue is empty, and every few seconds whatever other processes left. A search never waits for it:
 * queued listings are found from their own columns until merged (src/repositories/search/pending.ts).
 * Any number of processes can merge the same database; a merge skips the rows another one holds.
 */
export class SearchMerger {
  private timer: NodeJS.Timeout | undefined
  private interval: NodeJS.Timeout | undefined
  private running: Promise<unknown> | undefined
  /** A listing was queued while a merge ran: merge again after it. */
  private again = false
  private closed = false

  constructor(
    private readonly db: Queryable,
    private readonly log?: FastifyBaseLogger,
    private readonly opts: SearchMergerOptions = {},
  ) {}

  /** Merges what is queued now, then looks at the queue every intervalMs until stop(). */
  start(): void {
    this.closed = false
    this.queued()
    this.interval ??= setInterval(() => this.queued(), this.opts.intervalMs ?? 5000)
    this.interval.unref()
  }

  /** A listing was queued: merge soon. */
  queued(): void {
    if (this.closed) return
    if (this.running) {
      this.again = true
      return
    }
    if (this.timer) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.running = this.mergeAll()
        .catch((err) =>
          this.log?.error({ err }, 'search index merge failed; retrying at the next listing or interval'),
        )
        .finally(() => {
          this.running = undefined
          if (this.again) {
            this.again = false
            this.queued()
          }
        })
    }, this.opts.delayMs ?? 20)
    this.timer.unref()
  }

  /** Merges until the queue is empty; returns how many listings this call merged. */
  async drain(): Promise<number> {
    await this.running
    return this.mergeAll()
  }

  /** Stops the timers and waits for a merge in progress (what is still queued stays queued). */
  async stop(): Promise<void> {
    this.closed = true
    clearTimeout(this.timer)
    clearInterval(this.interval)
    this.timer = undefined
    this.interval = undefined
    await this.running
  }

  private mergeAll(): Promise<number> {
    return mergeAllQueued(this.db, () => this.closed)
  }
}
