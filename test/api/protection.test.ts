import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { buildApp } from '../../src/app.ts'
import type { Db } from '../../src/db/db.ts'
import { WindowCounter } from '../../src/routes/protection.ts'
import {
  call,
  freshDb,
  newUser,
  post,
  startApp,
  TEST_CONFIG,
  type TestApp,
  type TestDb,
} from '../support/helpers.ts'

/** A log destination that keeps every line. */
function collectInto(lines: string[]): Writable {
  return new Writable({
    write(chunk, _enc, cb) {
      lines.push(chunk.toString())
      cb()
    },
  })
}

const login = (app: TestApp['app'], user_id: string, password: string, remoteAddress = '127.0.0.1') =>
  app
    .inject({
      method: 'POST',
      url: '/auth/login',
      remoteAddress,
      payload: { user_id, password, terminal: 't' },
    })
    .then((r) => ({ status: r.statusCode, headers: r.headers, body: r.json() as { message: string } }))

describe('WindowCounter', () => {
  test('counts per key within a window, then starts again', () => {
    let now = 0
    const c = new WindowCounter(1000, 2, () => now)
    assert.equal(c.add('a'), 1)
    assert.equal(c.add('a'), 2)
    assert.equal(c.count('a'), 2)
    assert.equal(c.retryAfterS('a'), 1)
    now = 1000
    assert.equal(c.count('a'), 0)
    assert.equal(c.add('a'), 1)
    c.add('b')
    c.add('c')
    assert.equal(c.count('a'), 0, 'the oldest key is dropped past maxKeys')
    assert.equal(c.count('c'), 1)
  })
})

describe('failed password attempts', () => {
  let t: TestApp
  before(async () => {
    t = await startApp({ rateLimitFailuresPerUser: 3, rateLimitFailuresPerIp: 5, rateLimitWindowS: 1 })
  })
  after(() => t.close())

  test('past the per-user limit even the right password gets 429 until the window ends', async () => {
    const u = await newUser(t.app)
    for (let i = 0; i < 3; i++) assert.equal((await login(t.app, u.userId, 'wrong', '10.0.0.1')).status, 401)
    const blocked = await login(t.app, u.userId, u.password, '10.0.0.2')
    assert.equal(blocked.status, 429)
    assert.match(blocked.body.message, /too many attempts/)
    assert.equal(blocked.headers['retry-after'], '1')
    // The same counter guards payment and add_funds for that user.
    const funds = await post(t.app, '/buyer/add_funds', {
      user_id: u.userId,
      password: u.password,
      add_value: 1,
    })
    assert.equal(funds.status, 429)
    // Others are not affected.
    const other = await newUser(t.app)
    assert.equal((await login(t.app, other.userId, other.password, '10.0.0.3')).status, 200)
    await new Promise((r) => setTimeout(r, 1100))
    assert.equal((await login(t.app, u.userId, u.password, '10.0.0.2')).status, 200)
  })

  test('past the per-address limit that address gets 429, whichever user it tries', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await login(t.app, `nobody${i}`, 'x', '10.9.9.9')).status, 401)
    const u = await newUser(t.app)
    assert.equal((await login(t.app, u.userId, u.password, '10.9.9.9')).status, 429)
    assert.equal((await login(t.app, u.userId, u.password, '10.9.9.8')).status, 200)
    for (let i = 0; i < 6; i++) assert.equal((await login(t.app, `local${i}`, 'x', '127.0.0.1')).status, 401)
    assert.equal((await login(t.app, u.userId, u.password, '127.0.0.1')).status, 200, 'loopback is exempt')
  })
})

describe('requests per address', () => {
  let t: TestApp
  before(async () => {
    t = await startApp({ rateLimitRequestsPerIp: 2, rateLimitWindowS: 60 })
  })
  after(() => t.close())

  test('only the password routes count, and past the limit they answer 429', async () => {
    const u = await newUser(t.app)
    const body = { user_id: u.userId, password: u.password, add_value: 1 }
    const addFunds = (remoteAddress: string) =>
      t.app
        .inject({ method: 'POST', url: '/buyer/add_funds', remoteAddress, payload: body })
        .then((r) => r.statusCode)
    assert.equal(await addFunds('10.1.1.1'), 200)
    assert.equal(await addFunds('10.1.1.1'), 200)
    assert.equal(await addFunds('10.1.1.1'), 429)
    assert.equal(await addFunds('127.0.0.1'), 200, 'loopback clients are exempt from per-address limits')
    const balance = await t.db.query<{ balance: number }>('SELECT balance FROM users WHERE user_id = $1', [
      u.userId,
    ])
    assert.equal(balance.rows[0]?.balance, 3, 'the refused request changed nothing')
    assert.equal((await call(t.app, 'GET', '/health')).status, 200)
  })
})

describe('response headers', () => {
  let t: TestApp
  before(async () => {
    t = await startApp()
  })
  after(() => t.close())

  test('every API answer carries the security headers and is not cached', async () => {
    for (const res of [
      await t.app.inject({ method: 'GET', url: '/health' }),
      await t.app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { user_id: 'x', password: 'y', terminal: 't' },
      }),
      await t.app.inject({ method: 'GET', url: '/no/such/route' }),
    ]) {
      assert.equal(res.headers['x-content-type-options'], 'nosniff')
      assert.equal(res.headers['x-frame-options'], 'DENY')
      assert.equal(res.headers['referrer-policy'], 'no-referrer')
      assert.equal(res.headers['cache-control'], 'no-store')
      assert.match(String(res.headers['content-security-policy']), /default-src 'none'/)
    }
  })
})

/** A database that has gone away: every query fails as a refused connection does. */
function unreachable(db: Db): Db {
  const refuse = async () => {
    throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })
  }
  return { ...db, query: refuse, exec: refuse, transaction: refuse }
}

describe('when the database is unreachable', () => {
  let t: TestDb
  const logs: string[] = []
  before(async () => {
    t = await freshDb()
  })
  after(() => t.dispose())

  test('/ready says 503, /health stays 200, routes answer a clean 503, and it recovers', async () => {
    let down = true
    const real = t.db
    const broken = unreachable(real)
    const flaky: Db = {
      ...real,
      query: (q, p) => (down ? broken : real).query(q, p),
      exec: (q) => (down ? broken : real).exec(q),
      transaction: (fn) => (down ? broken : real).transaction(fn),
    }
    const stream = collectInto(logs)
    const app = await buildApp({ config: TEST_CONFIG, db: flaky, logger: { stream } })
    try {
      assert.equal((await app.inject({ url: '/health' })).statusCode, 200)
      const ready = await app.inject({ url: '/ready' })
      assert.equal(ready.statusCode, 503)
      const reg = await app.inject({
        method: 'POST',
        url: '/auth/register',
        payload: { user_id: 'u', password: 'p' },
      })
      assert.equal(reg.statusCode, 503)
      assert.deepEqual(reg.json(), { message: 'database unavailable, try again shortly' })
      assert.equal(reg.headers['retry-after'], '5')
      down = false
      assert.equal((await app.inject({ url: '/ready' })).statusCode, 200)
      const again = await app.inject({
        method: 'POST',
        url: '/auth/register',
        payload: { user_id: 'u', password: 'p' },
      })
      assert.equal(again.statusCode, 200)
    } finally {
      await app.close()
    }
  })

  test('an unexpected error is a bare 500: no stack, no SQL, logged instead', async () => {
    const failing: Db = {
      ...t.db,
      query: async () => {
        throw new Error('syntax error at or near "SELECT secret_column FROM users"')
      },
    }
    logs.length = 0
    const stream = collectInto(logs)
    const app = await buildApp({
      config: { ...TEST_CONFIG, logLevel: 'info' },
      db: failing,
      logger: { stream },
    })
    try {
      const res = await app.inject({
        method: 'POST',
        url: '/auth/register',
        payload: { user_id: 'u2', password: 'p' },
      })
      assert.equal(res.statusCode, 500)
      assert.deepEqual(res.json(), { message: 'internal error' })
      assert.ok(
        logs.some((l) => l.includes('secret_column')),
        'the cause is in the log',
      )
    } finally {
      await app.close()
    }
  })
})

describe('logs', () => {
  test('never contain passwords or session tokens', async () => {
    const t = await freshDb()
    const lines: string[] = []
    const stream = collectInto(lines)
    const app = await buildApp({
      config: { ...TEST_CONFIG, logLevel: 'trace' },
      db: t.db,
      logger: { stream },
    })
    try {
      const password = 'hunter2-very-secret'
      await app.inject({ method: 'POST', url: '/auth/register', payload: { user_id: 'logged', password } })
      const res = await app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { user_id: 'logged', password, terminal: 't' },
      })
      const token = (res.json() as { token: string }).token
      await app.inject({
        method: 'POST',
        url: '/auth/logout',
        headers: { token },
        payload: { user_id: 'logged' },
      })
      await app.inject({
        method: 'POST',
        url: '/auth/logout',
        headers: { authorization: `Bearer ${token}` },
        payload: { user_id: 'logged' },
      })
      const all = lines.join('')
      assert.ok(lines.length > 4, 'requests were logged')
      assert.ok(!all.includes(password), 'no password in the logs')
      assert.ok(!all.includes(token), 'no token in the logs')
    } finally {
      await app.close()
      await t.dispose()
    }
  })
})

describe('shutting down', () => {
  test('requests in flight finish; then the server takes no new connections', async () => {
    const t = await freshDb()
    // A slow database: every query takes a moment, so a request is surely in flight when close starts.
    // The close starts once the request is surely being handled (its query has begun), not after a
    // fixed pause: a request still on its way when close starts is rightly answered 503.
    let queryStarted: () => void = () => {}
    const handling = new Promise<void>((r) => {
      queryStarted = r
    })
    const slow: Db = {
      ...t.db,
      query: async (q, p) => {
        if (q === 'SELECT 1') queryStarted() // the query of /ready
        await new Promise((r) => setTimeout(r, 150))
        return t.db.query(q, p)
      },
    }
    const app = await buildApp({ config: TEST_CONFIG, db: slow, logger: false })
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    try {
      const inFlight = fetch(`${url}/ready`)
      await handling
      const closing = app.close()
      const res = await inFlight
      assert.equal(res.status, 200, 'the request that was in flight got its answer')
      await closing
      await assert.rejects(fetch(`${url}/health`), 'no new connections after close')
    } finally {
      await t.dispose()
    }
  })
})
