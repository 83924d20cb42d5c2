/**
 * The web shop through app.inject, as a browser without a screen: what each page shows, what each
 * form changes (balances, stock, statuses, sessions), and how it refuses — forged posts, wrong
 * passwords, bad input, other people's orders and stores.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { CATALOGUES } from '../../src/pages/i18n/index.ts'
import { coverPng } from '../../tools/demo/png.ts'
import {
  addBook,
  addFunds,
  assertMoneyInvariants,
  balanceOf,
  bookInfo,
  newStore,
  newUser,
  orderStatus,
  pay,
  placeOrder,
  post,
  rowsOf,
  startApp,
  stockOf,
  type TestApp,
  uid,
} from '../support/helpers.ts'
import { textOf, WebClient } from '../support/web-client.ts'

let t: TestApp
before(async () => {
  t = await startApp()
})
after(() => t.close())

const XSS = '<img src=x onerror=alert(1)>'

async function shopWithBook(price = 3879, stock = 5, extra: Record<string, unknown> = {}) {
  const seller = await newUser(t.app, 'seller')
  const storeId = await newStore(t.app, seller)
  const bookId = uid('book')
  await addBook(
    t.app,
    seller,
    storeId,
    bookInfo(bookId, price, { tags: ['小说'], author: '作者', ...extra }),
    stock,
  )
  return { seller, storeId, bookId }
}

async function orderIdsOf(buyer: string): Promise<string[]> {
  const rows = await rowsOf<{ order_id: string }>(
    t.db,
    'SELECT order_id FROM orders WHERE buyer_id = $1 ORDER BY created_at',
    [buyer],
  )
  return rows.map((r) => r.order_id)
}

describe('strings and languages', () => {
  test('both catalogues have the same keys, none empty', () => {
    const zh = Object.keys(CATALOGUES.zh).sort()
    const en = Object.keys(CATALOGUES.en).sort()
    assert.deepEqual(zh, en)
    for (const [lang, c] of Object.entries(CATALOGUES))
      for (const [k, v] of Object.entries(c)) assert.ok(v.trim() !== '', `${lang} ${k} is empty`)
  })

  test('Accept-Language picks the language; ?lang= switches it and a cookie remembers it', async () => {
    const b = new WebClient(t.app)
    assert.match((await b.get('/', { 'accept-language': 'en-GB,en;q=0.9' })).body, /<html lang="en">/)
    assert.match((await b.get('/', { 'accept-language': 'fr, zh-TW;q=0.5' })).body, /<html lang="zh-CN">/)
    assert.match((await b.get('/')).body, /<html lang="zh-CN">/, 'Chinese without a preference')
    const switched = await b.get('/search?q=x&lang=en')
    assert.match(switched.body, /<html lang="en">/)
    assert.match(switched.body, /href="\/search\?q=x&amp;lang=zh"/, 'the switch keeps the page and its query')
    assert.match((await b.get('/', { 'accept-language': 'zh-CN' })).body, /<html lang="en">/, 'cookie wins')
  })
})

describe('pages show the shop', () => {
  test('front page, search and book page show a hostile title as text, and the price as money', async () => {
    const { storeId, bookId } = await shopWithBook(3879, 5, { title: XSS, book_intro: `intro ${XSS}` })
    const b = new WebClient(t.app)
    for (const url of ['/', `/search?q=${encodeURIComponent('img')}`, `/book/${storeId}/${bookId}`]) {
      const r = await b.get(url)
      assert.equal(r.status, 200, url)
      assert.ok(!r.body.includes(XSS), `${url} has no raw tag`)
      // The search page marks the query's word inside the escaped text.
      const shown = url.startsWith('/search') ? '&lt;<mark>img</mark> src=x' : '&lt;img src=x'
      assert.ok(r.body.includes(`${shown} onerror=alert(1)&gt;`), `${url} shows it escaped`)
      assert.match(r.body, /<form role="search" method="get" action="\/search"[^>]*>[\s\S]*?name="q"/)
      assert.match(String(r.headers['content-security-policy']), /script-src 'self'/)
      assert.doesNotMatch(r.body, /<script>|<style>| on\w+="/, 'no inline script or style')
    }
    const page = await b.get(`/book/${storeId}/${bookId}`)
    assert.ok(textOf(page.body).includes('¥38.79'))
    assert.ok(textOf(page.body).includes('库存 5 本'))
  })

  test('search marks the query in titles and excerpts, as escaped text', async () => {
    const { storeId } = await shopWithBook(2500, 3, {
      title: `${XSS} Pythonista 指南`,
      book_intro: `关于 ${XSS} 与 pythonista 的书`,
    })
    const b = new WebClient(t.app, { 'accept-language': 'en' })
    const r = await b.get(`/search?q=pythonista&store_id=${storeId}`)
    assert.equal(r.status, 200)
    assert.ok(!r.body.includes(XSS), 'no raw tag')
    assert.ok(
      r.body.includes('&lt;img src=x onerror=alert(1)&gt; <mark>Pythonista</mark> 指南'),
      'title marked',
    )
    assert.ok(r.body.includes('<mark>pythonista</mark> 的书'), 'excerpt marked')
    assert.doesNotMatch(r.body, / on\w+="/)
  })

  test('search refines by facets: tags, prices, stores and stock, each with its count over the whole match', async () => {
    const seller = await newUser(t.app, 'seller')
    const stores = [await newStore(t.app, seller), await newStore(t.app, seller)]
    const tag = uid('facet')
    for (let i = 0; i < 30; i++)
      await addBook(
        t.app,
        seller,
        stores[i % 3 === 0 ? 0 : 1] as string,
        bookInfo(uid('fc'), i < 10 ? 1500 : 6000, { tags: [tag, i < 5 ? '稀有' : '常见'] }),
        i % 2,
      )
    const b = new WebClient(t.app, { 'accept-language': 'en' })
    const r = await b.get(`/search?tag=${tag}`)
    assert.equal(r.status, 200)
    const text = textOf(r.body)
    assert.ok(text.includes('30 books'))
    // Counts of all 30 matches, though the page shows 20.
    assert.match(
      r.body,
      /href="\/search\?tag=[^"]+&amp;tag=%E5%B8%B8%E8%A7%81">常见 <span class="muted">25<\/span>/,
    )
    assert.match(
      r.body,
      /href="\/search\?tag=[^"]+&amp;tag=%E7%A8%80%E6%9C%89">稀有 <span class="muted">5<\/span>/,
    )
    assert.match(r.body, /min_price=0&amp;max_price=2000">[^<]+<\/a> <span class="muted">10<\/span>/)
    assert.match(r.body, /min_price=5000&amp;max_price=10000">[^<]+<\/a> <span class="muted">20<\/span>/)
    assert.match(r.body, /in_stock=true">In stock only<\/a> <span class="muted">15<\/span>/)
    assert.match(
      r.body,
      new RegExp(`store_id=${stores[1]}&amp;tag=[^"]+">${stores[1]}</a> <span class="muted">20</span>`),
    )
    const inStore = await b.get(`/search?tag=${tag}&store_id=${stores[0]}`)
    assert.ok(textOf(inStore.body).includes('10 books'))
    assert.ok(inStore.body.includes(`aria-label="Remove store ${stores[0]}"`))
  })

  test('search filters by tag, price and stock, sorts and pages with links', async () => {
    const seller = await newUser(t.app, 'seller')
    const storeId = await newStore(t.app, seller)
    const tag = uid('tag')
    for (let i = 0; i < 25; i++)
      await addBook(t.app, seller, storeId, bookInfo(uid('pg'), 1000 + i * 100, { tags: [tag] }), i % 2)
    const b = new WebClient(t.app, { 'accept-language': 'en' })
    const all = await b.get(`/search?tag=${tag}`)
    assert.ok(textOf(all.body).includes('25 books'))
    assert.match(all.body, /rel="next" href="\/search\?tag=[^"]+&amp;page=2"/)
    const second = await b.get(`/search?tag=${tag}&page=2`)
    assert.equal((second.body.match(/class="card"/g) ?? []).length, 5, 'the last page holds the rest')
    const cheap = await b.get(`/search?tag=${tag}&max_price=2000&sort=price_desc`)
    assert.ok(textOf(cheap.body).includes('11 books'))
    assert.ok(
      textOf(cheap.body).indexOf('¥20.00') < textOf(cheap.body).indexOf('¥19.00'),
      'price high to low',
    )
    const stocked = await b.get(`/search?tag=${tag}&in_stock=true`)
    assert.ok(textOf(stocked.body).includes('12 books'))
    for (const bad of [
      'page=0',
      'sort=cheapest',
      'min_price=-1',
      'page_size=1000',
      'min_price=500&max_price=100',
    ]) {
      const r = await b.get(`/search?${bad}`)
      assert.equal(r.status, 400, bad)
      assert.match(r.body, /Please check/)
    }
  })

  test('unknown pages and listings are a friendly 404 page; API clients still get JSON', async () => {
    const b = new WebClient(t.app, { 'accept-language': 'en' })
    for (const url of ['/no/such/page', '/book/nostore/nobook']) {
      const r = await b.get(url)
      assert.equal(r.status, 404, url)
      assert.match(r.body, /Page not found/)
      assert.match(String(r.headers['content-type']), /text\/html/)
    }
    const odd = await b.get('/book/a%00b/c')
    assert.equal(odd.status, 400, 'a NUL in a path is refused, as a page')
    assert.match(String(odd.headers['content-type']), /text\/html/)
    const api = await t.app.inject({ url: '/no/such/page' })
    assert.deepEqual(api.json(), { message: 'no route GET /no/such/page' })
  })

  test('static assets have hashed names, are compressed and cached for a year', async () => {
    const b = new WebClient(t.app)
    const home = await b.get('/')
    const css = /href="(\/assets\/style\.[0-9a-f]{12}\.css)"/.exec(home.body)?.[1]
    assert.ok(css)
    const r = await t.app.inject({ url: css, headers: { 'accept-encoding': 'br' } })
    assert.equal(r.statusCode, 200)
    assert.equal(r.headers['content-encoding'], 'br')
    assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable')
    assert.equal((await t.app.inject({ url: '/assets/style.000000000000.css' })).statusCode, 404)
    const api = await t.app.inject({ url: '/health', headers: { 'accept-encoding': 'br' } })
    assert.equal(api.headers['content-encoding'], undefined, 'the JSON API is not compressed')
  })
})

describe('accounts and sessions', () => {
  test('signing up sets an HttpOnly SameSite=Lax cookie holding a token of the sessions table', async () => {
    const b = new WebClient(t.app)
    const user = uid('web')
    const r = await b.signIn(user, 'secret')
    assert.equal(r.status, 303)
    assert.equal(r.location, '/account?done=auth.register.done')
    const set = ([] as string[]).concat(r.headers['set-cookie'] as string[])
    const session = set.find((c) => c.startsWith('bookstore_session='))
    assert.ok(session)
    assert.match(session, /HttpOnly/)
    assert.match(session, /SameSite=Lax/)
    const rows = await rowsOf<{ terminal: string }>(
      t.db,
      'SELECT terminal FROM sessions WHERE user_id = $1',
      [user],
    )
    assert.equal(rows.length, 1)
    assert.match(rows[0]?.terminal ?? '', /^browser /)
    // The same session works as an API token.
    const token = b.cookies.get('bookstore_session') ?? ''
    const api = await t.app.inject({ url: `/buyer/balance?user_id=${user}`, headers: { token } })
    assert.equal(api.statusCode, 200)
    // Signing in again from the same browser replaces its session; signing out ends it.
    await b.signIn(user, 'secret', true)
    assert.equal((await rowsOf(t.db, 'SELECT 1 FROM sessions WHERE user_id = $1', [user])).length, 1)
    await b.get('/account')
    const out = await b.post('/logout')
    assert.equal(out.status, 303)
    assert.equal((await rowsOf(t.db, 'SELECT 1 FROM sessions WHERE user_id = $1', [user])).length, 0)
    assert.equal((await b.get('/account')).status, 303, 'signed out')
  })

  test('a wrong password or a taken name re-renders the form with the reason, and no session', async () => {
    const b = new WebClient(t.app, { 'accept-language': 'en' })
    const user = uid('web')
    await b.signIn(user, 'right')
    const other = new WebClient(t.app, { 'accept-language': 'en' })
    const wrong = await other.signIn(user, 'wrong', true)
    assert.equal(wrong.status, 401)
    assert.match(wrong.body, /Wrong user name or password/)
    assert.match(wrong.body, new RegExp(`value="${user}"`), 'the name is kept')
    assert.equal(other.cookies.get('bookstore_session'), undefined)
    const taken = await other.signIn(user, 'x')
    assert.equal(taken.status, 409)
    assert.match(taken.body, /That user name is taken/)
    const empty = await other.post('/register', { user_id: '', password: '' })
    assert.equal(empty.status, 400)
  })

  test('a page that needs a sign-in sends the visitor to /login and back; never to another site', async () => {
    const b = new WebClient(t.app)
    const r = await b.get('/account/orders?status=paid')
    assert.equal(r.status, 303)
    assert.equal(r.location, `/login?next=${encodeURIComponent('/account/orders?status=paid')}`)
    const form = await b.get(r.location ?? '')
    assert.match(form.body, /name="next" value="\/account\/orders\?status=paid"/)
    const user = uid('web')
    await new WebClient(t.app).signIn(user, 'pw')
    const back = await b.post('/login', {
      user_id: user,
      password: 'pw',
      next: '/account/orders?status=paid',
    })
    assert.equal(back.location, '/account/orders?status=paid')
    for (const evil of ['//evil.example/x', '/\\evil.example', 'https://evil.example/', '/ok\r\nx'])
      assert.equal(
        (await b.post('/login', { user_id: user, password: 'pw', next: evil })).location,
        '/',
        evil,
      )
  })
})

describe('CSRF', () => {
  test('a forged post (no token, another browser’s token, or another origin) is refused and changes nothing', async () => {
    const victim = new WebClient(t.app, { 'accept-language': 'en' })
    const user = uid('victim')
    await victim.signIn(user, 'pw')
    await victim.get('/account')
    const attacker = new WebClient(t.app)
    await attacker.get('/')
    const attempts = [{ _csrf: '' }, { _csrf: attacker.csrf ?? 'x' }, { _csrf: 'A'.repeat(43) }]
    for (const fields of attempts) {
      const r = await victim.post('/account/top-up', { ...fields, add_value: '100', password: 'pw' })
      assert.equal(r.status, 403)
      assert.match(r.body, /expired or came from another site/)
    }
    const crossOrigin = await victim.post(
      '/account/top-up',
      { add_value: '100', password: 'pw' },
      { origin: 'http://evil.example' },
    )
    assert.equal(crossOrigin.status, 403)
    assert.equal(await balanceOf(t.db, user), 0, 'no money moved')
    const ok = await victim.post(
      '/account/top-up',
      { add_value: '100.5', password: 'pw' },
      { origin: 'http://localhost:80' },
    )
    assert.equal(ok.status, 303)
    assert.equal(await balanceOf(t.db, user), 10050)
    // Signing out is a form too: a forged one leaves the session alone.
    assert.equal((await victim.post('/logout', { _csrf: 'nope' })).status, 403)
    assert.equal((await rowsOf(t.db, 'SELECT 1 FROM sessions WHERE user_id = $1', [user])).length, 1)
  })
})

describe('a shopper buys, pays, and confirms receipt; the seller ships or refuses', () => {
  test('top-up refuses bad amounts and wrong passwords and changes nothing', async () => {
    const b = new WebClient(t.app, { 'accept-language': 'en' })
    const user = uid('buyer')
    await b.signIn(user, 'pw')
    await b.get('/account')
    for (const bad of ['', 'abc', '-5', '1.234', '0', '1e9', '99999999999999999'])
      assert.equal((await b.post('/account/top-up', { add_value: bad, password: 'pw' })).status, 400, bad)
    const wrong = await b.post('/account/top-up', { add_value: '10', password: 'nope' })
    assert.equal(wrong.status, 401)
    assert.equal(await balanceOf(t.db, user), 0)
    await b.post('/account/top-up', { add_value: '10', password: 'pw' })
    const page = await b.get('/account')
    assert.ok(textOf(page.body).includes('¥10.00'))
  })

  test('buy now → pay → ship → receive moves stock and money as the API does', async () => {
    const { seller, storeId, bookId } = await shopWithBook(3879, 5)
    const b = new WebClient(t.app, { 'accept-language': 'en' })
    const buyer = uid('buyer')
    await b.signIn(buyer, 'pw')
    await b.get(`/book/${storeId}/${bookId}`)
    for (const bad of ['0', '-1', 'two', '99999999999'])
      assert.equal((await b.post(`/book/${storeId}/${bookId}/buy`, { count: bad })).status, 400, bad)
    const short = await b.post(`/book/${storeId}/${bookId}/buy`, { count: '6' })
    assert.equal(short.status, 409)
    assert.match(short.body, /Not enough copies/)
    assert.equal(await stockOf(t.db, storeId, bookId), 5)
    const bought = await b.post(`/book/${storeId}/${bookId}/buy`, { count: '2' })
    assert.equal(bought.status, 303)
    const [orderId] = await orderIdsOf(buyer)
    assert.ok(orderId)
    assert.equal(bought.location, `/account/orders?done=orders.placed#order-${orderId}`)
    assert.equal(await stockOf(t.db, storeId, bookId), 3)
    assert.equal(await orderStatus(t.db, orderId), 'unpaid')

    const orders = await b.get('/account/orders')
    assert.ok(textOf(orders.body).includes('Awaiting payment'))
    assert.ok(textOf(orders.body).includes('¥77.58'))
    const poor = await b.post(`/account/orders/${orderId}/pay`, { password: 'pw' })
    assert.equal(poor.status, 409)
    assert.match(poor.body, /balance is too low/)
    await b.post('/account/top-up', { add_value: '100', password: 'pw' })
    assert.equal((await b.post(`/account/orders/${orderId}/pay`, { password: 'wrong' })).status, 401)
    assert.equal(await orderStatus(t.db, orderId), 'unpaid')
    assert.equal((await b.post(`/account/orders/${orderId}/pay`, { password: 'pw' })).status, 303)
    assert.equal(await orderStatus(t.db, orderId), 'paid')
    assert.equal(await balanceOf(t.db, buyer), 10000 - 7758)
    assert.equal(
      (await b.post(`/account/orders/${orderId}/pay`, { password: 'pw' })).status,
      409,
      'paid once',
    )
    assert.equal((await b.post(`/account/orders/${orderId}/receive`)).status, 409, 'not shipped yet')

    // Someone else cannot ship it; its seller can, from the console.
    const stranger = new WebClient(t.app)
    await stranger.signIn(uid('stranger'), 'pw')
    await stranger.get('/sell')
    assert.equal((await stranger.post(`/sell/orders/${orderId}/ship`)).status, 401)
    const s = new WebClient(t.app, { 'accept-language': 'en' })
    await s.signIn(seller.userId, seller.password, true)
    const console = await s.get('/sell')
    assert.match(console.body, new RegExp(`action="/sell/orders/${orderId}/ship"`))
    assert.equal((await s.post(`/sell/orders/${orderId}/ship`)).status, 303)
    assert.equal(await orderStatus(t.db, orderId), 'shipped')
    assert.equal((await b.post(`/account/orders/${orderId}/cancel`)).status, 409, 'shipped: too late')
    assert.equal((await b.post(`/account/orders/${orderId}/receive`)).status, 303)
    assert.equal(await orderStatus(t.db, orderId), 'received')
    assert.equal(await balanceOf(t.db, seller.userId), 7758)
    const overview = await s.get('/sell')
    assert.ok(textOf(overview.body).includes('¥77.58'), 'the sale is in the overview')
    assert.match(overview.body, /<svg viewBox/)
    await assertMoneyInvariants(t.db)
  })

  test('buying signed out goes to sign-in and creates nothing; a seller refuses a paid order with a reason', async () => {
    const { seller, storeId, bookId } = await shopWithBook(1000, 3)
    const anon = new WebClient(t.app)
    await anon.get(`/book/${storeId}/${bookId}`)
    const r = await anon.post(`/book/${storeId}/${bookId}/buy`, { count: '1' })
    assert.equal(r.location, `/login?next=${encodeURIComponent(`/book/${storeId}/${bookId}`)}`)
    assert.equal(await stockOf(t.db, storeId, bookId), 3)

    const buyer = await newUser(t.app, 'buyer')
    await addFunds(t.app, buyer, 5000)
    const b = new WebClient(t.app)
    await b.signIn(buyer.userId, buyer.password, true)
    await b.get(`/book/${storeId}/${bookId}`)
    await b.post(`/book/${storeId}/${bookId}/buy`, { count: '2' })
    const [orderId = ''] = await orderIdsOf(buyer.userId)
    await b.post(`/account/orders/${orderId}/pay`, { password: buyer.password })
    assert.equal(await balanceOf(t.db, buyer.userId), 3000)
    const s = new WebClient(t.app)
    await s.signIn(seller.userId, seller.password, true)
    await s.get('/sell')
    assert.equal((await s.post(`/sell/orders/${orderId}/refuse`, { reason: 'x'.repeat(2000) })).status, 400)
    assert.equal(await orderStatus(t.db, orderId), 'paid')
    assert.equal((await s.post(`/sell/orders/${orderId}/refuse`, { reason: 'out of print' })).status, 303)
    assert.equal(await orderStatus(t.db, orderId), 'cancelled')
    assert.equal(await balanceOf(t.db, buyer.userId), 5000, 'refunded')
    assert.equal(await stockOf(t.db, storeId, bookId), 3, 'stock back')
    const rows = await rowsOf<{ cancel_reason: string }>(
      t.db,
      'SELECT cancel_reason FROM orders WHERE order_id = $1',
      [orderId],
    )
    assert.equal(rows[0]?.cancel_reason, 'seller')
    assert.equal((await s.post(`/sell/orders/${orderId}/ship`)).status, 409)
    await assertMoneyInvariants(t.db)
  })
})

describe('the seller console', () => {
  test('opens a store, adds a book with a picture, adds stock; refuses bad input without writing', async () => {
    const s = new WebClient(t.app, { 'accept-language': 'en' })
    const seller = uid('seller')
    await s.signIn(seller, 'pw')
    await s.get('/sell')
    const store = uid('shop')
    const created = await s.post('/sell/stores', { store_id: store })
    assert.equal(created.location, `/sell/store/${store}?done=sell.storeCreated`)
    assert.equal((await s.post('/sell/stores', { store_id: store })).status, 409, 'taken')
    assert.equal((await s.post('/sell/stores', { store_id: '' })).status, 400)
    await s.get(`/sell/store/${store}`)
    const png = coverPng(3)
    const bookId = uid('b')
    const fields = {
      id: bookId,
      title: '新书',
      price: '38.79',
      stock_level: '4',
      tags: '小说, 历史',
      author: '作者',
    }
    const forged = await s.postMultipart(`/sell/store/${store}/books`, { ...fields, _csrf: 'x' }, [
      ['pictures', 'c.png', png],
    ])
    assert.equal(forged.status, 403)
    for (const [k, v] of [
      ['price', 'free'],
      ['title', ''],
      ['stock_level', '-1'],
      ['id', 'x'.repeat(300)],
    ] as const)
      assert.equal(
        (await s.postMultipart(`/sell/store/${store}/books`, { ...fields, [k]: v })).status,
        400,
        k,
      )
    assert.equal((await rowsOf(t.db, 'SELECT 1 FROM listings WHERE store_id = $1', [store])).length, 0)
    const added = await s.postMultipart(`/sell/store/${store}/books`, fields, [['pictures', 'c.png', png]])
    assert.equal(added.status, 303)
    const listing = await rowsOf<{ price: number; stock_level: number; tags: string[] }>(
      t.db,
      'SELECT price, stock_level, tags FROM listings WHERE store_id = $1 AND book_id = $2',
      [store, bookId],
    )
    assert.deepEqual(listing, [{ price: 3879, stock_level: 4, tags: ['小说', '历史'] }])
    const pic = await t.app.inject({ url: `/cover/${store}/${bookId}` })
    assert.equal(pic.headers['content-type'], 'image/png')
    assert.deepEqual(pic.rawPayload, png)
    assert.equal((await s.postMultipart(`/sell/store/${store}/books`, fields)).status, 409, 'book id taken')

    await s.get(`/sell/store/${store}`)
    assert.equal(
      (await s.post(`/sell/store/${store}/stock`, { book_id: bookId, add_stock_level: '0' })).status,
      400,
    )
    assert.equal(
      (await s.post(`/sell/store/${store}/stock`, { book_id: bookId, add_stock_level: '6' })).status,
      303,
    )
    assert.equal(await stockOf(t.db, store, bookId), 10)
    assert.equal(
      (await s.post(`/sell/store/${store}/stock`, { book_id: 'nope', add_stock_level: '1' })).status,
      404,
    )

    // Another seller neither sees nor changes this store.
    const other = new WebClient(t.app)
    await other.signIn(uid('other'), 'pw')
    assert.equal((await other.get(`/sell/store/${store}`)).status, 404)
    assert.equal(
      (await other.post(`/sell/store/${store}/stock`, { book_id: bookId, add_stock_level: '5' })).status,
      401,
    )
    assert.equal(
      (await other.postMultipart(`/sell/store/${store}/books`, { ...fields, id: 'z' })).status,
      404,
    )
    assert.equal(await stockOf(t.db, store, bookId), 10)
  })
})

describe('cart, checkout and reviews', () => {
  test('add to the cart from the book page, change counts, check out one order per store and pay', async () => {
    const a = await shopWithBook(1000, 5)
    const c = await shopWithBook(2500, 1)
    const b = new WebClient(t.app, { 'accept-language': 'en' })
    const buyer = uid('cart')
    await b.signIn(buyer, 'pw')
    await b.post('/account/top-up', { add_value: '100', password: 'pw' })
    await b.get(`/book/${a.storeId}/${a.bookId}`)
    const added = await b.post('/cart', { store_id: a.storeId, book_id: a.bookId, count: '2', back: 'book' })
    assert.equal(added.location, `/book/${a.storeId}/${a.bookId}?done=cart.added`)
    await b.post('/cart', { store_id: a.storeId, book_id: a.bookId, count: '1', back: 'book' })
    await b.post('/cart', { store_id: c.storeId, book_id: c.bookId, count: '1', back: 'book' })
    let page = await b.get('/cart')
    assert.ok(textOf(page.body).includes('¥55.00'), 'total of 3 × ¥10 + ¥25')
    assert.equal((await b.post('/cart', { store_id: a.storeId, book_id: a.bookId, count: 'x' })).status, 400)
    assert.equal((await b.post('/cart', { store_id: a.storeId, book_id: 'nope', count: '1' })).status, 404)
    await b.post('/cart', { store_id: a.storeId, book_id: a.bookId, count: '2' })
    page = await b.get('/cart')
    assert.ok(textOf(page.body).includes('¥45.00'))
    // A wrong password places nothing.
    assert.equal((await b.post('/cart/checkout', { password: 'wrong' })).status, 401)
    assert.deepEqual(await orderIdsOf(buyer), [])
    const done = await b.post('/cart/checkout', { password: 'pw' })
    assert.equal(done.location, '/account/orders?done=orders.paid')
    const ids = await orderIdsOf(buyer)
    assert.equal(ids.length, 2, 'one order per store')
    for (const id of ids) assert.equal(await orderStatus(t.db, id), 'paid')
    assert.equal(await balanceOf(t.db, buyer), 10000 - 4500)
    assert.equal(await stockOf(t.db, a.storeId, a.bookId), 3)
    assert.equal(await stockOf(t.db, c.storeId, c.bookId), 0)
    assert.match((await b.get('/cart')).body, /Your cart is empty/)
    assert.equal((await b.post('/cart/checkout', { password: 'pw' })).status, 400, 'empty cart')
    await assertMoneyInvariants(t.db)
  })

  test('a received order is reviewed from the orders page; the review shows on the book page; the seller replies', async () => {
    const { seller, storeId, bookId } = await shopWithBook(1000, 5)
    const buyer = await newUser(t.app, 'rev')
    await addFunds(t.app, buyer, 5000)
    const b = new WebClient(t.app, { 'accept-language': 'en' })
    await b.signIn(buyer.userId, buyer.password, true)
    await b.get(`/book/${storeId}/${bookId}`)
    await b.post(`/book/${storeId}/${bookId}/buy`, { count: '1' })
    const [orderId = ''] = await orderIdsOf(buyer.userId)
    await b.post(`/account/orders/${orderId}/pay`, { password: buyer.password })
    const early = await b.post(`/account/orders/${orderId}/review`, {
      book_id: bookId,
      rating: '5',
      text: 'great',
    })
    assert.equal(early.status, 409, 'not received yet')
    await post(t.app, '/seller/send_books', { user_id: seller.userId, order_id: orderId }, seller.token)
    await b.post(`/account/orders/${orderId}/receive`)
    const orders = await b.get('/account/orders')
    assert.match(orders.body, new RegExp(`action="/account/orders/${orderId}/review"`))
    for (const bad of ['0', '6', 'x'])
      assert.equal(
        (await b.post(`/account/orders/${orderId}/review`, { book_id: bookId, rating: bad })).status,
        400,
      )
    const posted = await b.post(`/account/orders/${orderId}/review`, {
      book_id: bookId,
      rating: '4',
      text: XSS,
    })
    assert.equal(posted.status, 303)
    const book = await b.get(`/book/${storeId}/${bookId}`)
    assert.ok(textOf(book.body).includes('4.0 of 5 (1 reviews)'))
    assert.ok(book.body.includes('&lt;img src=x onerror=alert(1)&gt;') && !book.body.includes(XSS))
    const s = new WebClient(t.app, { 'accept-language': 'en' })
    await s.signIn(seller.userId, seller.password, true)
    const console = await s.get('/sell')
    const reviewId = /action="\/sell\/reviews\/([^/]+)\/reply"/.exec(console.body)?.[1] ?? ''
    assert.ok(reviewId)
    assert.equal((await b.post(`/sell/reviews/${reviewId}/reply`, { text: 'not mine' })).status, 401)
    assert.equal((await s.post(`/sell/reviews/${reviewId}/reply`, { text: '' })).status, 400)
    assert.equal((await s.post(`/sell/reviews/${reviewId}/reply`, { text: 'Thank you!' })).status, 303)
    assert.ok(textOf((await b.get(`/book/${storeId}/${bookId}`)).body).includes('Thank you!'))
  })

  test('the book page pages its reviews with links, sorts them newest or by rating, and keeps the histogram', async () => {
    const { seller, storeId, bookId } = await shopWithBook(100, 100)
    const buyer = await newUser(t.app, 'many')
    await addFunds(t.app, buyer, 100_000)
    const shop = { seller, storeId, bookIds: [bookId] }
    // 12 reviews, one per received order: ratings 1,2,3,4,5,1,2,… with the text saying which one.
    for (let i = 0; i < 12; i++) {
      const orderId = await placeOrder(t.app, buyer, shop)
      assert.equal((await pay(t.app, buyer, orderId)).status, 200)
      const act = { user_id: seller.userId, order_id: orderId }
      assert.equal((await post(t.app, '/seller/send_books', act, seller.token)).status, 200)
      const buyerAct = { user_id: buyer.userId, order_id: orderId }
      assert.equal((await post(t.app, '/buyer/receive_books', buyerAct, buyer.token)).status, 200)
      const review = {
        user_id: buyer.userId,
        order_id: orderId,
        book_id: bookId,
        rating: (i % 5) + 1,
        text: `review-${i}`,
      }
      assert.equal((await post(t.app, '/buyer/review', review, buyer.token)).status, 200)
      await new Promise((r) => setTimeout(r, 3))
    }
    const shown = (body: string) => [...body.matchAll(/review-(\d+)/g)].map((m) => Number(m[1]))
    const starsOf = (i: number) => (i % 5) + 1
    for (const lang of ['en', 'zh'] as const) {
      const b = new WebClient(t.app, { 'accept-language': lang })
      const first = await b.get(`/book/${storeId}/${bookId}`)
      assert.equal(first.status, 200)
      assert.deepEqual(shown(first.body), [11, 10, 9, 8, 7, 6, 5, 4, 3, 2], 'newest first, ten a page')
      // The histogram: ratings 1 and 2 three times each, 3–5 twice each.
      for (const [n, count] of [
        [1, 3],
        [2, 3],
        [3, 2],
        [4, 2],
        [5, 2],
      ])
        assert.match(
          first.body,
          new RegExp(
            `<meter min="0" max="12" value="${count}" aria-label="${CATALOGUES[lang]['book.reviewsWithStars'].replace('{n}', String(n)).replace('{count}', String(count))}"`,
          ),
        )
      const next = /<a rel="next" href="([^"]+)"/.exec(first.body)?.[1]?.replaceAll('&amp;', '&') ?? ''
      assert.equal(next, `/book/${storeId}/${bookId}?page=2#reviews`)
      const second = await b.get(next.replace('#reviews', ''))
      assert.deepEqual(shown(second.body), [1, 0], 'the last page holds the oldest two')
      assert.ok(!/rel="next"/.test(second.body) && /rel="prev"/.test(second.body))
      // Sorting is a link; ties on the rating show the newest first.
      const sortLink =
        new RegExp(`href="([^"]+)">${CATALOGUES[lang]['book.reviewsSort.rating_desc']}<`).exec(
          first.body,
        )?.[1] ?? ''
      assert.equal(sortLink.replaceAll('&amp;', '&'), `/book/${storeId}/${bookId}?sort=rating_desc#reviews`)
      const best = await b.get(`/book/${storeId}/${bookId}?sort=rating_desc`)
      const expected = [...Array(12).keys()].sort((x, y) => starsOf(y) - starsOf(x) || y - x)
      assert.deepEqual(shown(best.body), expected.slice(0, 10))
      const worst2 = await b.get(`/book/${storeId}/${bookId}?sort=rating_asc&page=2`)
      const asc = [...Array(12).keys()].sort((x, y) => starsOf(x) - starsOf(y) || y - x)
      assert.deepEqual(shown(worst2.body), asc.slice(10))
      assert.match(
        worst2.body,
        /href="[^"]*\?sort=rating_asc#reviews" rel="prev"|rel="prev" href="[^"]*\?sort=rating_asc#reviews"/,
        'paging keeps the order',
      )
      const beyond = await b.get(`/book/${storeId}/${bookId}?page=9`)
      assert.equal(beyond.status, 200)
      assert.deepEqual(shown(beyond.body), [])
      assert.ok(textOf(beyond.body).includes(CATALOGUES[lang]['book.reviewsPageEmpty']))
      for (const bad of ['?page=0', '?page=x', '?sort=best', '?page=100001']) {
        const r = await b.get(`/book/${storeId}/${bookId}${bad}`)
        assert.equal(r.status, 400, bad)
        assert.ok(!r.body.includes('review-'), 'no reviews on an error page')
      }
    }
  })
})
