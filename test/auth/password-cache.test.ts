import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { VerifiedCache } from '../../src/security/verified-cache.ts'
import { balanceOf, newUser, post, startApp, type TestApp } from '../support/helpers.ts'

describe('VerifiedCache', () => {
  test('remembers a verified password until its entry expires', () => {
    let now = 1000
    const c = new VerifiedCache(500, 10, () => now)
    assert.equal(c.has('u', 'hash', 'pw'), false)
    c.add('u', 'hash', 'pw')
    assert.equal(c.has('u', 'hash', 'pw'), true)
    now += 499
    assert.equal(c.has('u', 'hash', 'pw'), true)
    now += 1
    assert.equal(c.has('u', 'hash', 'pw'), false)
    assert.equal(c.size, 0, 'an expired entry is dropped when seen')
  })

  test('an entry is bound to the user, the stored hash and the password', () => {
    const c = new VerifiedCache(60_000, 10)
    c.add('u', 'hash', 'pw')
    assert.equal(c.has('u', 'hash', 'pw2'), false)
    assert.equal(c.has('v', 'hash', 'pw'), false)
    assert.equal(c.has('u', 'new-hash', 'pw'), false, 'a new password hash makes old entries unreachable')
    // No ambiguity from concatenation: ('ab', 'c') and ('a', 'bc') are different entries.
    c.add('ab', 'c', 'x')
    assert.equal(c.has('a', 'bc', 'x'), false)
  })

  test('holds at most maxEntries, dropping the oldest', () => {
    const c = new VerifiedCache(60_000, 3)
    for (const u of ['a', 'b', 'c', 'd']) c.add(u, 'h', 'p')
    assert.equal(c.size, 3)
    assert.equal(c.has('a', 'h', 'p'), false)
    assert.equal(c.has('d', 'h', 'p'), true)
  })

  test('a TTL of 0 turns it off', () => {
    const c = new VerifiedCache(0, 3)
    c.add('a', 'h', 'p')
    assert.equal(c.has('a', 'h', 'p'), false)
    assert.equal(c.size, 0)
  })
})

describe('payment and add_funds with a remembered password', () => {
  let t: TestApp
  before(async () => {
    t = await startApp()
  })
  after(() => t.close())

  test('a wrong password is refused even right after the right one was remembered', async () => {
    const u = await newUser(t.app)
    const ok = await post(t.app, '/buyer/add_funds', {
      user_id: u.userId,
      password: u.password,
      add_value: 10,
    })
    assert.equal(ok.status, 200)
    const bad = await post(t.app, '/buyer/add_funds', {
      user_id: u.userId,
      password: `${u.password}x`,
      add_value: 10,
    })
    assert.equal(bad.status, 401)
    assert.equal(await balanceOf(t.db, u.userId), 10)
  })

  test('after a password change the old password no longer works, though it was remembered', async () => {
    const u = await newUser(t.app)
    assert.equal(
      (await post(t.app, '/buyer/add_funds', { user_id: u.userId, password: u.password, add_value: 5 }))
        .status,
      200,
    )
    const change = await post(t.app, '/auth/password', {
      user_id: u.userId,
      oldPassword: u.password,
      newPassword: 'changed',
    })
    assert.equal(change.status, 200)
    const old = await post(t.app, '/buyer/add_funds', {
      user_id: u.userId,
      password: u.password,
      add_value: 5,
    })
    assert.equal(old.status, 401)
    const fresh = await post(t.app, '/buyer/add_funds', {
      user_id: u.userId,
      password: 'changed',
      add_value: 5,
    })
    assert.equal(fresh.status, 200)
    assert.equal(await balanceOf(t.db, u.userId), 10)
  })

  test('after unregister the remembered password no longer works', async () => {
    const u = await newUser(t.app)
    assert.equal(
      (await post(t.app, '/buyer/add_funds', { user_id: u.userId, password: u.password, add_value: 5 }))
        .status,
      200,
    )
    assert.equal(
      (await post(t.app, '/auth/unregister', { user_id: u.userId, password: u.password })).status,
      200,
    )
    const after = await post(t.app, '/buyer/add_funds', {
      user_id: u.userId,
      password: u.password,
      add_value: 5,
    })
    assert.equal(after.status, 401)
  })
})
