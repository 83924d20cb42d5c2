/**
 * Reads on replicas (DATABASE_REPLICA_URLS). The first part runs on both engines with replicas
 * that cannot serve (nothing listening, or a server that is no standby). The second needs a real
 * streaming replica of DATABASE_URL's cluster: TEST_REPLICA_URL names it (same database and
 * credentials, another port), and `tools/ci/replica.sh` (run as root or postgres, as .ci/run does)
 * stops, starts, pauses and resumes it. Without TEST_REPLICA_URL that part is skipped.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.ts'
import { checkIntervalS, lsnBytes, ReplicaSet, replicaFailure, replicaName } from '../../src/db/replicas.ts'
import { NotFound } from '../../src/errors.ts'
import {
  addBook,
  bookInfo,
  call,
  DATABASE_URL,
  freshDb,
  newShop,
  newUser,
  post,
  TEST_CONFIG,
  type TestDb,
  uid,
} from '../support/helpers.ts'
import { WebClient } from '../support/web-client.ts'

const REPLICA_URL = process.env.TEST_REPLICA_URL || undefined
const REPLICA_SCRIPT = fileURLToPath(new URL('../../tools/ci/replica.sh', import.meta.url))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Reads that may lag, by the server that answered, from /metrics. */
async function readsBy(app: FastifyInstance, target: string): Promise<number> {
  const body = (await app.inject({ url: '/metrics' })).body
  const line = body.split('\n').find((l) => l.startsWith(`bookstore_db_reads_total{target="${target}"}`))
  return line ? Number(line.split(' ').pop()) : 0
}

interface ReadyReplica {
  name: string
  healthy: boolean
  lag_s: number | null
}
async function replicasOf(app: FastifyInstance): Promise<ReadyReplica[]> {
  const r = await call(app, 'GET', '/ready')
  assert.equal(r.status, 200)
  return r.body.replicas as ReadyReplica[]
}

/** Polls until `ok` holds (or fails after `ms`), returning the last value. */
async function until<T>(what: string, ms: number, get: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await get()
    if (ok(v)) return v
    if (Date.now() > end) assert.fail(`${what}: not within ${ms} ms (last: ${JSON.stringify(v)})`)
    await sleep(100)
  }
}

const searchFor = (app: FastifyInstance, q: string, headers: Record<string, string> = {}) =>
  call(app, 'GET', `/search/books?q=${encodeURIComponent(q)}`, undefined, headers)

test('replica names carry host, port and database, never credentials; LSNs compare as numbers', () => {
  assert.equal(replicaName('postgres://reader:s3cret@db-2.internal:6432/shop'), 'db-2.internal:6432/shop')
  assert.equal(replicaName('postgresql://u:p@10.0.0.7/shop'), '10.0.0.7:5432/shop')
  assert.equal(lsnBytes('0/0'), 0)
  assert.equal(lsnBytes('1/0'), 2 ** 32)
  assert.ok(lsnBytes('16/B374D848') > lsnBytes('16/B374D847'))
  assert.ok(lsnBytes('17/0') > lsnBytes('16/FFFFFFFF'))
  // Twice per lag bound, at most once a second.
  assert.equal(checkIntervalS(5), 1)
  assert.equal(checkIntervalS(1), 0.5)
})

test('which failures of a replica send the read to the primary', () => {
  const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code })
  assert.equal(replicaFailure(withCode('ECONNREFUSED')), 'unreachable')
  assert.equal(replicaFailure(withCode('ENOTFOUND')), 'unreachable')
  assert.equal(replicaFailure(withCode('57P01')), 'unreachable', 'shutting down')
  assert.equal(replicaFailure(withCode('08006')), 'unreachable')
  assert.equal(replicaFailure(withCode('53300')), 'unreachable', 'too many connections')
  assert.equal(replicaFailure(new Error('Connection terminated unexpectedly')), 'unreachable')
  assert.equal(replicaFailure(new Error('timeout exceeded when trying to connect')), 'unreachable')
  assert.equal(replicaFailure(withCode('40001')), 'conflict', 'cancelled by WAL replay')
  // The caller's own errors are thrown as they are, not retried and not blamed on the replica.
  assert.equal(replicaFailure(NotFound('store', 's')), undefined)
  assert.equal(replicaFailure(withCode('42P01')), undefined)
  assert.equal(replicaFailure(withCode('22P02')), undefined)
  assert.equal(replicaFailure(new TypeError('x is not a function')), undefined)
})

describe('a replica that cannot serve costs no request', () => {
  let t: TestDb
  let replicas: ReplicaSet
  let app: FastifyInstance
  const url = 'postgres://reader:s3cret@127.0.0.1:1/nowhere'
  before(async () => {
    t = await freshDb()
    replicas = await ReplicaSet.open(t.db, [url], { maxLagS: 1, poolSize: 2 })
    app = await buildApp({ config: TEST_CONFIG, db: t.db, replicas, logger: false })
    await app.ready()
  })
  after(async () => {
    await app.close()
    await replicas.close()
    await t.dispose()
  })

  test('reads go to the primary; /ready and /metrics say so, without the password', async () => {
    const shop = await newShop(app, 1)
    const before = await readsBy(app, 'primary')
    const listing = await call(app, 'GET', `/stores/${shop.storeId}/books/${shop.bookIds[0]}`)
    assert.equal(listing.status, 200)
    assert.equal((await searchFor(app, `Title of ${shop.bookIds[0]}`)).status, 200)
    assert.equal(await readsBy(app, 'primary'), before + 2)
    const ready = await call(app, 'GET', '/ready')
    assert.equal(ready.status, 200, 'a replica down does not make the server unready')
    assert.deepEqual(ready.body.replicas, [{ name: '127.0.0.1:1/nowhere', healthy: false, lag_s: null }])
    const metrics = (await app.inject({ url: '/metrics' })).body
    assert.match(metrics, /bookstore_replica_healthy\{replica="127.0.0.1:1\/nowhere"\} 0/)
    assert.doesNotMatch(metrics + JSON.stringify(ready.body), /s3cret|reader/)
  })

  test('after a write, a browser is given a short-lived cookie that sends its reads to the primary', async () => {
    const user = await newUser(app)
    const res = await app.inject({
      method: 'POST',
      url: '/buyer/add_funds',
      headers: { cookie: 'bookstore_lang=en' },
      payload: { user_id: user.userId, password: user.password, add_value: 100 },
    })
    assert.equal(res.statusCode, 200)
    const cookie = [res.headers['set-cookie']].flat().find((c) => c?.startsWith('bookstore_recent_write='))
    // REPLICA_MAX_LAG_S (1) plus one check interval (0.5), rounded up.
    assert.equal(cookie, 'bookstore_recent_write=1; Max-Age=2; Path=/; HttpOnly; SameSite=Lax')
    // A refused write, a read, or a client without cookies gets none.
    const refused = await app.inject({
      method: 'POST',
      url: '/buyer/add_funds',
      headers: { cookie: 'bookstore_lang=en' },
      payload: { user_id: user.userId, password: 'wrong', add_value: 100 },
    })
    assert.equal(refused.statusCode, 401)
    assert.equal(refused.headers['set-cookie'], undefined)
    const read = await app.inject({ url: '/search/books?q=x', headers: { cookie: 'bookstore_lang=en' } })
    assert.equal(read.headers['set-cookie'], undefined)
    const api = await post(app, '/buyer/add_funds', {
      user_id: user.userId,
      password: user.password,
      add_value: 1,
    })
    assert.equal(api.status, 200)
  })
})

describe('a server that is not a standby is never read as one', {
  skip: !DATABASE_URL && 'needs DATABASE_URL',
}, () => {
  test('the primary named as its own replica is unhealthy, and reads stay correct', async () => {
    const t = await freshDb()
    const replicas = await ReplicaSet.open(t.db, [DATABASE_URL as string], { maxLagS: 5, poolSize: 1 })
    try {
      assert.deepEqual(
        replicas.status().map((r) => [r.healthy, r.lag_s]),
        [[false, null]],
      )
    } finally {
      await replicas.close()
      await t.dispose()
    }
  })
})

describe('a real streaming replica', {
  skip: !(DATABASE_URL && REPLICA_URL) && 'needs DATABASE_URL and TEST_REPLICA_URL (a replica of it)',
}, () => {
  const MAX_LAG_S = 1
  const replicaPort = REPLICA_URL ? new URL(REPLICA_URL).port || '5432' : ''
  const ctl = (cmd: 'start' | 'stop' | 'pause' | 'resume') =>
    promisify(execFile)('bash', [REPLICA_SCRIPT, cmd], { env: { ...process.env, REPLICA_PORT: replicaPort } })
  const name = REPLICA_URL ? replicaName(REPLICA_URL) : ''
  let t: TestDb
  let replicas: ReplicaSet
  let app: FastifyInstance

  before(async () => {
    t = await freshDb()
    const schema = (await t.db.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]?.s as string
    const config = {
      ...TEST_CONFIG,
      databaseUrl: DATABASE_URL,
      replicaUrls: [REPLICA_URL as string],
      replicaMaxLagS: MAX_LAG_S,
    }
    replicas = await ReplicaSet.open(t.db, config.replicaUrls, { maxLagS: MAX_LAG_S, poolSize: 4, schema })
    app = await buildApp({ config, db: t.db, replicas, logger: false })
    await app.ready()
    // The fresh schema reaches the replica by replication, like any write.
    await until(
      'replica healthy',
      30_000,
      () => replicasOf(app),
      (r) => r[0]?.healthy === true,
    )
  })
  after(async () => {
    await ctl('resume').catch(() => {})
    await ctl('start').catch(() => {})
    await app?.close()
    await replicas?.close()
    await t?.dispose()
  })

  /** An app on the same database whose replica set tolerates `maxLagS` (a loaded machine lags). */
  async function appWithLag(maxLagS: number) {
    const schema = (await t.db.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]?.s as string
    const set = await ReplicaSet.open(t.db, [REPLICA_URL as string], { maxLagS, poolSize: 2, schema })
    const other = await buildApp({ config: TEST_CONFIG, db: t.db, replicas: set, logger: false })
    return {
      app: other,
      set,
      async close() {
        await other.close()
        await set.close()
      },
    }
  }

  test('a book added on the primary is found by search within REPLICA_MAX_LAG_S', async () => {
    const shop = await newShop(app, 1)
    // A visitor with no session and no recent write: the replica has it in time, or is skipped.
    await until(
      'new book found by search',
      (MAX_LAG_S + 2 * checkIntervalS(MAX_LAG_S)) * 1000 + 500,
      () => searchFor(app, `Title of ${shop.bookIds[0]}`),
      (r) => r.status === 200 && r.body.total === 1,
    )
    const ready = await replicasOf(app)
    assert.equal(ready[0]?.name, name)
    assert.match((await app.inject({ url: '/metrics' })).body, /bookstore_replica_lag_seconds\{replica="/)
  })

  test('search traffic lands on the replica', async () => {
    // A lag bound no replica on a busy test machine exceeds: every search must go to the replica.
    const other = await appWithLag(30)
    try {
      const shop = await newShop(other.app, 1)
      const title = `Title of ${shop.bookIds[0]}`
      const added = Date.now()
      await until(
        'the replica has the book',
        30_000,
        () => searchFor(other.app, title),
        (r) => r.body.total === 1,
      )
      console.log(`# found on the replica ${Date.now() - added} ms after add_book`)
      const onReplica = await readsBy(other.app, name)
      const onPrimary = await readsBy(other.app, 'primary')
      for (let i = 0; i < 10; i++) assert.equal((await searchFor(other.app, title)).body.total, 1)
      assert.equal(await readsBy(other.app, name), onReplica + 10)
      assert.equal(await readsBy(other.app, 'primary'), onPrimary)
      assert.equal((await replicasOf(other.app))[0]?.healthy, true)
    } finally {
      await other.close()
    }
  })

  test('read-your-writes: a paid order and a new book are seen at once by their author', async () => {
    // An app that tolerates 60 s of lag, and a replica with replay paused: it misses every write
    // below yet stays in use, so whatever the authors see must come from the primary.
    const other = await appWithLag(60)
    const { app, set: tolerant } = other
    try {
      const shop = await newShop(app, 1, 5)
      const buyer = await newUser(app, 'buyer')
      await post(app, '/buyer/add_funds', {
        user_id: buyer.userId,
        password: buyer.password,
        add_value: 1000,
      })
      const known = `Title of ${shop.bookIds[0]}`
      await until(
        'replica has the shop',
        10_000,
        () => searchFor(app, known),
        (r) => r.body.total === 1,
      )
      await ctl('pause')
      const order = await post(
        app,
        '/buyer/new_order',
        { user_id: buyer.userId, store_id: shop.storeId, books: [{ id: shop.bookIds[0], count: 2 }] },
        buyer.token,
      )
      assert.equal(order.status, 200)
      const orderId = order.body.order_id as string
      const pay = await post(app, '/buyer/payment', {
        user_id: buyer.userId,
        order_id: orderId,
        password: buyer.password,
      })
      assert.equal(pay.status, 200)
      const read = await call(app, 'GET', `/orders/${orderId}?user_id=${buyer.userId}`, undefined, {
        token: buyer.token,
      })
      assert.equal(read.status, 200)
      assert.equal(read.body.status, 'paid')
      const balance = await call(app, 'GET', `/buyer/balance?user_id=${buyer.userId}`, undefined, {
        token: buyer.token,
      })
      assert.equal(balance.body.balance, 1000 - 200)

      // The seller lists a book and reads it back at once: the listing (a miss on the replica is
      // asked of the primary), and search with the seller's token (its recent write).
      const bookId = uid('fresh')
      const q = `Title of ${bookId}`
      await addBook(app, shop.seller, shop.storeId, bookInfo(bookId, 700))
      const listing = await call(app, 'GET', `/stores/${shop.storeId}/books/${bookId}`)
      assert.equal(listing.status, 200)
      assert.equal((await searchFor(app, q, { token: shop.seller.token })).body.total, 1)
      // A browser that has just written carries the cookie and reads the primary too.
      assert.equal((await searchFor(app, q, { cookie: 'bookstore_recent_write=1' })).body.total, 1)
      // Anyone else reads the replica, which has not replayed the book (and may not: it lags < 60 s).
      assert.deepEqual(
        tolerant.status().map((r) => r.healthy),
        [true],
      )
      assert.equal((await searchFor(app, q)).body.total, 0)
    } finally {
      await ctl('resume')
      await other.close()
    }
  })

  test('read-your-writes in the web shop: a seller sees the book just added; other visitors may not yet', async () => {
    const other = await appWithLag(60)
    try {
      const seller = new WebClient(other.app, { 'accept-language': 'en' })
      await seller.signIn(uid('seller'), 'pw')
      await seller.get('/sell')
      const store = uid('shop')
      assert.equal((await seller.post('/sell/stores', { store_id: store })).status, 303)
      await until(
        'replica has the store',
        10_000,
        async () => (await replicasOf(other.app))[0]?.lag_s ?? 99,
        (lag) => lag < 1,
      )
      await ctl('pause')
      await seller.get(`/sell/store/${store}`)
      const bookId = uid('b')
      const title = `Title of ${bookId}`
      const added = await seller.postMultipart(`/sell/store/${store}/books`, {
        id: bookId,
        title,
        price: '12.50',
        stock_level: '3',
      })
      assert.equal(added.status, 303)
      assert.ok(seller.cookies.has('bookstore_recent_write'), 'the form post gave the browser the cookie')
      const page = await seller.get(`/book/${store}/${bookId}`)
      assert.equal(page.status, 200)
      assert.match(page.body, new RegExp(bookId))
      const search = await seller.get(`/search?q=${encodeURIComponent(title)}`)
      assert.match(search.body, new RegExp(`/book/${store}/${bookId}`), 'the seller finds it at once')
      // A visitor without the cookie searches the replica, which has not replayed the book.
      const visitor = new WebClient(other.app, { 'accept-language': 'en' })
      const theirs = await visitor.get(`/search?q=${encodeURIComponent(title)}`)
      assert.equal(theirs.status, 200)
      assert.doesNotMatch(theirs.body, new RegExp(`/book/${store}/${bookId}`))
    } finally {
      await ctl('resume')
      await other.close()
    }
  })

  test('a stopped replica costs no request, is skipped, and is used again when it is back', async () => {
    const shop = await newShop(app, 1)
    const title = `Title of ${shop.bookIds[0]}`
    await until(
      'replica has the book',
      10_000,
      () => searchFor(app, title),
      (r) => r.body.total === 1,
    )
    await ctl('stop')
    try {
      // Every search answers, the first ones by falling back at once, the rest on the primary.
      for (let i = 0; i < 20; i++) {
        const r = await searchFor(app, title)
        assert.equal(r.status, 200, JSON.stringify(r.body))
        assert.equal(r.body.total, 1)
      }
      assert.deepEqual(await replicasOf(app), [{ name, healthy: false, lag_s: null }])
    } finally {
      await ctl('start')
    }
    await until(
      'replica healthy again',
      30_000,
      () => replicasOf(app),
      (r) => r[0]?.healthy === true,
    )
    const onReplica = await readsBy(app, name)
    assert.equal((await searchFor(app, title)).body.total, 1)
    assert.equal(await readsBy(app, name), onReplica + 1)
  })

  test('a paused replay is skipped once it lags past REPLICA_MAX_LAG_S, and taken back when resumed', async () => {
    await until(
      'replica healthy',
      10_000,
      () => replicasOf(app),
      (r) => r[0]?.healthy === true,
    )
    await ctl('pause')
    let bookId = ''
    try {
      // A write the replica does not replay: it falls behind from now on.
      const shop = await newShop(app, 1)
      bookId = shop.bookIds[0] as string
      const lagging = await until(
        'replica skipped',
        (MAX_LAG_S + 2 * checkIntervalS(MAX_LAG_S)) * 1000 + 2000,
        () => replicasOf(app),
        (r) => r[0]?.healthy === false,
      )
      assert.ok((lagging[0]?.lag_s ?? 0) > MAX_LAG_S, JSON.stringify(lagging))
      // Reads go to the primary, which has the book.
      const onPrimary = await readsBy(app, 'primary')
      assert.equal((await searchFor(app, `Title of ${bookId}`)).body.total, 1)
      assert.equal(await readsBy(app, 'primary'), onPrimary + 1)
    } finally {
      await ctl('resume')
    }
    await until(
      'replica healthy again',
      10_000,
      () => replicasOf(app),
      (r) => r[0]?.healthy === true,
    )
    const onReplica = await readsBy(app, name)
    assert.equal((await searchFor(app, `Title of ${bookId}`)).body.total, 1)
    assert.equal(await readsBy(app, name), onReplica + 1)
  })
})
