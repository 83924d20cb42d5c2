import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import {
  bookInfo,
  call,
  countRows,
  newShop,
  newUser,
  post,
  rawPost,
  type Shop,
  startApp,
  stockOf,
  type TestApp,
  type User,
  uid,
} from '../support/helpers.ts'

let t: TestApp
let user: User
let shop: Shop

before(async () => {
  t = await startApp()
  user = await newUser(t.app, 'input')
  shop = await newShop(t.app, 1, 5)
})
after(() => t.close())

/** Every course route with a valid body for `user` (some use the shop's seller). */
function routes(): { url: string; body: Record<string, unknown>; token?: string }[] {
  const s = shop.seller
  const book = shop.bookIds[0] as string
  return [
    { url: '/auth/register', body: { user_id: uid('r'), password: 'p' } },
    { url: '/auth/unregister', body: { user_id: user.userId, password: user.password } },
    { url: '/auth/login', body: { user_id: user.userId, password: user.password, terminal: 'x' } },
    {
      url: '/auth/password',
      body: { user_id: user.userId, oldPassword: user.password, newPassword: user.password },
    },
    { url: '/auth/logout', body: { user_id: user.userId }, token: user.token },
    { url: '/buyer/add_funds', body: { user_id: user.userId, password: user.password, add_value: 1 } },
    {
      url: '/buyer/new_order',
      body: { user_id: user.userId, store_id: shop.storeId, books: [{ id: book, count: 1 }] },
      token: user.token,
    },
    { url: '/buyer/payment', body: { user_id: user.userId, order_id: 'o', password: user.password } },
    { url: '/seller/create_store', body: { user_id: s.userId, store_id: uid('s') }, token: s.token },
    {
      url: '/seller/add_book',
      body: { user_id: s.userId, store_id: shop.storeId, book_info: bookInfo(uid('b')), stock_level: 1 },
      token: s.token,
    },
    {
      url: '/seller/add_stock_level',
      body: { user_id: s.userId, store_id: shop.storeId, book_id: book, add_stock_level: 1 },
      token: s.token,
    },
  ]
}

/** What any refused request must not have touched. */
async function snapshot() {
  return {
    users: await countRows(t.db, 'users'),
    sessions: await countRows(t.db, 'sessions'),
    stores: await countRows(t.db, 'stores'),
    listings: await countRows(t.db, 'listings'),
    orders: await countRows(t.db, 'orders'),
    ledger: await countRows(t.db, 'ledger'),
    pictures: await countRows(t.db, 'pictures'),
    stock: await stockOf(t.db, shop.storeId, shop.bookIds[0] as string),
  }
}

const headersFor = (token?: string): Record<string, string> => ({
  'content-type': 'application/json',
  ...(token ? { token } : {}),
})

describe('bad input is refused with 4xx, never 500, never a partial write', () => {
  test('malformed JSON → 400', async () => {
    const before = await snapshot()
    for (const r of routes()) {
      for (const payload of [
        '{',
        '{"user_id": }',
        "{'user_id': 'x'}",
        'null',
        '[1,2]',
        '"str"',
        '{"a":1}}',
      ]) {
        const res = await rawPost(t.app, r.url, payload, headersFor(r.token))
        assert.equal(res.status, 400, `${r.url} ${payload}: ${JSON.stringify(res.body)}`)
        assert.equal(typeof res.body.message, 'string')
      }
    }
    assert.deepEqual(await snapshot(), before)
  })

  test('an empty body or a non-JSON content type → 4xx', async () => {
    for (const r of routes()) {
      const empty = await rawPost(t.app, r.url, '', headersFor(r.token))
      assert.equal(empty.status, 400, r.url)
      const text = await rawPost(t.app, r.url, 'user_id=x', { 'content-type': 'text/plain' })
      assert.ok(text.status >= 400 && text.status < 500, `${r.url}: ${text.status}`)
      const none = await call(t.app, 'POST', r.url)
      assert.equal(none.status, 400, r.url)
    }
  })

  test('a body over 1 MiB → 413 on every route but add_book', async () => {
    const before = await snapshot()
    const filler = 'x'.repeat(1024 * 1024 + 10)
    for (const r of routes()) {
      if (r.url === '/seller/add_book') continue
      const res = await post(t.app, r.url, { ...r.body, filler }, r.token)
      assert.equal(res.status, 413, r.url)
    }
    // add_book takes several MB, but not without bound.
    const add = routes().find((r) => r.url === '/seller/add_book')
    assert.ok(add)
    const big = await rawPost(
      t.app,
      add.url,
      JSON.stringify({ ...add.body, filler: 'y'.repeat(65 * 1024 * 1024) }),
      headersFor(add.token),
    )
    assert.equal(big.status, 413)
    assert.deepEqual(await snapshot(), before)
  })

  test('NUL characters or lone surrogates in any string → 400 naming the field', async () => {
    const before = await snapshot()
    for (const bad of ['a\u0000b', '\ud800', 'x\udc00y']) {
      for (const r of routes()) {
        for (const field of Object.keys(r.body)) {
          const value = r.body[field]
          if (typeof value !== 'string') continue
          const res = await post(t.app, r.url, { ...r.body, [field]: value + bad }, r.token)
          assert.equal(res.status, 400, `${r.url} ${field} ${JSON.stringify(bad)}`)
          assert.match(res.body.message, new RegExp(field))
        }
      }
      // Inside nested values too: order lines, tags, extra fields and their keys, the terminal.
      const s = shop.seller
      const nested: [string, Record<string, unknown>, string | undefined, RegExp][] = [
        [
          '/buyer/new_order',
          { user_id: user.userId, store_id: shop.storeId, books: [{ id: `b${bad}`, count: 1 }] },
          user.token,
          /books/,
        ],
        [
          '/seller/add_book',
          {
            user_id: s.userId,
            store_id: shop.storeId,
            book_info: bookInfo(uid('b'), 1, { tags: ['ok', `t${bad}`] }),
            stock_level: 1,
          },
          s.token,
          /tags/,
        ],
        [
          '/seller/add_book',
          {
            user_id: s.userId,
            store_id: shop.storeId,
            book_info: bookInfo(uid('b'), 1, { author: `a${bad}` }),
            stock_level: 1,
          },
          s.token,
          /author/,
        ],
        [
          '/seller/add_book',
          {
            user_id: s.userId,
            store_id: shop.storeId,
            book_info: bookInfo(uid('b'), 1, { note: { deeper: [`n${bad}`] } }),
            stock_level: 1,
          },
          s.token,
          /note/,
        ],
        [
          '/seller/add_book',
          {
            user_id: s.userId,
            store_id: shop.storeId,
            book_info: bookInfo(uid('b'), 1, { [`k${bad}`]: 'v' }),
            stock_level: 1,
          },
          s.token,
          /book_info/,
        ],
        [
          '/auth/login',
          { user_id: user.userId, password: user.password, terminal: `t${bad}` },
          undefined,
          /terminal/,
        ],
      ]
      for (const [url, body, token, field] of nested) {
        const res = await post(t.app, url, body, token)
        assert.equal(res.status, 400, `${url} ${JSON.stringify(body)}`)
        assert.match(res.body.message, field)
      }
    }
    assert.deepEqual(await snapshot(), before)
  })

  test('the same, sent as JSON escapes', async () => {
    const before = await snapshot()
    for (const esc of ['\\u0000', '\\ud83d', '\\udfff']) {
      const res = await rawPost(t.app, '/auth/register', `{"user_id":"u${esc}","password":"p"}`)
      assert.equal(res.status, 400, esc)
      assert.match(res.body.message, /user_id/)
    }
    // A correctly paired surrogate escape is an ordinary character.
    const emoji = uid('emoji')
    const ok = await rawPost(t.app, '/auth/register', `{"user_id":"${emoji}\\ud83d\\ude00","password":"p"}`)
    assert.equal(ok.status, 200)
    assert.equal(
      (await post(t.app, '/auth/login', { user_id: `${emoji}😀`, password: 'p', terminal: 't' })).status,
      200,
    )
    const after = await snapshot()
    assert.equal(after.users, before.users + 1)
  })

  test('bad strings nested deeper than the checker looks are still refused', async () => {
    const before = await snapshot()
    for (const bad of ['\u0000', '\ud800']) {
      let deep: unknown = `x${bad}`
      for (let i = 0; i < 60; i++) deep = i % 2 ? [deep] : { d: deep }
      const res = await post(
        t.app,
        '/seller/add_book',
        {
          user_id: shop.seller.userId,
          store_id: shop.storeId,
          book_info: bookInfo(uid('b'), 1, { deep }),
          stock_level: 1,
        },
        shop.seller.token,
      )
      assert.equal(res.status, 400, JSON.stringify(res.body))
      assert.match(res.body.message, /book_info/)
    }
    // Clean but absurdly deep extra fields: refused, not a stack overflow.
    const body = JSON.stringify({
      user_id: shop.seller.userId,
      store_id: shop.storeId,
      stock_level: 1,
      book_info: bookInfo(uid('b'), 1),
    })
    const depth = 100_000
    const deep = `${body.slice(0, -2)},"deep":${'['.repeat(depth)}1${']'.repeat(depth)}}}`
    const res = await rawPost(t.app, '/seller/add_book', deep, headersFor(shop.seller.token))
    assert.equal(res.status, 400, JSON.stringify(res.body))
    assert.deepEqual(await snapshot(), before)
  })

  test('__proto__ and constructor.prototype keys → 400', async () => {
    const before = await snapshot()
    for (const r of routes()) {
      const body = JSON.stringify(r.body)
      const top = `{"__proto__":{"admin":true},${body.slice(1)}`
      const res = await rawPost(t.app, r.url, top, headersFor(r.token))
      assert.equal(res.status, 400, `${r.url}: ${JSON.stringify(res.body)}`)
      const ctor = `{"constructor":{"prototype":{"admin":true}},${body.slice(1)}`
      const res2 = await rawPost(t.app, r.url, ctor, headersFor(r.token))
      assert.equal(res2.status, 400, r.url)
    }
    const add = routes().find((r) => r.url === '/seller/add_book')
    assert.ok(add)
    const nested = JSON.stringify(add.body).replace('"book_info":{', '"book_info":{"__proto__":{"price":0},')
    const res = await rawPost(t.app, add.url, nested, headersFor(add.token))
    assert.equal(res.status, 400)
    assert.deepEqual(await snapshot(), before)
  })

  test('wrong types in every field → 400 with a message naming the field', async () => {
    const before = await snapshot()
    for (const r of routes()) {
      for (const field of Object.keys(r.body)) {
        for (const wrong of [{}, [], true, null, 12.5]) {
          const res = await post(t.app, r.url, { ...r.body, [field]: wrong }, r.token)
          assert.equal(res.status, 400, `${r.url} ${field}=${JSON.stringify(wrong)}: ${res.status}`)
          assert.match(res.body.message, new RegExp(field), `${r.url} ${field}: ${res.body.message}`)
        }
        const { [field]: _, ...missing } = r.body
        const res = await post(t.app, r.url, missing, r.token)
        assert.equal(res.status, 400, `${r.url} without ${field}`)
        assert.match(res.body.message, new RegExp(field))
      }
    }
    assert.deepEqual(await snapshot(), before)
  })

  test('an absurd token header is just a 401', async () => {
    for (const token of ['x'.repeat(8000), "' OR 1=1 --", '\u00ff\u00fe']) {
      const r = await post(t.app, '/seller/create_store', { user_id: user.userId, store_id: uid('s') }, token)
      assert.equal(r.status, 401)
    }
  })
})

describe('operations', () => {
  test('GET /health and GET /ready → 200', async () => {
    const h = await call(t.app, 'GET', '/health')
    assert.equal(h.status, 200)
    assert.equal(h.body.message, 'ok')
    const r = await call(t.app, 'GET', '/ready')
    assert.equal(r.status, 200)
    assert.equal(r.body.message, 'ok')
  })

  test('an unknown route or method → 404 with a message', async () => {
    for (const [method, url] of [
      ['GET', '/nope'],
      ['POST', '/auth/nope'],
      ['GET', '/auth/login'],
      ['DELETE', '/health'],
      ['POST', '/buyer/new_order/extra'],
    ] as const) {
      const r = await call(t.app, method, url)
      assert.equal(r.status, 404, `${method} ${url}`)
      assert.equal(typeof r.body.message, 'string')
    }
  })
})
