import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, test } from 'node:test'
import { addBook, call, newStore, newUser, startApp, type TestApp, type User } from '../support/helpers.ts'

let t: TestApp
let seller: User
let store: string

// The first bytes that identify each format, padded with some content.
const pad = (head: number[] | string, n = 64) =>
  Buffer.concat([
    typeof head === 'string' ? Buffer.from(head, 'latin1') : Buffer.from(head),
    Buffer.alloc(n, 7),
  ])
const JPEG = pad([0xff, 0xd8, 0xff, 0xe0])
const PNG = pad([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
const GIF = pad('GIF89a')
const WEBP = Buffer.concat([
  Buffer.from('RIFF'),
  Buffer.from([1, 0, 0, 0]),
  Buffer.from('WEBPVP8 '),
  Buffer.alloc(40, 3),
])
const OTHER = Buffer.from('not an image at all')
const b64 = (b: Buffer) => b.toString('base64')

before(async () => {
  t = await startApp()
  seller = await newUser(t.app, 'seller')
  store = await newStore(t.app, seller)
  await addBook(
    t.app,
    seller,
    store,
    {
      id: 'pics',
      title: '图册',
      price: 1234,
      author: '某人',
      tags: ['摄影'],
      pub_year: 1999,
      currency_unit: '元',
      pictures: [JPEG, PNG, GIF, WEBP, OTHER].map(b64),
    },
    7,
  )
  // A second listing showing the same JPEG: its bytes are stored once.
  await addBook(t.app, seller, store, { id: 'same', title: '图册二', price: 1, pictures: [b64(JPEG)] })
  await addBook(t.app, seller, store, { id: 'none', title: '无图', price: 1, pictures: null })
})
after(() => t.close())

test('a listing: book_info with extra fields, no picture bytes, picture URLs', async () => {
  const r = await call(t.app, 'GET', `/stores/${store}/books/pics`)
  assert.equal(r.status, 200)
  assert.equal(r.body.store_id, store)
  assert.equal(r.body.book_id, 'pics')
  assert.equal(r.body.stock_level, 7)
  const info = r.body.book_info as Record<string, unknown>
  assert.equal(info.id, 'pics')
  assert.equal(info.title, '图册')
  assert.equal(info.price, 1234)
  assert.equal(info.pub_year, '1999')
  assert.equal(info.currency_unit, '元')
  assert.deepEqual(info.tags, ['摄影'])
  assert.equal(info.publisher, null)
  assert.equal('pictures' in info, false)
  assert.deepEqual(
    r.body.pictures,
    [0, 1, 2, 3, 4].map((i) => `/stores/${store}/books/pics/pictures/${i}`),
  )
  const none = await call(t.app, 'GET', `/stores/${store}/books/none`)
  assert.deepEqual(none.body.pictures, [])
})

test('pictures come back with their sniffed content type', async () => {
  const expected: [Buffer, string][] = [
    [JPEG, 'image/jpeg'],
    [PNG, 'image/png'],
    [GIF, 'image/gif'],
    [WEBP, 'image/webp'],
    [OTHER, 'application/octet-stream'],
  ]
  for (const [i, [bytes, type]] of expected.entries()) {
    const res = await t.app.inject({ method: 'GET', url: `/stores/${store}/books/pics/pictures/${i}` })
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['content-type'], type)
    assert.ok(res.rawPayload.equals(bytes))
    assert.equal(res.headers.etag, `"${createHash('sha256').update(bytes).digest('hex')}"`)
    assert.match(String(res.headers['cache-control']), /max-age=31536000/)
    assert.match(String(res.headers['cache-control']), /immutable/)
  }
})

test('identical pictures are stored once', async () => {
  const r = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM pictures')
  assert.equal(r.rows[0]?.n, 5)
  const a = await t.app.inject({ method: 'GET', url: `/stores/${store}/books/same/pictures/0` })
  assert.ok(a.rawPayload.equals(JPEG))
})

test('If-None-Match with the ETag, or *, is 304 without a body, a body type or a body length', async () => {
  const url = `/stores/${store}/books/pics/pictures/1`
  const first = await t.app.inject({ method: 'GET', url })
  const etag = String(first.headers.etag)
  for (const seen of [etag, '*']) {
    const again = await t.app.inject({ method: 'GET', url, headers: { 'if-none-match': seen } })
    assert.equal(again.statusCode, 304, seen)
    assert.equal(again.rawPayload.length, 0)
    assert.equal(again.headers['content-type'], undefined, seen)
    assert.equal(again.headers['content-length'], undefined, seen)
    assert.equal(again.headers.etag, etag)
  }
  const listed = await t.app.inject({ method: 'GET', url, headers: { 'if-none-match': `"x", W/${etag}` } })
  assert.equal(listed.statusCode, 304)
  const other = await t.app.inject({ method: 'GET', url, headers: { 'if-none-match': '"abc"' } })
  assert.equal(other.statusCode, 200)
})

test('unknown store 513, unknown book 515, unknown picture 404, bad index 400', async () => {
  assert.equal((await call(t.app, 'GET', `/stores/nope/books/pics`)).status, 513)
  assert.equal((await call(t.app, 'GET', `/stores/${store}/books/nope`)).status, 515)
  assert.equal((await call(t.app, 'GET', `/stores/nope/books/pics/pictures/0`)).status, 513)
  assert.equal((await call(t.app, 'GET', `/stores/${store}/books/nope/pictures/0`)).status, 515)
  const missing = await call(t.app, 'GET', `/stores/${store}/books/pics/pictures/5`)
  assert.equal(missing.status, 404)
  assert.match(missing.body.message, /picture/)
  assert.equal((await call(t.app, 'GET', `/stores/${store}/books/none/pictures/0`)).status, 404)
  assert.equal((await call(t.app, 'GET', `/stores/${store}/books/pics/pictures/-1`)).status, 400)
  assert.equal((await call(t.app, 'GET', `/stores/${store}/books/pics/pictures/x`)).status, 400)
})

test('ids with reserved URL characters round-trip through the picture URLs', async () => {
  const odd = 'a b/c?d#é'
  await addBook(t.app, seller, store, { id: odd, title: '怪名', price: 1, pictures: [b64(PNG)] })
  const r = await call(t.app, 'GET', `/stores/${store}/books/${encodeURIComponent(odd)}`)
  assert.equal(r.status, 200)
  assert.equal(r.body.book_id, odd)
  const url = (r.body.pictures as string[])[0] as string
  const res = await t.app.inject({ method: 'GET', url })
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['content-type'], 'image/png')
})
