/**
 * The batcher on its own, with a stand-in for the database call: what it sends together, and what
 * happens to a batch that fails as a whole.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Batcher } from '../../src/services/order-batcher.ts'

/** A stand-in call that records each batch and answers when told to. */
function recorder(fail: (batch: readonly number[]) => boolean = () => false) {
  const batches: number[][] = []
  const pending: (() => void)[] = []
  const run = (batch: readonly number[]) => {
    batches.push([...batch])
    return new Promise<number[]>((resolve, reject) => {
      pending.push(() =>
        fail(batch) ? reject(new Error(`failed: ${batch.join(',')}`)) : resolve(batch.map((x) => x * 10)),
      )
    })
  }
  const answerAll = async () => {
    while (pending.length > 0) {
      pending.shift()?.()
      await new Promise((r) => setImmediate(r))
    }
  }
  return { batches, run, answerAll }
}

test('a lone call is sent at once; calls that arrive meanwhile go together, at most maxBatch at a time', async () => {
  const r = recorder()
  const sizes: number[] = []
  const b = new Batcher(r.run, { lanes: 1, maxBatch: 3, onBatch: (n) => sizes.push(n) })
  const first = b.submit(1)
  assert.deepEqual(r.batches, [[1]], 'sent before anything else happened')
  const rest = [2, 3, 4, 5, 6].map((x) => b.submit(x))
  assert.equal(r.batches.length, 1, 'the others wait while the first is in flight')
  await r.answerAll()
  assert.deepEqual(await Promise.all([first, ...rest]), [10, 20, 30, 40, 50, 60])
  assert.deepEqual(r.batches, [[1], [2, 3, 4], [5, 6]])
  assert.deepEqual(sizes, [1, 3, 2])
})

test('a batch that fails as a whole is sent again one call at a time: only the failing call fails', async () => {
  // The call fails whenever its batch holds 13.
  const r = recorder((batch) => batch.includes(13))
  const b = new Batcher(r.run, { lanes: 1, maxBatch: 32 })
  const first = b.submit(1)
  const others = [12, 13, 14].map((x) =>
    b.submit(x).then(
      (v) => ({ ok: v }),
      (err: Error) => ({ err: err.message }),
    ),
  )
  await r.answerAll()
  assert.equal(await first, 10)
  assert.deepEqual(await Promise.all(others), [{ ok: 120 }, { err: 'failed: 13' }, { ok: 140 }])
  assert.deepEqual(r.batches, [[1], [12, 13, 14], [12], [13], [14]])
})
