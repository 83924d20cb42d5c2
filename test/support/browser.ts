/**
 * The headless browser of the browser tests: Debian's chromium driven by playwright-core. A machine
 * without it skips those tests with a message; CI installs it, so there a missing one is a failure.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { type Browser, chromium } from 'playwright-core'

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

/** Chromium as the tests run it: no sandbox (containers), and nothing of its own on the network. */
export async function launchBrowser(): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) return undefined
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/** The browser, or (without one) a skip with the reason — a failure under CI. */
export function needBrowser(
  browser: Browser | undefined,
  ctx: { skip(msg: string): void },
): Browser | undefined {
  if (browser) return browser
  if (process.env.CI) assert.fail(`no Chromium at ${CHROMIUM}`)
  ctx.skip(`no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`)
  return undefined
}
