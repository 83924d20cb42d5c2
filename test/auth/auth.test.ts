import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import {
  call,
  login,
  newUser,
  post,
  rowsOf,
  sessionCount,
  sleep,
  startApp,
  type TestApp,
  uid,
} from '../support/helpers.ts'

let t: TestApp
before(async () => {
  t = await startApp()
})
after(() => t.close())

/** Calls a token route that only needs user_id and store_id: a live token for user_id → 200 or 514. */
async function tokenWorks(userId: string, token: string): Promise<boolean> {
  const r = await post(t.app, '/seller/create_store', { user_id: userId, store_id: uid('probe') }, token)
  return r.status === 200
}

async function userRow(userId: string) {
  const r = await rowsOf<{ password_hash: string | null; balance: number; closed_at: Date | null }>(
    t.db,
    'SELECT password_hash, balance, closed_at FROM users WHERE user_id = $1',
    [userId],
  )
  return r[0]
}

describe('register', () => {
  test('a new user starts with balance 0 and an argon2id hash, never the password', async () => {
    const userId = uid('reg')
    const r = await post(t.app, '/auth/register', { user_id: userId, password: 'secret-1' })
    assert.equal(r.status, 200)
    assert.equal(r.body.message, 'ok')
    const row = await userRow(userId)
    assert.ok(row)
    assert.equal(row.balance, 0)
    assert.equal(row.closed_at, null)
    assert.ok(row.password_hash?.startsWith('$argon2id$'), row.password_hash ?? 'null')
    assert.ok(!row.password_hash?.includes('secret-1'))
  })

  test('the same id twice → 512, the first account untouched', async () => {
    const userId = uid('dup')
    assert.equal((await post(t.app, '/auth/register', { user_id: userId, password: 'a' })).status, 200)
    const before = await userRow(userId)
    const r = await post(t.app, '/auth/register', { user_id: userId, password: 'b' })
    assert.equal(r.status, 512)
    assert.notEqual(r.body.message, 'ok')
    assert.deepEqual(await userRow(userId), before)
    assert.equal((await login(t.app, userId, 'a')).status, 200)
    assert.equal((await login(t.app, userId, 'b')).status, 401)
  })

  test('missing or wrong-typed fields → 400 naming the field, nothing stored', async () => {
    const userId = uid('bad')
    const cases: [unknown, string][] = [
      [{ password: 'x' }, 'user_id'],
      [{ user_id: userId }, 'password'],
      [{ user_id: 42, password: 'x' }, 'user_id'],
      [{ user_id: userId, password: 42 }, 'password'],
      [{ user_id: userId, password: null }, 'password'],
      [{ user_id: '', password: 'x' }, 'user_id'],
      [{ user_id: userId, password: '' }, 'password'],
      [{ user_id: [userId], password: 'x' }, 'user_id'],
    ]
    for (const [body, field] of cases) {
      const r = await post(t.app, '/auth/register', body)
      assert.equal(r.status, 400, JSON.stringify(body))
      assert.match(r.body.message, new RegExp(field), JSON.stringify(r.body))
    }
    assert.equal(await userRow(userId), undefined)
  })

  test('ids of 255 characters are accepted, 256 are refused', async () => {
    const ok = 'u'.repeat(250) + uid('').slice(-5)
    assert.equal(ok.length, 255)
    assert.equal((await post(t.app, '/auth/register', { user_id: ok, password: 'p' })).status, 200)
    assert.ok(await userRow(ok))
    const long = `${ok}x`
    const r = await post(t.app, '/auth/register', { user_id: long, password: 'p' })
    assert.equal(r.status, 400)
    assert.match(r.body.message, /user_id/)
    assert.equal(await userRow(long), undefined)
    // Characters, not bytes: 255 Chinese characters is a valid id.
    const zh = '书'.repeat(250) + uid('').slice(-5)
    assert.equal((await post(t.app, '/auth/register', { user_id: zh, password: 'p' })).status, 200)
    assert.equal((await login(t.app, zh, 'p')).status, 200)
  })
})

describe('login', () => {
  test('returns a token; only its SHA-256 is stored', async () => {
    const u = await newUser(t.app)
    const r = await login(t.app, u.userId, u.password, 'phone')
    assert.equal(r.status, 200)
    const token = r.body.token
    assert.equal(typeof token, 'string')
    assert.ok((token as string).length >= 32)
    const rows = await rowsOf<{ token_hash: Buffer; terminal: string }>(
      t.db,
      'SELECT token_hash, terminal FROM sessions WHERE user_id = $1 ORDER BY terminal',
      [u.userId],
    )
    assert.deepEqual(
      rows.map((x) => x.terminal),
      ['phone', 'test terminal'],
    )
    const phone = rows.find((x) => x.terminal === 'phone')
    assert.ok(phone)
    const expected = createHash('sha256')
      .update(token as string)
      .digest()
    assert.ok(Buffer.from(phone.token_hash).equals(expected))
    assert.notEqual(Buffer.from(phone.token_hash).toString(), token)
    assert.ok(await tokenWorks(u.userId, token as string))
  })

  test('unknown user and wrong password → 401, no session', async () => {
    const u = await newUser(t.app)
    const before = await sessionCount(t.db, u.userId)
    const a = await login(t.app, uid('nobody'), 'x')
    assert.equal(a.status, 401)
    assert.equal(a.body.token, undefined)
    const b = await login(t.app, u.userId, `${u.password}!`)
    assert.equal(b.status, 401)
    assert.equal(b.body.token, undefined)
    assert.equal(await sessionCount(t.db, u.userId), before)
  })

  test('missing terminal or wrong types → 400', async () => {
    const u = await newUser(t.app)
    for (const body of [
      { user_id: u.userId, password: u.password },
      { user_id: u.userId, password: u.password, terminal: 7 },
      { user_id: u.userId, password: u.password, terminal: 'x'.repeat(256) },
    ]) {
      const r = await post(t.app, '/auth/login', body)
      assert.equal(r.status, 400, JSON.stringify(r.body))
      assert.match(r.body.message, /terminal/)
    }
  })

  test('logging in again on the same terminal replaces its token; other terminals stay valid', async () => {
    const u = await newUser(t.app)
    const a1 = (await login(t.app, u.userId, u.password, 'laptop')).body.token as string
    const b = (await login(t.app, u.userId, u.password, 'tablet')).body.token as string
    const a2 = (await login(t.app, u.userId, u.password, 'laptop')).body.token as string
    assert.notEqual(a1, a2)
    assert.equal(await tokenWorks(u.userId, a1), false)
    assert.ok(await tokenWorks(u.userId, a2))
    assert.ok(await tokenWorks(u.userId, b))
    assert.ok(await tokenWorks(u.userId, u.token))
    // laptop, tablet and newUser's terminal
    assert.equal(await sessionCount(t.db, u.userId), 3)
  })

  test('a token expires after the configured lifetime', async () => {
    const short = await startApp({ tokenTtlS: 1 })
    try {
      const u = await newUser(short.app)
      const probe = () =>
        post(short.app, '/seller/create_store', { user_id: u.userId, store_id: uid('s') }, u.token)
      assert.equal((await probe()).status, 200)
      await sleep(1200)
      assert.equal((await probe()).status, 401)
      assert.equal(
        (await post(short.app, '/auth/logout', { user_id: u.userId }, u.token)).status,
        401,
        'an expired token cannot log out either',
      )
      // A fresh login on the same terminal works again.
      const again = await login(short.app, u.userId, u.password)
      assert.equal(again.status, 200)
      const r = await post(
        short.app,
        '/seller/create_store',
        { user_id: u.userId, store_id: uid('s') },
        again.body.token as string,
      )
      assert.equal(r.status, 200)
    } finally {
      await short.close()
    }
  })
})

describe('logout', () => {
  test('ends that session only', async () => {
    const u = await newUser(t.app)
    const other = (await login(t.app, u.userId, u.password, 'second')).body.token as string
    const r = await post(t.app, '/auth/logout', { user_id: u.userId }, u.token)
    assert.equal(r.status, 200)
    assert.equal(await sessionCount(t.db, u.userId), 1)
    assert.equal(await tokenWorks(u.userId, u.token), false)
    assert.equal((await post(t.app, '/auth/logout', { user_id: u.userId }, u.token)).status, 401)
    assert.ok(await tokenWorks(u.userId, other))
  })

  test('wrong user, garbled, unknown or missing token → 401 and the session survives', async () => {
    const u = await newUser(t.app)
    const v = await newUser(t.app)
    const cases: [Record<string, unknown>, Record<string, string>][] = [
      [{ user_id: v.userId }, { token: u.token }],
      [{ user_id: uid('ghost') }, { token: u.token }],
      [{ user_id: u.userId }, { token: `${u.token}x` }],
      [{ user_id: u.userId }, { token: 'garbage' }],
      [{ user_id: u.userId }, { token: '\u00e9\u00e8' }],
      [{ user_id: u.userId }, {}],
      [{ user_id: u.userId }, { token: '' }],
      [{ user_id: u.userId }, { authorization: 'Bearer ' }],
      [{ user_id: u.userId }, { authorization: `Basic ${u.token}` }],
    ]
    for (const [body, headers] of cases) {
      const r = await call(t.app, 'POST', '/auth/logout', body, headers)
      assert.equal(r.status, 401, JSON.stringify([body, headers]))
    }
    assert.ok(await tokenWorks(u.userId, u.token))
    assert.ok(await tokenWorks(v.userId, v.token))
  })

  test('accepts Authorization: Bearer', async () => {
    const u = await newUser(t.app)
    const r = await call(
      t.app,
      'POST',
      '/auth/logout',
      { user_id: u.userId },
      { authorization: `Bearer ${u.token}` },
    )
    assert.equal(r.status, 200)
    assert.equal(await sessionCount(t.db, u.userId), 0)
  })
})

describe('password', () => {
  test('change → old password 401, every session ended, new password works', async () => {
    const u = await newUser(t.app)
    const second = (await login(t.app, u.userId, u.password, 'second')).body.token as string
    const hashBefore = (await userRow(u.userId))?.password_hash
    const r = await post(t.app, '/auth/password', {
      user_id: u.userId,
      oldPassword: u.password,
      newPassword: 'brand new',
    })
    assert.equal(r.status, 200)
    assert.equal(await sessionCount(t.db, u.userId), 0)
    assert.equal(await tokenWorks(u.userId, u.token), false)
    assert.equal(await tokenWorks(u.userId, second), false)
    const hashAfter = (await userRow(u.userId))?.password_hash
    assert.notEqual(hashAfter, hashBefore)
    assert.ok(hashAfter?.startsWith('$argon2id$'))
    assert.equal((await login(t.app, u.userId, u.password)).status, 401)
    const n = await login(t.app, u.userId, 'brand new')
    assert.equal(n.status, 200)
    assert.ok(await tokenWorks(u.userId, n.body.token as string))
  })

  test('wrong old password or unknown user → 401 and nothing changes', async () => {
    const u = await newUser(t.app)
    const hashBefore = (await userRow(u.userId))?.password_hash
    const r = await post(t.app, '/auth/password', {
      user_id: u.userId,
      oldPassword: 'not it',
      newPassword: 'other',
    })
    assert.equal(r.status, 401)
    const g = await post(t.app, '/auth/password', {
      user_id: uid('ghost'),
      oldPassword: 'x',
      newPassword: 'y',
    })
    assert.equal(g.status, 401)
    assert.equal((await userRow(u.userId))?.password_hash, hashBefore)
    assert.equal(await sessionCount(t.db, u.userId), 1)
    assert.ok(await tokenWorks(u.userId, u.token))
    assert.equal((await login(t.app, u.userId, 'other')).status, 401)
    assert.equal((await login(t.app, u.userId, u.password)).status, 200)
  })

  test('missing fields → 400 naming them', async () => {
    const u = await newUser(t.app)
    for (const [body, field] of [
      [{ user_id: u.userId, newPassword: 'n' }, 'oldPassword'],
      [{ user_id: u.userId, oldPassword: u.password }, 'newPassword'],
      [{ user_id: u.userId, oldPassword: u.password, newPassword: 5 }, 'newPassword'],
    ] as const) {
      const r = await post(t.app, '/auth/password', body)
      assert.equal(r.status, 400)
      assert.match(r.body.message, new RegExp(field))
    }
    assert.equal((await login(t.app, u.userId, u.password)).status, 200)
  })
})

describe('unregister', () => {
  test('closes the account: login 401, tokens dead, the id stays reserved', async () => {
    const u = await newUser(t.app)
    const second = (await login(t.app, u.userId, u.password, 'second')).body.token as string
    const r = await post(t.app, '/auth/unregister', { user_id: u.userId, password: u.password })
    assert.equal(r.status, 200)
    assert.equal(await sessionCount(t.db, u.userId), 0)
    const row = await userRow(u.userId)
    assert.ok(row?.closed_at, 'the row is kept, marked closed')
    assert.equal(row?.password_hash, null)
    assert.equal((await login(t.app, u.userId, u.password)).status, 401)
    assert.equal(await tokenWorks(u.userId, u.token), false)
    assert.equal(await tokenWorks(u.userId, second), false)
    assert.equal((await post(t.app, '/auth/register', { user_id: u.userId, password: 'again' })).status, 512)
    assert.equal((await login(t.app, u.userId, 'again')).status, 401)
    // A second unregister of the closed account fails like an unknown user.
    assert.equal(
      (await post(t.app, '/auth/unregister', { user_id: u.userId, password: u.password })).status,
      401,
    )
    assert.equal(
      (await post(t.app, '/auth/password', { user_id: u.userId, oldPassword: u.password, newPassword: 'x' }))
        .status,
      401,
    )
  })

  test('wrong password or unknown user → 401 and the account stays open', async () => {
    const u = await newUser(t.app)
    assert.equal(
      (await post(t.app, '/auth/unregister', { user_id: u.userId, password: 'wrong' })).status,
      401,
    )
    assert.equal(
      (await post(t.app, '/auth/unregister', { user_id: uid('ghost'), password: 'x' })).status,
      401,
    )
    assert.equal((await userRow(u.userId))?.closed_at, null)
    assert.ok(await tokenWorks(u.userId, u.token))
    assert.equal((await login(t.app, u.userId, u.password)).status, 200)
  })
})
