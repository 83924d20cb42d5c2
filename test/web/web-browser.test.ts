/**
 * The web shop as people use it, in headless Chromium (Debian's, as the Swagger UI test): a shopper's
 * whole journey and a seller's, at phone and desktop widths in both languages; checkout by keyboard
 * alone; axe-core on every page; no console errors and no request off this machine; a forged
 * cross-site form and a hostile title. Screenshots for the README go to docs/screenshots/.
 * Skipped with a message when no browser is installed (CI installs one, and fails without it).
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { coverPng } from '../../tools/demo/png.ts'
import { launchBrowser, needBrowser as needBrowserOf } from '../support/browser.ts'
import { makePlainCatalogue } from '../support/catalogue-fixture.ts'
import {
  addFunds,
  balanceOf,
  bookInfo,
  newStore,
  newUser,
  orderStatus,
  placeOrder,
  post,
  rowsOf,
  type Shop,
  startApp,
  stockOf,
  type TestApp,
  type User,
  uid,
} from '../support/helpers.ts'

const SHOTS = new URL('../../docs/screenshots/', import.meta.url)
const AXE = readFileSync(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url), 'utf8')
const XSS = '<img src=x onerror=alert(1)>'
const PHONE = { width: 375, height: 812 }
const DESKTOP = { width: 1280, height: 900 }

let t: TestApp
let base: string
let browser: Browser | undefined
let shop: Shop
let attacker: Server | undefined

const TITLES = [
  ['美丽心灵', '西尔维娅·娜萨', 3879, ['传记', '数学']],
  ['三体', '刘慈欣', 2300, ['科幻', '小说']],
  ['The Pragmatic Programmer', 'Andrew Hunt', 8900, ['编程', 'computing']],
  ['活着', '余华', 2000, ['小说', '文学']],
  ['人类简史', '尤瓦尔·赫拉利', 6800, ['历史']],
  ['围城', '钱钟书', 1950, ['小说', '文学']],
  ['Clean Code', 'Robert C. Martin', 7600, ['编程']],
  ['红楼梦', '曹雪芹', 5990, ['古典', '文学']],
  [XSS, 'Mallory', 100, ['test']],
] as const

const importDir = mkdtempSync(join(tmpdir(), 'web-browser-import-'))

before(async () => {
  t = await startApp({ dataDir: join(importDir, 'data') })
  base = await t.app.listen({ port: 0, host: '127.0.0.1' })
  const seller = await newUser(t.app, 'seller')
  const storeId = await newStore(t.app, seller, uid('书店'))
  const bookIds: string[] = []
  for (const [i, [title, author, price, tags]] of TITLES.entries()) {
    const id = uid('book')
    const info = bookInfo(id, price, {
      title,
      author,
      tags,
      publisher: '出版社',
      pub_year: String(2000 + i),
      book_intro: `${title}：一本好书。\n第二段。`,
      pictures: i % 3 === 2 ? [] : [coverPng(i).toString('base64')],
    })
    const r = await post(
      t.app,
      '/seller/add_book',
      { user_id: seller.userId, store_id: storeId, book_info: info, stock_level: i === 1 ? 7 : 20 },
      seller.token,
    )
    assert.equal(r.status, 200)
    bookIds.push(id)
  }
  shop = { seller, storeId, bookIds }
  // Some sales for the seller's overview.
  const buyer = await newUser(t.app, 'buyer')
  await addFunds(t.app, buyer, 1_000_000)
  for (let i = 0; i < 4; i++) {
    const o = await placeOrder(t.app, buyer, shop, [[i % 4, 1 + i]])
    await post(t.app, '/buyer/payment', { user_id: buyer.userId, password: buyer.password, order_id: o })
    if (i % 2 === 0)
      await post(t.app, '/seller/send_books', { user_id: seller.userId, order_id: o }, seller.token)
  }
  browser = await launchBrowser()
  mkdirSync(SHOTS, { recursive: true })
})
after(async () => {
  await browser?.close()
  attacker?.close()
  await t.close()
  rmSync(importDir, { recursive: true, force: true })
})

const needBrowser = (ctx: { skip(msg: string): void }) => needBrowserOf(browser, ctx)

interface Visitor {
  context: BrowserContext
  page: Page
  /** Console errors, page errors and requests off this machine seen so far. */
  problems: string[]
}

/** A fresh browser profile at a width and language; anything not from this server is refused. */
async function visitor(b: Browser, viewport: typeof PHONE, lang: 'zh-CN' | 'en'): Promise<Visitor> {
  const context = await b.newContext({
    viewport,
    locale: lang,
    extraHTTPHeaders: { 'accept-language': lang },
  })
  const problems: string[] = []
  await context.route('**/*', (route) => {
    const url = route.request().url()
    if (url.startsWith(base) || (attacker && url.startsWith(attackerUrl()))) return route.continue()
    problems.push(`request off the machine: ${url}`)
    return route.abort()
  })
  const page = await context.newPage()
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()} at ${page.url()}`)
  })
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`)
    void d.dismiss()
  })
  return { context, page, problems }
}

/** axe-core on the page as it is: no serious or critical violation. */
async function audit(page: Page) {
  await page.evaluate(AXE)
  const found = (await page.evaluate(
    "axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations)",
  )) as { id: string; impact: string; nodes: { target: string[] }[] }[]
  const violations = found
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${v.id} (${v.impact}): ${v.nodes
          .map((n) => n.target.join(' '))
          .slice(0, 3)
          .join(', ')}`,
    )
  assert.deepEqual(violations, [], `axe on ${page.url()}`)
}

async function go(v: Visitor, path: string) {
  const r = await v.page.goto(base + path)
  await audit(v.page)
  return r
}

const attackerUrl = () => `http://127.0.0.1:${(attacker?.address() as AddressInfo | undefined)?.port}`

/** Fills a form field by its label and returns the page. */
async function fill(page: Page, label: string | RegExp, value: string) {
  await page.getByLabel(label, { exact: typeof label === 'string' }).fill(value)
}

async function signUp(v: Visitor, user: string, password: string, lang: 'zh-CN' | 'en') {
  await go(v, '/register')
  await fill(v.page, lang === 'en' ? 'User name' : '用户名', user)
  await fill(v.page, lang === 'en' ? 'Password' : '密码', password)
  await v.page.locator('main button[type=submit]').click()
  await v.page.waitForURL(/\/account/)
}

async function signInAs(v: Visitor, u: User) {
  await v.page.goto(`${base}/login`)
  await v.page.locator('#user_id').fill(u.userId)
  await v.page.locator('#password').fill(u.password)
  await v.page.locator('main button[type=submit]').click()
  await v.page.waitForLoadState()
}

const latestOrder = async (buyer: string) =>
  (
    await rowsOf<{ order_id: string }>(
      t.db,
      'SELECT order_id FROM orders WHERE buyer_id = $1 ORDER BY created_at DESC LIMIT 1',
      [buyer],
    )
  )[0]?.order_id ?? ''

for (const [name, viewport, lang] of [
  ['phone, Chinese', PHONE, 'zh-CN'],
  ['desktop, English', DESKTOP, 'en'],
] as const)
  test(`a shopper's journey and a seller's (${name})`, async (ctx) => {
    const b = needBrowser(ctx)
    if (!b) return
    const en = lang === 'en'
    const shopper = await visitor(b, viewport, lang)
    const { page } = shopper
    const user = uid('web')
    await signUp(shopper, user, 'pw', lang)
    await audit(page)
    // Top up.
    await fill(page, en ? 'Amount (¥)' : '金额（元）', '100')
    await page.locator('#password').fill('pw')
    await page.getByRole('button', { name: en ? 'Add money' : '充值' }).click()
    await page.waitForURL(/done=account\.topUp\.done/)
    assert.equal(await balanceOf(t.db, user), 10000)
    // Search with the box, open the book, buy two.
    await go(shopper, '/')
    // The script makes the search box a combobox that suggests; Enter without a chosen suggestion searches.
    const box = page.getByRole('search').getByRole('combobox')
    await box.fill('三体')
    await box.press('Enter')
    await page.waitForURL(/\/search\?q=/)
    await audit(page)
    await page.getByRole('link', { name: '三体' }).first().click()
    await page.waitForURL(/\/book\//)
    await audit(page)
    assert.match(await page.locator('main').innerText(), /¥23\.00/)
    const before = await stockOf(t.db, shop.storeId, shop.bookIds[1] ?? '')
    await page.getByLabel(en ? 'Quantity' : '数量').fill('2')
    await page.getByRole('button', { name: en ? 'Add to cart' : '加入购物车' }).click()
    await page.waitForURL(/done=cart\.added/)
    await page.getByRole('link', { name: en ? 'Cart' : '购物车' }).click()
    await page.waitForURL(/\/cart$/)
    await audit(page)
    await page.locator('#password').fill('pw')
    await page.getByRole('button', { name: en ? 'Place orders and pay' : '下单并付款' }).click()
    await page.waitForURL(/done=orders\.paid/)
    await audit(page)
    const orderId = await latestOrder(user)
    assert.equal(await orderStatus(t.db, orderId), 'paid')
    assert.equal(await stockOf(t.db, shop.storeId, shop.bookIds[1] ?? ''), before - 2)
    assert.equal(await balanceOf(t.db, user), 10000 - 4600)

    // The seller adds a book with a picture from disk and ships the order.
    const seller = await visitor(b, viewport, lang)
    await signInAs(seller, shop.seller)
    await go(seller, '/sell')
    await go(seller, `/sell/store/${encodeURIComponent(shop.storeId)}`)
    const newBook = uid('nb')
    await seller.page.locator('#id').fill(newBook)
    await seller.page.locator('#title').fill(en ? 'A new book' : '新书')
    await seller.page.locator('#price').fill('12.50')
    await seller.page.locator('#stock_level').fill('7')
    await seller.page
      .locator('#pictures')
      .setInputFiles({ name: 'cover.png', mimeType: 'image/png', buffer: coverPng(5) })
    await seller.page.getByRole('button', { name: en ? 'Add a book' : '上架新书' }).click()
    await seller.page.waitForURL(/done=sell\.bookAdded/)
    await audit(seller.page)
    const pics = await rowsOf(t.db, 'SELECT 1 FROM listing_pictures WHERE store_id = $1 AND book_id = $2', [
      shop.storeId,
      newBook,
    ])
    assert.equal(pics.length, 1)
    await go(seller, '/sell')
    await seller.page
      .locator(`#order-${orderId}`)
      .getByRole('button', { name: en ? 'Ship' : '发货' })
      .click()
    await seller.page.waitForURL(/done=sell\.shipped/)
    assert.equal(await orderStatus(t.db, orderId), 'shipped')

    // The shopper confirms receipt.
    await go(shopper, '/account/orders')
    await page
      .locator(`#order-${orderId}`)
      .getByRole('button', { name: en ? 'Confirm receipt' : '确认收货' })
      .click()
    await page.waitForURL(/done=orders\.received/)
    assert.equal(await orderStatus(t.db, orderId), 'received')
    // …and reviews the book; the seller replies.
    await page.locator(`#order-${orderId} select[name=rating]`).selectOption('4')
    await page.locator(`#order-${orderId} textarea[name=text]`).fill(en ? 'A fine read' : '很好看')
    await page
      .locator(`#order-${orderId}`)
      .getByRole('button', { name: en ? 'Post review' : '发表评价' })
      .click()
    await page.waitForURL(/done=review\.posted/)
    await audit(page)
    await go(seller, '/sell')
    await seller.page
      .locator('input[name=text]')
      .first()
      .fill(en ? 'Thanks!' : '谢谢！')
    await seller.page
      .getByRole('button', { name: en ? 'Reply' : '回复' })
      .first()
      .click()
    await seller.page.waitForURL(/done=sell\.replied/)
    const replies = await rowsOf(t.db, 'SELECT 1 FROM reviews WHERE order_id = $1 AND reply IS NOT NULL', [
      orderId,
    ])
    assert.equal(replies.length, 1)

    // Signing out, then a page that needs a sign-in sends the visitor to /login and back.
    await page.getByRole('button', { name: en ? 'Sign out' : '退出' }).click()
    await page.waitForURL(/\/login/)
    await page.goto(`${base}/account/orders`)
    assert.match(page.url(), /\/login\?next=%2Faccount%2Forders/)
    await page.locator('#user_id').fill(user)
    await page.locator('#password').fill('pw')
    await page.locator('main button[type=submit]').click()
    await page.waitForURL(/\/account\/orders$/)

    // The language switch is on every page.
    await page.getByRole('link', { name: en ? '中文' : 'English' }).click()
    assert.equal(await page.locator('html').getAttribute('lang'), en ? 'zh-CN' : 'en')
    await go(shopper, '/no-such-page')
    assert.deepEqual(
      [...shopper.problems, ...seller.problems].filter((p) => !p.includes('404')),
      [],
    )
    await shopper.context.close()
    await seller.context.close()
  })

test('the search box suggests as one types (pinyin too); arrows, Enter and Escape work it', async (ctx) => {
  const b = needBrowser(ctx)
  if (!b) return
  const v = await visitor(b, DESKTOP, 'en')
  const { page } = v
  await go(v, '/')
  const box = page.locator('input[name="q"]')
  await box.focus()
  await page.keyboard.type('meili')
  const option = page.getByRole('option', { name: /美丽心灵/ })
  await option.waitFor()
  assert.equal(await box.getAttribute('aria-expanded'), 'true')
  await audit(page)
  // Escape closes the list and leaves the text.
  await page.keyboard.press('Escape')
  assert.equal(await box.getAttribute('aria-expanded'), 'false')
  assert.equal(await box.inputValue(), 'meili')
  // Typing again reopens it; the arrow selects the first suggestion and Enter opens its book.
  await page.keyboard.type(' x')
  await page.keyboard.press('Backspace')
  await page.keyboard.press('Backspace')
  await option.waitFor()
  await page.keyboard.press('ArrowDown')
  assert.equal(await box.getAttribute('aria-activedescendant'), 'q-suggestion-0')
  assert.equal(await page.locator('#q-suggestion-0').getAttribute('aria-selected'), 'true')
  await Promise.all([page.waitForURL(/\/book\//), page.keyboard.press('Enter')])
  assert.match(await page.locator('h1').innerText(), /美丽心灵/)
  // The hostile title is suggested as text.
  await page.locator('input[name="q"]').fill('')
  await page.locator('input[name="q"]').pressSequentially('<img')
  await page.getByRole('option', { name: /<img src=x/ }).waitFor()
  assert.equal(await page.locator('#q-suggestions img').count(), 0)
  assert.deepEqual(v.problems, [])
  await v.context.close()
})

test('checkout with the keyboard alone', async (ctx) => {
  const b = needBrowser(ctx)
  if (!b) return
  const v = await visitor(b, DESKTOP, 'en')
  const buyer = await newUser(t.app, 'keys')
  await addFunds(t.app, buyer, 100_000)
  await signInAs(v, buyer)
  const { page } = v
  await page.goto(
    `${base}/book/${encodeURIComponent(shop.storeId)}/${encodeURIComponent(shop.bookIds[0] ?? '')}`,
  )
  /** Presses Tab until the element matching `selector` has the focus. */
  const tabTo = async (selector: string) => {
    for (let i = 0; i < 80; i++) {
      await page.keyboard.press('Tab')
      if (await page.locator(selector).evaluate((el) => el === el.ownerDocument.activeElement)) return
    }
    assert.fail(`Tab never reached ${selector}`)
  }
  await tabTo('#count')
  await page.keyboard.press('Control+A')
  await page.keyboard.type('3')
  await page.keyboard.press('Enter')
  await page.waitForURL(/done=cart\.added/)
  await tabTo('a[href="/cart"]')
  await page.keyboard.press('Enter')
  await page.waitForURL(/\/cart$/)
  await tabTo('#password')
  await page.keyboard.type(buyer.password)
  await page.keyboard.press('Enter')
  await page.waitForURL(/done=orders\.paid/)
  const orderId = await latestOrder(buyer.userId)
  assert.equal(await orderStatus(t.db, orderId), 'paid')
  assert.equal(await balanceOf(t.db, buyer.userId), 100_000 - 3 * 3879)
  assert.deepEqual(v.problems, [])
  await v.context.close()
})

test('a form posted from another site is refused and changes nothing; a hostile title stays text', async (ctx) => {
  const b = needBrowser(ctx)
  if (!b) return
  const v = await visitor(b, DESKTOP, 'en')
  const victim = await newUser(t.app, 'victim')
  await signInAs(v, victim)
  // Another origin (same host, other port: the same site for SameSite, so only the CSRF check stops it).
  attacker = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html')
    res.end(`<!doctype html><title>win a prize</title><form id="f" method="post" action="${base}/account/top-up">
<input name="add_value" value="-1"><input name="password" value="${victim.password}"><input name="_csrf" value="guess"></form>
<script>document.getElementById('f').submit()</script>`)
  })
  await new Promise<void>((ok) => attacker?.listen(0, '127.0.0.1', ok))
  await addFunds(t.app, victim, 500)
  const response = v.page.waitForResponse((r) => r.url() === `${base}/account/top-up`)
  await v.page.goto(attackerUrl())
  assert.equal((await response).status(), 403)
  await v.page.waitForLoadState()
  assert.match(await v.page.locator('main').innerText(), /came from another site/)
  assert.equal(await balanceOf(t.db, victim.userId), 500, 'no money moved')

  const xss = shop.bookIds[TITLES.length - 1] ?? ''
  await v.page.goto(`${base}/book/${encodeURIComponent(shop.storeId)}/${encodeURIComponent(xss)}`)
  assert.equal(await v.page.locator('main h1').innerText(), XSS)
  assert.equal(await v.page.locator('main h1 img').count(), 0)
  await v.page.goto(`${base}/search?q=img`)
  assert.equal((await v.page.getByText(XSS).count()) > 0, true)
  assert.deepEqual(
    v.problems.filter((p) => !p.includes('403')),
    [],
  )
  await v.context.close()
})

test('screenshots of the front page, a book page and the seller overview (phone and desktop)', async (ctx) => {
  const b = needBrowser(ctx)
  if (!b) return
  for (const [size, viewport] of [
    ['desktop', DESKTOP],
    ['phone', PHONE],
  ] as const) {
    const v = await visitor(b, viewport, 'zh-CN')
    await go(v, '/')
    await v.page.screenshot({
      path: new URL(`front-${size}.png`, SHOTS).pathname,
      fullPage: size === 'desktop',
    })
    await go(v, `/book/${encodeURIComponent(shop.storeId)}/${encodeURIComponent(shop.bookIds[0] ?? '')}`)
    await v.page.screenshot({ path: new URL(`book-${size}.png`, SHOTS).pathname })
    await signInAs(v, shop.seller)
    await go(v, '/sell')
    await v.page.screenshot({
      path: new URL(`sell-${size}.png`, SHOTS).pathname,
      fullPage: size === 'desktop',
    })
    assert.deepEqual(v.problems, [])
    await v.context.close()
  }
})

/** Enough books that the import usually still runs when its page is shown (the desktop run watches it). */
const BOOKS = 4000

test('a seller uploads a catalogue and watches the progress bar reach the end (phone, Chinese; desktop, English)', async (ctx) => {
  const b = needBrowser(ctx)
  if (!b) return
  for (const [size, viewport, lang, books] of [
    ['phone', PHONE, 'zh-CN', 300],
    ['desktop', DESKTOP, 'en', BOOKS],
  ] as const) {
    const file = makePlainCatalogue(importDir, books)
    const v = await visitor(b, viewport, lang)
    const seller = await newUser(t.app, 'importer')
    const storeId = await newStore(t.app, seller, uid(size))
    await signInAs(v, seller)
    await go(v, `/sell/store/${encodeURIComponent(storeId)}`)
    await v.page
      .getByRole('link', { name: lang === 'en' ? 'Import a catalogue file' : '导入书目文件' })
      .click()
    await v.page.waitForURL(/\/import$/)
    await audit(v.page)
    await v.page.locator('#stock_level').fill('3')
    await v.page.locator('#catalogue').setInputFiles(file)
    await v.page.locator('main form[enctype] button[type=submit]').click()
    await v.page.waitForURL(/\/import\?done=import\.started/)
    await audit(v.page)
    const bar = v.page.locator('#import-bar')
    const first = Number(await bar.getAttribute('value'))
    if (size === 'desktop') await v.page.screenshot({ path: new URL(`import-${size}.png`, SHOTS).pathname })
    // While the job runs, the page asks the script to follow it (no meta refresh); only the script
    // reloads the page for the result, so reaching the result proves it polled and saw the end. On the
    // embedded database the page's own queries wait behind the import's batches, so on a fast machine
    // the job can be over before the page is shown: then it shows the result at once.
    if (await v.page.locator('[data-import-status]').count()) {
      assert.ok(first < books, `running, so not all ${books} yet: ${first}`)
      await v.page.waitForURL((u) => !u.search.includes('done='), { timeout: 180_000 })
    } else {
      ctx.diagnostic(`${size}: the import had finished when its page was shown`)
    }
    await v.page.waitForLoadState()
    assert.equal(await bar.getAttribute('value'), String(books))
    assert.equal(await bar.getAttribute('max'), String(books))
    assert.match(
      await v.page.locator('main').innerText(),
      lang === 'en' ? /The import is finished\./ : /导入完成。/,
    )
    await audit(v.page)
    await v.page.screenshot({ path: new URL(`import-done-${size}.png`, SHOTS).pathname, fullPage: true })
    const [row] = await rowsOf<{ n: number; stock: number }>(
      t.db,
      'SELECT count(*)::int AS n, max(stock_level) AS stock FROM listings WHERE store_id = $1',
      [storeId],
    )
    assert.deepEqual(row, { n: books, stock: 3 })
    assert.deepEqual(v.problems, [])
    await v.context.close()
  }
})
