import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { BadRequest } from '../errors.ts'
import { LIMITS } from '../limits.ts'
import type { AuthService } from '../services/auth.ts'
import type { BuyerService } from '../services/buyer.ts'
import type { CartService } from '../services/cart.ts'
import { formSender, signedIn } from './account.ts'
import type { Assets } from './assets.ts'
import { bookUrl, coverUrl } from './components.ts'
import { csrfOk, loginUrl, type PageContext } from './context.ts'
import { errorPage, forgedPage, refusal } from './errors.ts'
import { money, parseCount } from './format.ts'
import { type Html, html } from './html.ts'
import { flashFrom, hiddenCsrf, layout, type PageOptions, sendPage } from './layout.ts'

const Field = (maxLength: number) => Type.Optional(Type.String({ maxLength }))
const LineBody = Type.Object({
  _csrf: Field(100),
  store_id: Field(LIMITS.idLength),
  book_id: Field(LIMITS.idLength),
  count: Field(16),
  /** Where to go back to (the book page adds from there). */
  back: Field(2048),
})
const CheckoutBody = Type.Object({ _csrf: Field(100), password: Field(LIMITS.passwordLength) })

export interface CartDeps {
  auth: AuthService
  cart: CartService
  buyer: BuyerService
  assets: Assets
}

/** The cart: lines with their counts, and checkout with payment (one order per store). */
export const cartPages: FastifyPluginAsyncTypebox<CartDeps> = async (app, { auth, cart, buyer, assets }) => {
  const forged = (request: FastifyRequest, reply: FastifyReply) => forgedPage(request, reply, assets)

  async function cartPage(ctx: PageContext, user: string, flash: PageOptions['flash']): Promise<Html> {
    const { t } = ctx
    const c = await cart.get(user)
    const line = (l: (typeof c.lines)[number]) => html`<li class="line">
<img src="${coverUrl(l.store_id, l.book_id)}" alt="" width="48" height="72">
<div><a href="${bookUrl(l.store_id, l.book_id)}">${l.title}</a><br><span class="muted">${l.store_id}</span>
${l.count > l.stock_level ? html`<br><span class="stock out">${t('cart.short', { n: l.stock_level })}</span>` : ''}</div>
<span class="price">${money(l.price)}</span>
<form method="post" action="/cart" class="inline">${hiddenCsrf(ctx)}
<input type="hidden" name="store_id" value="${l.store_id}"><input type="hidden" name="book_id" value="${l.book_id}">
<label class="sr" for="count-${l.store_id}-${l.book_id}">${t('book.count')}: ${l.title}</label>
<input id="count-${l.store_id}-${l.book_id}" name="count" type="number" min="0" max="${LIMITS.maxCartCount}" value="${l.count}" class="short" required>
<button type="submit">${t('cart.update')}</button></form>
<form method="post" action="/cart" class="inline">${hiddenCsrf(ctx)}
<input type="hidden" name="store_id" value="${l.store_id}"><input type="hidden" name="book_id" value="${l.book_id}"><input type="hidden" name="count" value="0">
<button type="submit" class="link danger">${t('cart.remove')}<span class="sr">: ${l.title}</span></button></form>
</li>`
    const stores = new Set(c.lines.map((l) => l.store_id)).size
    const body =
      c.lines.length === 0
        ? html`<p class="lead">${t('cart.empty')}</p><p><a class="button" href="/">${t('error.home')}</a></p>`
        : html`<ul class="cart">${c.lines.map(line)}</ul>
<section class="panel narrow-panel" aria-labelledby="h-checkout"><h2 id="h-checkout">${t('cart.checkout')}</h2>
<p>${t('orders.total')}: <strong class="price big">${money(c.total_price)}</strong></p>
<p class="muted">${t('cart.perStore', { n: stores })}</p>
<form method="post" action="/cart/checkout" class="stack">${hiddenCsrf(ctx)}
<label for="password">${t('auth.password')}</label>
<input id="password" name="password" type="password" required autocomplete="current-password" aria-describedby="pay-hint">
<p id="pay-hint" class="muted">${t('cart.payHint')}</p>
<button type="submit" class="primary">${t('cart.payNow')}</button>
</form></section>`
    return layout(ctx, assets, { title: t('cart.title'), body, flash })
  }

  app.get('/cart', { schema: { hide: true } }, async (request, reply) => {
    const user = signedIn(request, reply)
    if (!user) return reply
    const flash = flashFrom(request.page, (request.query as { done?: unknown }).done)
    return sendPage(reply, await cartPage(request.page, user, flash))
  })

  /** Sets a line's count (0 removes it); from the book page it adds to what the cart holds. */
  app.post(
    '/cart',
    { schema: { hide: true, body: LineBody }, attachValidation: true },
    async (request, reply) => {
      const ctx = request.page
      const body = request.body ?? {}
      if (!csrfOk(request, body._csrf)) return forged(request, reply)
      const back = body.back && body.store_id && body.book_id ? bookUrl(body.store_id, body.book_id) : '/cart'
      if (!ctx.user) return reply.redirect(loginUrl(back), 303)
      const user = ctx.user
      try {
        const count = request.validationError ? undefined : parseCount(body.count, 0, LIMITS.maxCartCount)
        if (count === undefined || !body.store_id || !body.book_id)
          throw BadRequest(ctx.t('book.count'), 'is not valid')
        let total = count
        if (body.back) {
          const held = (await cart.get(user)).lines.find(
            (l) => l.store_id === body.store_id && l.book_id === body.book_id,
          )
          total = Math.min(LIMITS.maxCartCount, count + (held?.count ?? 0))
        }
        await cart.setLine(user, body.store_id, body.book_id, total)
      } catch (err) {
        const r = refusal(request, err)
        if (back !== '/cart') return errorPage(request, reply, assets, r.status, r.text)
        return sendPage(reply, await cartPage(ctx, user, { kind: 'error', text: r.text }), r.status)
      }
      return reply.redirect(`${back}?done=cart.added`, 303)
    },
  )

  /**
   * Checks the password first (a wrong one places nothing), places one order per store, and pays
   * them; an order that cannot be paid (funds) stays on the orders page, waiting for payment.
   */
  app.post(
    '/cart/checkout',
    { schema: { hide: true, body: CheckoutBody }, attachValidation: true },
    async (request, reply) => {
      const ctx = request.page
      const user = await formSender(request, reply, assets, request.body?._csrf)
      if (!user) return reply
      const password = request.body?.password ?? ''
      let orderIds: string[]
      try {
        await auth.checkPassword(user, password, true)
        orderIds = await cart.checkout(user)
      } catch (err) {
        const r = refusal(request, err)
        return sendPage(reply, await cartPage(ctx, user, { kind: 'error', text: r.text }), r.status)
      }
      try {
        for (const id of orderIds) await buyer.payment(user, id, password)
      } catch (err) {
        refusal(request, err)
        return reply.redirect('/account/orders?status=unpaid&done=cart.unpaid', 303)
      }
      return reply.redirect('/account/orders?done=orders.paid', 303)
    },
  )
}
