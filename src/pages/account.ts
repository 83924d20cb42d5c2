import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { ApiOrder } from '../api/orders.ts'
import type { Config } from '../config.ts'
import { BadRequest } from '../errors.ts'
import { LIMITS } from '../limits.ts'
import type { OrderStatus } from '../repositories/orders.ts'
import { OrderId } from '../routes/schemas.ts'
import type { AuthService } from '../services/auth.ts'
import type { BuyerService } from '../services/buyer.ts'
import type { OrderService } from '../services/orders.ts'
import type { ApiReview, ReviewService } from '../services/reviews.ts'
import type { Assets } from './assets.ts'
import { bookUrl, paging } from './components.ts'
import {
  csrfOk,
  endSession,
  loginUrl,
  type PageContext,
  safeNext,
  startSession,
  terminalOf,
} from './context.ts'
import { forgedPage, notFoundPage, oddParams, refusal } from './errors.ts'
import { money, parseCount, parseYuan, when } from './format.ts'
import { type Html, html } from './html.ts'
import type { MessageKey } from './i18n/index.ts'
import { flashFrom, hiddenCsrf, layout, type PageOptions, sendPage } from './layout.ts'

/** Form fields arrive as text; each handler checks what it needs and says which field is wrong. */
const Field = (maxLength: number) => Type.Optional(Type.String({ maxLength }))
const Credentials = Type.Object({
  _csrf: Field(100),
  user_id: Field(LIMITS.idLength),
  password: Field(LIMITS.passwordLength),
  next: Field(2048),
})
const Csrf = Type.Object({ _csrf: Field(100) })
const TopUp = Type.Object({ _csrf: Field(100), add_value: Field(32), password: Field(LIMITS.passwordLength) })
const Pay = Type.Object({ _csrf: Field(100), password: Field(LIMITS.passwordLength) })
const ReviewBody = Type.Object({
  _csrf: Field(100),
  book_id: Field(LIMITS.idLength),
  rating: Field(2),
  text: Field(LIMITS.reviewTextLength),
})
const OrderParams = Type.Object({ order_id: OrderId })
const STATUSES: readonly OrderStatus[] = ['unpaid', 'paid', 'shipped', 'received', 'cancelled']
const OrdersQuery = Type.Object({
  status: Type.Optional(Type.Union(STATUSES.map((s) => Type.Literal(s)))),
  page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 }),
})
const ORDERS_PAGE = 10

export interface AccountDeps {
  reviews: ReviewService
  auth: AuthService
  buyer: BuyerService
  orders: OrderService
  assets: Assets
  config: Config
}

/** A page that needs a signed-in visitor sends others to sign in, and back here afterwards. */
export function signedIn(request: FastifyRequest, reply: FastifyReply): string | undefined {
  if (request.page.user) return request.page.user
  reply.redirect(loginUrl(request.page.here), 303)
  return undefined
}

/**
 * The signed-in visitor who sent a form, or undefined once the answer is sent: a form without the
 * visitor's CSRF token (`csrf`, as sent) is refused first (403), then a signed-out visitor is sent to
 * sign in.
 */
export async function formSender(
  request: FastifyRequest,
  reply: FastifyReply,
  assets: Assets,
  csrf: unknown,
): Promise<string | undefined> {
  if (!csrfOk(request, csrf)) {
    await forgedPage(request, reply, assets)
    return undefined
  }
  return signedIn(request, reply)
}

export const accountPages: FastifyPluginAsyncTypebox<AccountDeps> = async (app, deps) => {
  const { auth, buyer, orders, reviews, assets, config } = deps
  const page = (ctx: PageContext, o: PageOptions) => layout(ctx, assets, o)
  const forged = (request: FastifyRequest, reply: FastifyReply) => forgedPage(request, reply, assets)

  function credentialsForm(
    ctx: PageContext,
    kind: 'login' | 'register',
    o: { userId?: string | undefined; next?: string | undefined; flash?: PageOptions['flash'] } = {},
  ): Html {
    const { t } = ctx
    const body = html`<form method="post" action="/${kind}" class="stack narrow">
${hiddenCsrf(ctx)}
${o.next ? html`<input type="hidden" name="next" value="${o.next}">` : ''}
<label for="user_id">${t('auth.userId')}</label>
<input id="user_id" name="user_id" value="${o.userId ?? ''}" required maxlength="${LIMITS.idLength}" autocomplete="username" autocapitalize="none">
<label for="password">${t('auth.password')}</label>
<input id="password" name="password" type="password" required maxlength="${LIMITS.passwordLength}" autocomplete="${kind === 'login' ? 'current-password' : 'new-password'}">
<button type="submit" class="primary">${t(kind === 'login' ? 'auth.login.button' : 'auth.register.button')}</button>
</form>
<p>${kind === 'login' ? html`<a href="/register">${t('auth.login.noAccount')}</a>` : html`<a href="/login">${t('auth.register.haveAccount')}</a>`}</p>`
    return page(ctx, {
      title: t(kind === 'login' ? 'auth.login.title' : 'auth.register.title'),
      body,
      flash: o.flash,
    })
  }

  app.get('/login', { schema: { hide: true } }, async (request, reply) => {
    const q = request.query as { next?: unknown; done?: unknown }
    const next = safeNext(q.next)
    const flash =
      flashFrom(request.page, q.done) ??
      (next !== '/' ? { kind: 'ok' as const, text: request.page.t('auth.needLogin') } : undefined)
    return sendPage(
      reply,
      credentialsForm(request.page, 'login', { next: next === '/' ? undefined : next, flash }),
    )
  })

  app.get('/register', { schema: { hide: true } }, async (request, reply) =>
    sendPage(reply, credentialsForm(request.page, 'register')),
  )

  for (const kind of ['login', 'register'] as const)
    app.post(
      `/${kind}`,
      { schema: { hide: true, body: Credentials }, attachValidation: true },
      async (request, reply) => {
        const ctx = request.page
        const body = request.body ?? {}
        if (!csrfOk(request, body._csrf)) return forged(request, reply)
        const next = safeNext(body.next)
        const again = (status: number, text: string) =>
          sendPage(
            reply,
            credentialsForm(ctx, kind, {
              userId: body.user_id,
              next: next === '/' ? undefined : next,
              flash: { kind: 'error', text },
            }),
            status,
          )
        if (request.validationError || !body.user_id || !body.password)
          return again(
            400,
            ctx.t('error.bad_request', { field: ctx.t(body.user_id ? 'auth.password' : 'auth.userId') }),
          )
        try {
          if (kind === 'register') await auth.register(body.user_id, body.password)
          const token = await auth.login(body.user_id, body.password, terminalOf(request))
          startSession(request, reply, token, config.tokenTtlS)
        } catch (err) {
          const r = refusal(request, err)
          return again(r.status, r.text)
        }
        return reply.redirect(kind === 'register' ? '/account?done=auth.register.done' : next, 303)
      },
    )

  app.post(
    '/logout',
    { schema: { hide: true, body: Csrf }, attachValidation: true },
    async (request, reply) => {
      if (!csrfOk(request, request.body?._csrf)) return forged(request, reply)
      const { user } = request.page
      const token = request.cookies.bookstore_session
      if (user && token) await auth.logout(user, token).catch(() => undefined)
      endSession(request, reply)
      return reply.redirect('/login?done=auth.loggedOut', 303)
    },
  )

  function accountPage(ctx: PageContext, balance: number, flash: PageOptions['flash']): Html {
    const { t } = ctx
    const body = html`<section class="panel"><h2>${t('account.balance')}</h2><p class="price big">${money(balance)}</p></section>
<section class="panel"><h2>${t('account.topUp')}</h2>
<form method="post" action="/account/top-up" class="stack narrow">
${hiddenCsrf(ctx)}
<label for="add_value">${t('account.topUp.amount')}</label>
<input id="add_value" name="add_value" inputmode="decimal" required pattern="[0-9]+([.,][0-9]{1,2})?" maxlength="16">
<label for="password">${t('auth.password')}</label>
<input id="password" name="password" type="password" required autocomplete="current-password" aria-describedby="topup-hint">
<p id="topup-hint" class="muted">${t('account.topUp.hint')}</p>
<button type="submit" class="primary">${t('account.topUp.button')}</button>
</form></section>
<p><a href="/account/orders">${t('nav.orders')}</a></p>`
    return page(ctx, { title: t('account.title'), body, flash })
  }

  app.get('/account', { schema: { hide: true } }, async (request, reply) => {
    const user = signedIn(request, reply)
    if (!user) return reply
    const flash = flashFrom(request.page, (request.query as { done?: unknown }).done)
    return sendPage(reply, accountPage(request.page, await orders.balance(user), flash))
  })

  app.post(
    '/account/top-up',
    { schema: { hide: true, body: TopUp }, attachValidation: true },
    async (request, reply) => {
      const ctx = request.page
      const user = await formSender(request, reply, assets, request.body?._csrf)
      if (!user) return reply
      const again = async (status: number, text: string) =>
        sendPage(reply, accountPage(ctx, await orders.balance(user), { kind: 'error', text }), status)
      const cents = request.validationError ? undefined : parseYuan(request.body.add_value)
      if (cents === undefined || cents === 0 || cents > LIMITS.maxAddValue)
        return again(400, ctx.t('error.bad_request', { field: ctx.t('account.topUp.amount') }))
      try {
        await buyer.addFunds(user, request.body.password ?? '', cents)
      } catch (err) {
        const r = refusal(request, err)
        return again(r.status, r.text)
      }
      return reply.redirect('/account?done=account.topUp.done', 303)
    },
  )

  /** The review form of one book of a received order, holding the buyer's review if there is one. */
  function reviewForm(
    ctx: PageContext,
    o: ApiOrder,
    bookId: string,
    title: string,
    mine: ApiReview | undefined,
  ): Html {
    const { t } = ctx
    const key = `${o.order_id}-${bookId}`
    return html`<form method="post" action="/account/orders/${encodeURIComponent(o.order_id)}/review" class="review-form">
${hiddenCsrf(ctx)}<input type="hidden" name="book_id" value="${bookId}">
<fieldset><legend>${t('review.title')}: ${title}</legend>
<label for="rating-${key}">${t('review.rating')}</label>
<select id="rating-${key}" name="rating">${[5, 4, 3, 2, 1].map((n) => html`<option value="${n}"${(mine?.rating ?? 5) === n ? html` selected` : ''}>${'★'.repeat(n)} ${t('review.stars', { n })}</option>`)}</select>
<label for="text-${key}">${t('review.text')}</label>
<textarea id="text-${key}" name="text" rows="2" maxlength="${LIMITS.reviewTextLength}">${mine?.text ?? ''}</textarea>
<button type="submit">${t(mine ? 'review.edit' : 'review.post')}</button></fieldset></form>`
  }

  function orderCard(ctx: PageContext, o: ApiOrder, mine: readonly ApiReview[] = []): Html {
    const { t } = ctx
    const id = encodeURIComponent(o.order_id)
    const action = (verb: string, label: MessageKey, extra: Html | string = '') =>
      html`<form method="post" action="/account/orders/${id}/${verb}" class="inline">${hiddenCsrf(ctx)}${extra}<button type="submit"${verb === 'pay' || verb === 'receive' ? html` class="primary"` : ''}>${t(label)}</button></form>`
    const actions: Html[] = []
    if (o.status === 'unpaid')
      actions.push(
        action(
          'pay',
          'orders.pay',
          html`<label class="sr" for="pw-${o.order_id}">${t('auth.password')}</label><input id="pw-${o.order_id}" name="password" type="password" required autocomplete="current-password" placeholder="${t('auth.password')}">`,
        ),
      )
    if (o.status === 'unpaid' || o.status === 'paid') actions.push(action('cancel', 'orders.cancel'))
    if (o.status === 'shipped') actions.push(action('receive', 'orders.receive'))
    return html`<li class="order" id="order-${o.order_id}">
<div class="order-head"><span class="badge ${o.status}">${t(`status.${o.status}` as MessageKey)}${o.cancel_reason ? html` · ${t(`reason.${o.cancel_reason}` as MessageKey)}` : ''}</span>
<span class="muted">${t('orders.placedAt', { when: when(o.created_at, ctx.lang) })} · ${t('orders.store', { store: o.store_id })}</span></div>
<ul class="lines">${o.items.map((i) => html`<li><a href="${bookUrl(o.store_id, i.book_id)}">${i.title}</a> × ${i.count} <span class="muted">${money(i.price)}</span></li>`)}</ul>
<p>${t('orders.total')}: <strong class="price">${money(o.total_price)}</strong>${o.status === 'unpaid' ? html` <span class="muted">${t('orders.payBy', { when: when(o.expires_at, ctx.lang) })}</span>` : ''}</p>
<div class="actions">${actions}</div>
${
  o.status === 'received'
    ? o.items.map((i) =>
        reviewForm(
          ctx,
          o,
          i.book_id,
          i.title,
          mine.find((r) => r.book_id === i.book_id),
        ),
      )
    : ''
}
</li>`
  }

  async function ordersPage(
    request: FastifyRequest,
    user: string,
    q: { status?: OrderStatus | undefined; page: number },
    flash: PageOptions['flash'],
  ): Promise<Html> {
    const ctx = request.page
    const { t } = ctx
    const list = await orders.listForBuyer(user, { status: q.status, page: q.page, pageSize: ORDERS_PAGE })
    const mine = new Map<string, ApiReview[]>()
    for (const o of list.orders)
      if (o.status === 'received') mine.set(o.order_id, await reviews.forOrder(user, o.order_id))
    const link = (status: OrderStatus | undefined, n = 1) =>
      `/account/orders?${new URLSearchParams({ ...(status ? { status } : {}), ...(n > 1 ? { page: String(n) } : {}) })}`
    const tabs = html`<nav class="tabs" aria-label="${t('orders.title')}">${[undefined, ...STATUSES].map((s) => html`<a href="${link(s)}"${q.status === s ? html` aria-current="page"` : ''}>${s ? t(`status.${s}` as MessageKey) : t('orders.filter.all')}</a>`)}</nav>`
    const body = html`${tabs}
${list.orders.length === 0 ? html`<p class="lead">${t('orders.none')}</p>` : html`<ul class="orders">${list.orders.map((o) => orderCard(ctx, o, mine.get(o.order_id)))}</ul>`}
${paging(ctx, q.page, Math.ceil(list.total / ORDERS_PAGE), (n) => link(q.status, n))}`
    return page(ctx, { title: t('orders.title'), body, flash })
  }

  app.get(
    '/account/orders',
    { schema: { hide: true, querystring: OrdersQuery }, attachValidation: true },
    async (request, reply) => {
      const user = signedIn(request, reply)
      if (!user) return reply
      const q = request.validationError ? { page: 1 } : request.query
      const flash = flashFrom(request.page, (request.query as { done?: unknown }).done)
      return sendPage(reply, await ordersPage(request, user, q, flash))
    },
  )

  /** The actions the orders page offers, each the service's use case of the same name. */
  const ACTIONS = {
    pay: { run: (u: string, id: string, pw: string) => buyer.payment(u, id, pw), done: 'orders.paid' },
    cancel: { run: (u: string, id: string) => orders.cancel(u, id, 'buyer'), done: 'orders.cancelled' },
    receive: { run: (u: string, id: string) => orders.receive(u, id), done: 'orders.received' },
  } as const

  for (const [verb, a] of Object.entries(ACTIONS))
    app.post(
      `/account/orders/:order_id/${verb}`,
      { schema: { hide: true, params: OrderParams, body: Pay }, attachValidation: true },
      async (request, reply) => {
        if (request.validationError || oddParams(request.params)) return notFoundPage(request, reply, assets)
        const user = await formSender(request, reply, assets, request.body?._csrf)
        if (!user) return reply
        const orderId = request.params.order_id
        try {
          await a.run(user, orderId, request.body?.password ?? '')
        } catch (err) {
          const r = refusal(request, err)
          const flash = { kind: 'error' as const, text: r.text }
          return sendPage(reply, await ordersPage(request, user, { page: 1 }, flash), r.status)
        }
        return reply.redirect(`/account/orders?done=${a.done}#order-${encodeURIComponent(orderId)}`, 303)
      },
    )

  app.post(
    '/account/orders/:order_id/review',
    { schema: { hide: true, params: OrderParams, body: ReviewBody }, attachValidation: true },
    async (request, reply) => {
      if (oddParams(request.params)) return notFoundPage(request, reply, assets)
      const user = await formSender(request, reply, assets, request.body?._csrf)
      if (!user) return reply
      const orderId = request.params.order_id
      try {
        const rating = request.validationError ? undefined : parseCount(request.body.rating, 1, 5)
        if (rating === undefined || !request.body.book_id)
          throw BadRequest(request.page.t('review.rating'), 'is not valid')
        const text = request.body.text?.trim() ? request.body.text.trim() : null
        await reviews.post(user, { orderId, bookId: request.body.book_id, rating, text })
      } catch (err) {
        const r = refusal(request, err)
        const flash = { kind: 'error' as const, text: r.text }
        return sendPage(reply, await ordersPage(request, user, { page: 1 }, flash), r.status)
      }
      return reply.redirect(`/account/orders?done=review.posted#order-${encodeURIComponent(orderId)}`, 303)
    },
  )
}
