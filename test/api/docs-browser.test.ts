/**
 * Swagger UI as a person uses it: a real headless Chromium loads /docs from the running server,
 * the operations are listed, and "Try it out" on /auth/register creates a user.
 * Needs Debian's chromium (CI installs it); skipped with a message when no browser is installed.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Browser } from 'playwright-core'
import { launchBrowser, needBrowser } from '../support/browser.ts'
import { startApp, type TestApp } from '../support/helpers.ts'

let t: TestApp
let base: string
let browser: Browser | undefined

before(async () => {
  t = await startApp()
  base = await t.app.listen({ port: 0, host: '127.0.0.1' })
  browser = await launchBrowser()
})
after(async () => {
  await browser?.close()
  await t.close()
})

test('Swagger UI lists the operations and "Try it out" works against the server', async (ctx) => {
  const b = needBrowser(browser, ctx)
  if (!b) return
  const page = await b.newPage()
  await page.goto(`${base}/docs/`)
  await page.waitForSelector('.opblock', { timeout: 30_000 })
  const paths = await page.$$eval('.opblock-summary-path', (els) => els.map((e) => e.textContent?.trim()))
  for (const p of ['/auth/register', '/auth/login', '/buyer/new_order', '/buyer/payment', '/seller/add_book'])
    assert.ok(
      paths.some((x) => x?.replace(/\u200b/g, '') === p),
      `${p} listed in ${paths.join(' ')}`,
    )

  const op = page.locator('#operations-auth-post_auth_register')
  await op.locator('.opblock-summary').click()
  await op.locator('button.try-out__btn').click()
  await op
    .locator('textarea.body-param__text')
    .fill(JSON.stringify({ user_id: 'from-the-browser', password: 'pw' }))
  await op.locator('button.execute').click()
  const status = op.locator('.live-responses-table .response .response-col_status').first()
  await status.waitFor({ timeout: 30_000 })
  assert.equal((await status.textContent())?.trim(), '200')
  const r = await t.db.query('SELECT 1 FROM users WHERE user_id = $1', ['from-the-browser'])
  assert.equal(r.rowCount, 1, 'the user exists after Execute')
  await page.close()
})
