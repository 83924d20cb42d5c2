/**
 * Requests a newcomer sends by mistake, and ids at the edge of what the API allows: every answer is
 * the one error shape `{message}` with a 4xx that says what to do, never a 500, never a partial
 * write; and every id the API accepts works in every path that takes it. Some requests never reach
 * Fastify (Node's HTTP parser refuses them), so those go over a real socket.
 */
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { LIMITS } from '../../src/limits.ts'
import {
  addBook,
  bookInfo,
  call,
  newStore,
  newUser,
  post,
  startApp,
  type TestApp,
  type User,
} from '../support/helpers.ts'

let t: TestApp
let port: number
let seller: User
before(async () => {
  t = await startApp()
  await t.app.listen({ port: 0, host: '127.0.0.1' })
  port = (t.app.server.address() as { port: number }).port
  seller = await newUser(t.app, 'edge_seller')
})
after(() => t.close())

/** Sends one request line as raw bytes over a socket; the status and the JSON body. */
function rawRequest(target: Buffer, headers = ''): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(
        Buffer.concat([
          Buffer.from('GET '),
          target,
          Buffer.from(` HTTP/1.1\r\nhost: x\r\nconnection: close\r\n${headers}\r\n`),
        ]),
      ),
    )
    let text = ''
    socket.setEncoding('latin1')
    socket.on('data', (d: string) => {
      text += d
    })
    socket.on('error', reject)
    socket.on('end', () => {
      const [head = '', body = ''] = text.split('\r\n\r\n')
      resolve({
        status: Number(head.split(' ')[1]),
        body: JSON.parse(Buffer.from(body, 'latin1').toString()),
      })
    })
  })
}

/** The body is exactly `{message}`, a non-empty string. */
function assertOurShape(body: unknown, why: string) {
  assert.deepEqual(Object.keys(body as object), ['message'], `${why}: ${JSON.stringify(body)}`)
  assert.ok(typeof (body as { message: unknown }).message === 'string')
}

const userCount = async () =>
  Number((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM users')).rows[0]?.n)

describe('malformed URLs', () => {
  test('bad percent-encoding → 400 in our shape, saying how to encode', async () => {
    for (const url of ['/stores/%E0%A4%A/books/x', '/stores/x/books/%', '/orders/%ZZ?user_id=u']) {
      const r = await call(t.app, 'GET', url)
      assert.equal(r.status, 400, url)
      assertOurShape(r.body, url)
      assert.match(r.body.message, /malformed URL: percent-encode/)
    }
  })

  test('raw non-ASCII bytes in the URL → 400 in our shape (Node refuses them before routing)', async () => {
    for (const bytes of [[0xc3, 0xa9], [0xff], [0x80]]) {
      const r = await rawRequest(
        Buffer.concat([Buffer.from('/stores/'), Buffer.from(bytes), Buffer.from('/books/x')]),
      )
      assert.equal(r.status, 400)
      assertOurShape(r.body, String(bytes))
      assert.match((r.body as { message: string }).message, /percent-encode/)
    }
  })

  test('a NUL byte (%00) in any path parameter → 400 naming it, not a 500', async () => {
    for (const [url, field] of [
      ['/stores/%00/books/x', 'params/store_id'],
      ['/stores/x/books/%00', 'params/book_id'],
      ['/stores/x/books/%00/pictures/0', 'params/book_id'],
      ['/stores/a%00b/books/x/pictures/0', 'params/store_id'],
      ['/orders/%00?user_id=u', 'params/order_id'],
    ] as const) {
      const r = await call(t.app, 'GET', url, undefined, { token: seller.token })
      assert.equal(r.status, 400, url)
      assertOurShape(r.body, url)
      assert.match(r.body.message, new RegExp(`^${field} contains a NUL`))
    }
  })

  test('a 10 KB query string → 400 in our shape; a URL over 16 KiB → 431 in our shape', async () => {
    const long = await rawRequest(
      Buffer.from(`/seller/orders?user_id=${'u'.repeat(10_000)}`),
      `token: ${seller.token}\r\n`,
    )
    assert.equal(long.status, 400)
    assertOurShape(long.body, '10 KB user_id')
    const huge = await rawRequest(
      Buffer.from(`/seller/orders?user_id=${seller.userId}&x=${'a'.repeat(20_000)}`),
    )
    assert.equal(huge.status, 431)
    assertOurShape(huge.body, '20 KB query')
    assert.match((huge.body as { message: string }).message, /longer than 16 KiB/)
  })
})

describe('bodies that are not JSON', () => {
  test('no content type, text/plain or a form → 415 saying to send JSON, and nothing is written', async () => {
    const before = await userCount()
    const body = JSON.stringify({ user_id: 'typed', password: 'pw' })
    for (const headers of [
      {},
      { 'content-type': 'text/plain' },
      { 'content-type': 'application/x-www-form-urlencoded' },
    ]) {
      const res = await t.app.inject({ method: 'POST', url: '/auth/register', headers, payload: body })
      assert.equal(res.statusCode, 415, JSON.stringify(headers))
      assertOurShape(res.json(), JSON.stringify(headers))
      assert.match(res.json().message, /content-type: application\/json/)
    }
    assert.equal(await userCount(), before)
  })
})

describe('ids at the limit work in every path that takes them', () => {
  const emoji = (n: number) => '😀'.repeat(n)

  test('a store id of 101 characters and a book id of 255 emoji: listed, read, ordered, and their pictures found', async () => {
    const storeId = `s${'x'.repeat(100)}`
    const bookId = emoji(255)
    await newStore(t.app, seller, storeId)
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex').toString('base64')
    await addBook(t.app, seller, storeId, bookInfo(bookId, 500, { pictures: [png] }), 3)
    const path = `/stores/${encodeURIComponent(storeId)}/books/${encodeURIComponent(bookId)}`
    assert.ok(path.length > 3000, 'the encoded path is long')
    const listing = await call(t.app, 'GET', path)
    assert.equal(listing.status, 200, JSON.stringify(listing.body).slice(0, 200))
    assert.equal(listing.body.book_id, bookId)
    const picture = await t.app.inject({ url: `${path}/pictures/0` })
    assert.equal(picture.statusCode, 200)
    assert.equal(picture.headers['content-type'], 'image/png')

    const buyer = await newUser(t.app, 'edge_buyer')
    const order = await post(
      t.app,
      '/buyer/new_order',
      { user_id: buyer.userId, store_id: storeId, books: [{ id: bookId, count: 2 }] },
      buyer.token,
    )
    assert.equal(order.status, 200)
    const read = await call(
      t.app,
      'GET',
      `/orders/${encodeURIComponent(String(order.body.order_id))}?user_id=${encodeURIComponent(buyer.userId)}`,
      undefined,
      { token: buyer.token },
    )
    assert.equal(read.status, 200)
    assert.deepEqual(
      (read.body.items as { book_id: string }[]).map((i) => i.book_id),
      [bookId],
    )
  })

  test('one character more than 255 → 400 in our shape, in a body and in a path', async () => {
    const tooLong = emoji(256)
    const add = await post(
      t.app,
      '/seller/add_book',
      { user_id: seller.userId, store_id: 'any', book_info: bookInfo(tooLong), stock_level: 1 },
      seller.token,
    )
    assert.equal(add.status, 400)
    for (const path of [
      `/stores/any/books/${encodeURIComponent(tooLong)}`,
      `/stores/${encodeURIComponent(`${'ü'.repeat(2000)}`)}/books/x`,
      `/stores/${'%F0%9F%98%80'.repeat(400)}/books/x/pictures/0`,
    ]) {
      const r = await call(t.app, 'GET', path)
      assert.equal(r.status, 400, path.slice(0, 40))
      assertOurShape(r.body, path.slice(0, 40))
    }
  })

  test('an id starting with a byte-order mark is refused everywhere, so none is ever stored', async () => {
    const before = await userCount()
    const bom = '\uFEFFbom'
    const reg = await post(t.app, '/auth/register', { user_id: bom, password: 'pw' })
    assert.equal(reg.status, 400)
    assert.match(reg.body.message, /^body\/user_id starts with a byte-order mark/)
    assert.equal(await userCount(), before)
    const balance = await call(t.app, 'GET', `/buyer/balance?user_id=${encodeURIComponent(bom)}`, undefined, {
      token: seller.token,
    })
    assert.equal(balance.status, 400)
    assert.match(balance.body.message, /^querystring\/user_id starts with a byte-order mark/)
    const listing = await call(t.app, 'GET', `/stores/${encodeURIComponent(bom)}/books/x`)
    assert.equal(listing.status, 400)
    // inside a string it is an ordinary character, kept exactly
    const inner = `in\uFEFFside_${process.pid}`
    assert.equal((await post(t.app, '/auth/register', { user_id: inner, password: 'pw' })).status, 200)
    const login = await post(t.app, '/auth/login', { user_id: inner, password: 'pw', terminal: 't' })
    const own = await call(t.app, 'GET', `/buyer/balance?user_id=${encodeURIComponent(inner)}`, undefined, {
      token: String(login.body.token),
    })
    assert.equal(own.status, 200)
  })
})

describe('partial requests hold bounded memory', () => {
  /** A POST whose headers declare `declared` bytes; sends `body` (all of it, or a first part). */
  function upload(
    declared: number | undefined,
    body: string,
    target = 'POST /seller/add_book',
    type = 'application/json',
  ) {
    const socket = connect(port, '127.0.0.1')
    const length = declared === undefined ? 'transfer-encoding: chunked' : `content-length: ${declared}`
    socket.write(`${target} HTTP/1.1\r\nhost: x\r\ncontent-type: ${type}\r\n${length}\r\n\r\n${body}`)
    const status = new Promise<number>((resolve) => {
      socket.once('data', (d) => resolve(Number(d.toString('latin1').split(' ')[1])))
      socket.once('close', () => resolve(0))
    })
    return { socket, status }
  }
  const json = (bytes: number) => {
    const head =
      '{"user_id":"nobody","store_id":"s","stock_level":1,"book_info":{"id":"b","title":"t","book_intro":"'
    return `${head}${'x'.repeat(bytes - head.length - 15)}","price":1}}`
  }
  const complete = (bytes: number) => {
    const body = json(bytes)
    return upload(Buffer.byteLength(body), body).status
  }

  test('large bodies being received at once share a budget; past it, 503 before reading; small ones always pass', async () => {
    const big = LIMITS.addBookBodyBytes
    const holders = Array.from({ length: LIMITS.largeBodyBudgetBytes / big }, () =>
      upload(big, '{"user_id":'),
    )
    try {
      // the budget is taken: one more large body is turned away at once, in our shape
      const r = await rawRequest(Buffer.from('/health')) // the server answers other requests meanwhile
      assert.equal(r.status, 200)
      assert.equal(await complete(100_000), 503)
      const refused = upload(big, '')
      const text = await new Promise<string>((resolve) =>
        refused.socket.once('data', (d) => resolve(d.toString())),
      )
      assert.match(text, /^HTTP\/1.1 503/)
      assert.match(text, /retry-after: 1/i)
      assert.match(text, /\{"message":"too many large uploads at once: try again in a moment"\}/)
      // a small body is never turned away: it reaches the route (no token: 401)
      assert.equal(await complete(10_000), 401)

      // a holder that goes away gives its share back
      holders.pop()?.socket.destroy()
      let status = 503
      for (let i = 0; i < 50 && status === 503; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20))
        status = await complete(100_000)
      }
      assert.equal(status, 401)
    } finally {
      for (const h of holders) h.socket.destroy()
    }
    for (const h of holders) assert.equal(await h.status, 0, 'the holders were never answered, only closed')
  })

  test("the web shop's add-book form (multipart, read as a stream) is held to its limit and shares the budget", async () => {
    const form = (declared: number | undefined) =>
      upload(declared, '--b\r\n', 'POST /sell/store/s/books', 'multipart/form-data; boundary=b').status
    // over the form's limit, or of unknown length: refused before a byte of it is read
    assert.equal(await form(LIMITS.addBookFormBytes + 1), 413)
    assert.equal(await form(undefined), 411)
    const big = LIMITS.addBookBodyBytes
    const holders = Array.from({ length: LIMITS.largeBodyBudgetBytes / big }, () =>
      upload(big, '{"user_id":'),
    )
    try {
      assert.equal((await rawRequest(Buffer.from('/health'))).status, 200)
      // the budget is taken: a form of 200 KB is turned away too
      assert.equal(await form(200_000), 503)
    } finally {
      for (const h of holders) h.socket.destroy()
    }
  })
})
