/**
 * Gathers calls that arrive while the database is busy into batches. A call is sent at once when
 * fewer than `lanes` batches are in flight (a lone request never waits for company, and no timer
 * holds anything back); otherwise it waits in the queue, and the next lane to come free takes the
 * whole queue (up to `maxBatch` calls) in one round trip. `run` answers a batch with one result per
 * call, in order, each as if the calls had run one after another.
 *
 * When a batch fails as a whole (the database already ran it again on a deadlock or a serialization
 * failure, see `retrying` in src/db/postgres.ts), nothing of it was written: a batch is one
 * statement. Each of its calls is then run alone, so that a call that cannot succeed fails by
 * itself and never takes the others with it.
 */
export interface BatcherOptions {
  /** Batches in flight at once (at most the connections the database has for them). */
  lanes: number
  /** The most calls one batch takes. */
  maxBatch: number
  /** Told the size of every batch sent (metrics, tests). */
  onBatch?: (size: number) => void
}

interface Waiting<In, Out> {
  input: In
  resolve: (out: Out) => void
  reject: (err: unknown) => void
}

export class Batcher<In, Out> {
  private readonly queue: Waiting<In, Out>[] = []
  private inFlight = 0

  constructor(
    private readonly run: (batch: readonly In[]) => Promise<Out[]>,
    private readonly opts: BatcherOptions,
  ) {}

  submit(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ input, resolve, reject })
      if (this.inFlight < this.opts.lanes) void this.next()
    })
  }

  /** Sends the queue's head as one batch, then, while calls wait, the next. */
  private async next(): Promise<void> {
    this.inFlight++
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.opts.maxBatch)
        this.opts.onBatch?.(batch.length)
        await this.send(batch)
      }
    } finally {
      this.inFlight--
    }
  }

  private async send(batch: Waiting<In, Out>[]): Promise<void> {
    let outs: Out[]
    try {
      outs = await this.run(batch.map((w) => w.input))
    } catch (err) {
      if (batch.length === 1) {
        batch[0]?.reject(err)
        return
      }
      // Nothing of the batch was written: each call on its own, so that only a failing one fails.
      await Promise.all(batch.map((w) => this.send([w])))
      return
    }
    batch.forEach((w, i) => {
      w.resolve(outs[i] as Out)
    })
  }
}
