import type { FastifyReply } from 'fastify'
import type { Assets } from './assets.ts'
import type { PageContext } from './context.ts'
import { type Child, type Html, html } from './html.ts'
import type { MessageKey } from './i18n/index.ts'

/**
 * Pages may load scripts, styles, pictures and forms from this server only; no inline script or
 * style runs, so an injected tag could do nothing even if escaping ever failed.
 */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

export interface PageOptions {
  title: string
  body: Html
  /** A message shown above the content (the outcome of the last form). */
  flash?: { kind: 'ok' | 'error'; text: string } | undefined
  /** The search box's text. */
  q?: string | undefined
  /** true: the page's own <h1> is the title (otherwise the title is shown as one). */
  ownHeading?: boolean
  /** Asset files of scripts this page needs besides app.js. */
  scripts?: readonly string[]
}

/** The flash messages a redirect may ask for (`?done=key`): known keys only, never reflected text. */
export const FLASHES = [
  'auth.register.done',
  'auth.loggedOut',
  'account.topUp.done',
  'orders.placed',
  'orders.paid',
  'orders.cancelled',
  'orders.received',
  'sell.storeCreated',
  'sell.shipped',
  'sell.refused',
  'sell.stockAdded',
  'sell.bookAdded',
  'sell.replied',
  'cart.added',
  'cart.unpaid',
  'review.posted',
  'import.started',
  'import.resumed',
] as const satisfies readonly MessageKey[]

export function flashFrom(ctx: PageContext, done: unknown): PageOptions['flash'] {
  return typeof done === 'string' && (FLASHES as readonly string[]).includes(done)
    ? { kind: 'ok', text: ctx.t(done as MessageKey) }
    : undefined
}

/** This page in the other language. */
function switchUrl(ctx: PageContext): string {
  const url = new URL(ctx.here, 'http://x')
  url.searchParams.set('lang', ctx.lang === 'zh' ? 'en' : 'zh')
  return url.pathname + url.search
}

export function hiddenCsrf(ctx: PageContext): Html {
  return html`<input type="hidden" name="_csrf" value="${ctx.csrf}">`
}

export function layout(ctx: PageContext, assets: Assets, o: PageOptions): Html {
  const { t } = ctx
  const nav: Child[] = ctx.user
    ? [
        html`<a href="/cart">${t('nav.cart')}</a>`,
        html`<a href="/account/orders">${t('nav.orders')}</a>`,
        html`<a href="/account">${t('nav.account')}</a>`,
        html`<a href="/sell">${t('nav.sell')}</a>`,
        html`<form method="post" action="/logout" class="inline">${hiddenCsrf(ctx)}<button class="link" type="submit" title="${t('nav.signedInAs', { user: ctx.user })}">${t('nav.logout')}</button></form>`,
      ]
    : [
        html`<a href="${`/login?next=${encodeURIComponent(ctx.here)}`}">${t('nav.login')}</a>`,
        html`<a href="/register">${t('nav.register')}</a>`,
      ]
  return html`<!doctype html>
<html lang="${ctx.lang === 'zh' ? 'zh-CN' : 'en'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · ${t('site.name')}</title>
<link rel="stylesheet" href="${assets.url('style.css')}">
<link rel="icon" href="${assets.url('icon.svg')}" type="image/svg+xml">
<script src="${assets.url('app.js')}" defer></script>
${(o.scripts ?? []).map((name) => html`<script src="${assets.url(name)}" defer></script>`)}
</head>
<body>
<a class="skip" href="#main">${t('nav.skip')}</a>
<header class="top">
  <div class="bar">
    <a class="brand" href="/"><img src="${assets.url('icon.svg')}" alt="" width="28" height="28"><span>${t('site.name')}</span></a>
    <form role="search" method="get" action="/search" class="search" data-suggest="${t('suggest.label')}" data-kind-title="${t('suggest.title')}" data-kind-author="${t('suggest.author')}" data-kind-tag="${t('suggest.tag')}">
      <label class="sr" for="q">${t('search.label')}</label>
      <input id="q" type="search" name="q" value="${o.q ?? ''}" placeholder="${t('search.placeholder')}" maxlength="256" autocomplete="off">
      <button type="submit">${t('search.button')}</button>
    </form>
    <nav aria-label="${t('nav.main')}" class="nav">${nav}<a href="${switchUrl(ctx)}" lang="${ctx.lang === 'zh' ? 'en' : 'zh-CN'}" hreflang="${ctx.lang === 'zh' ? 'en' : 'zh-CN'}">${t('lang.switch')}</a></nav>
  </div>
</header>
<main id="main">
${o.flash ? html`<p class="flash ${o.flash.kind}" role="${o.flash.kind === 'error' ? 'alert' : 'status'}">${o.flash.text}</p>` : ''}
${o.ownHeading ? '' : html`<h1>${o.title}</h1>`}
${o.body}
</main>
<footer class="foot"><p>${t('site.name')} · ${t('site.tagline')} · <a href="/docs">${t('footer.api')}</a></p></footer>
</body>
</html>`
}

/** Sends a page: HTML, never cached by shared caches (it may show who is signed in). */
export function sendPage(reply: FastifyReply, page: Html, status = 200) {
  return (
    reply
      .code(status)
      .type('text/html; charset=utf-8')
      .header('content-security-policy', PAGE_CSP)
      // With no-referrer, Chromium sends `Origin: null` on form posts; same-origin keeps the real
      // origin for the CSRF check and still tells other sites nothing.
      .header('referrer-policy', 'same-origin')
      .header('cache-control', 'private, no-cache')
      .send(page.value)
  )
}
