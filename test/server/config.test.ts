import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { buildApp } from '../../src/app.ts'
import { ConfigError, DEFAULTS, loadConfig } from '../../src/config.ts'
import type { Db } from '../../src/db/db.ts'
import { call, post, TEST_CONFIG } from '../support/helpers.ts'

function fails(env: Record<string, string>, name: string) {
  assert.throws(
    () => loadConfig(env),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err))
      assert.match(err.message, new RegExp(name))
      return true
    },
    JSON.stringify(env),
  )
}

describe('loadConfig', () => {
  test('an empty environment gives the documented defaults', () => {
    const c = loadConfig({})
    assert.deepEqual(c, DEFAULTS)
    assert.equal(c.port, 5000)
    assert.equal(c.host, '127.0.0.1')
    assert.equal(c.dataDir, './data')
    assert.equal(c.databaseUrl, undefined)
    assert.equal(c.tokenTtlS, 3600)
    assert.equal(c.orderPaymentTimeoutS, 1800)
    assert.equal(c.orderAutoReceiveS, 1_209_600)
    assert.equal(c.sweepIntervalS, 5)
    assert.equal(c.logLevel, 'info')
    // Blank values count as unset.
    assert.deepEqual(loadConfig({ PORT: '', TOKEN_TTL_S: '  ', LOG_LEVEL: '', DATABASE_URL: '' }), DEFAULTS)
  })

  test('every variable is read', () => {
    const c = loadConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      DATA_DIR: '/var/lib/bookstore',
      DATABASE_URL: 'postgresql://u:p@db:5432/shop',
      TOKEN_TTL_S: '60',
      ORDER_PAYMENT_TIMEOUT_S: '2.5',
      ORDER_AUTO_RECEIVE_S: '86400',
      SWEEP_INTERVAL_S: '0.1',
      LOG_LEVEL: 'debug',
    })
    assert.equal(c.port, 8080)
    assert.equal(c.host, '0.0.0.0')
    assert.equal(c.dataDir, '/var/lib/bookstore')
    assert.equal(c.databaseUrl, 'postgresql://u:p@db:5432/shop')
    assert.equal(c.tokenTtlS, 60)
    assert.equal(c.orderPaymentTimeoutS, 2.5)
    assert.equal(c.orderAutoReceiveS, 86400)
    assert.equal(c.sweepIntervalS, 0.1)
    assert.equal(c.logLevel, 'debug')
    assert.equal(loadConfig({ DATABASE_URL: 'postgres://x/y' }).databaseUrl, 'postgres://x/y')
    assert.equal(loadConfig({ PORT: '0' }).port, 0)
  })

  test('an invalid value is refused with a message naming the variable', () => {
    fails({ PORT: 'abc' }, 'PORT')
    fails({ PORT: '70000' }, 'PORT')
    fails({ PORT: '-1' }, 'PORT')
    fails({ PORT: '80.5' }, 'PORT')
    fails({ HOST: 'two words' }, 'HOST')
    fails({ TOKEN_TTL_S: '0' }, 'TOKEN_TTL_S')
    fails({ TOKEN_TTL_S: '1.5' }, 'TOKEN_TTL_S')
    fails({ TOKEN_TTL_S: 'an hour' }, 'TOKEN_TTL_S')
    fails({ LOG_LEVEL: 'loud' }, 'LOG_LEVEL')
    fails({ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL')
    fails({ DATABASE_URL: 'not a url' }, 'DATABASE_URL')
    fails({ ORDER_PAYMENT_TIMEOUT_S: '0' }, 'ORDER_PAYMENT_TIMEOUT_S')
    fails({ ORDER_PAYMENT_TIMEOUT_S: '1e3' }, 'ORDER_PAYMENT_TIMEOUT_S')
    fails({ ORDER_AUTO_RECEIVE_S: '-5' }, 'ORDER_AUTO_RECEIVE_S')
    fails({ SWEEP_INTERVAL_S: '0' }, 'SWEEP_INTERVAL_S')
    fails({ SWEEP_INTERVAL_S: 'fast' }, 'SWEEP_INTERVAL_S')
    fails({ SWEEP_INTERVAL_S: '7200' }, 'SWEEP_INTERVAL_S')
  })
})

describe('the app and its database', () => {
  test('GET /ready → 503 when the database does not answer; /health stays 200', async () => {
    const down: Db = {
      engine: 'pglite',
      query: async () => {
        throw new Error('connection refused')
      },
      exec: async () => {
        throw new Error('connection refused')
      },
      transaction: async () => {
        throw new Error('connection refused')
      },
      stats: () => ({ total: 0, idle: 0, waiting: 0 }),
      close: async () => {},
    }
    const app = await buildApp({ config: TEST_CONFIG, db: down, logger: false })
    try {
      const r = await call(app, 'GET', '/ready')
      assert.equal(r.status, 503)
      assert.equal(typeof r.body.message, 'string')
      assert.equal((await call(app, 'GET', '/health')).status, 200)
      // A failing database is a 500 without internals, never a leaked error.
      const reg = await post(app, '/auth/register', { user_id: 'u', password: 'p' })
      assert.equal(reg.status, 500)
      assert.equal(reg.body.message, 'internal error')
    } finally {
      await app.close()
    }
  })

  test('the embedded database keeps its data under DATA_DIR across restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bookstore-test-'))
    try {
      const config = { ...TEST_CONFIG, dataDir: dir, databaseUrl: undefined }
      const first = await buildApp({ config, logger: false })
      assert.equal((await post(first, '/auth/register', { user_id: 'keeper', password: 'pw' })).status, 200)
      await first.close()
      // Started again on the same directory: migrations are not re-applied, the user is still there.
      const second = await buildApp({ config, logger: false })
      try {
        assert.equal((await call(second, 'GET', '/ready')).status, 200)
        assert.equal((await post(second, '/auth/register', { user_id: 'keeper', password: 'x' })).status, 512)
        const l = await post(second, '/auth/login', { user_id: 'keeper', password: 'pw', terminal: 't' })
        assert.equal(l.status, 200)
      } finally {
        await second.close()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
