import type {} from '@fastify/multipart'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { Compile } from 'typebox/compile'
import type { ApiOrder } from '../api/orders.ts'
import type { BookInfo as BookInfoFields } from '../catalog/book-info.ts'
import { BadRequest } from '../errors.ts'
import { LIMITS } from '../limits.ts'
import type { DaySales } from '../repositories/sales.ts'
import { BookInfo, OrderId, StoreId } from '../routes/schemas.ts'
import type { CatalogService } from '../services/catalog.ts'
import type { OrderService } from '../services/orders.ts'
import type { ApiReview, ReviewService } from '../services/reviews.ts'
import type { SalesOverview, SellerService } from '../services/seller.ts'
import { formSender, signedIn } from './account.ts'
import type { Assets } from './assets.ts'
import { bookUrl, paging } from './components.ts'
import type { PageContext } from './context.ts'
import { errorPage, notFoundPage, oddParams, refusal } from './errors.ts'
import { money, parseCount, parseYuan, when } from './format.ts'
import { type Html, html } from './html.ts'
import { flashFrom, hiddenCsrf, layout, type PageOptions, sendPage } from './layout.ts'

const Field = (maxLength: number) => Type.Optional(Type.String({ maxLength }))
const StoreBody = Type.Object({ _csrf: Field(100), store_id: Field(LIMITS.idLength) })
const StockBody = Type.Object({
  _csrf: Field(100),
  book_id: Field(LIMITS.idLength),
  add_stock_level: Field(16),
})
const RefuseBody = Type.Object({ _csrf: Field(100), reason: Field(1024) })
const ReplyBody = Type.Object({ _csrf: Field(100), text: Field(LIMITS.reviewTextLength) })
const ReviewParams = Type.Object({ review_id: Type.String({ minLength: 1, maxLength: LIMITS.idLength }) })
const StoreParams = Type.Object({ store_id: StoreId })
const OrderParams = Type.Object({ order_id: OrderId })
const PageQuery = Type.Object({ page: Type.Integer({ minimum: 1, maximum: 100_000, default: 1 }) })
const BOOKS_PAGE = 20
/** Uploads: what a course listing carries at most (9 pictures of a few hundred KB), with room to spare. */
const UPLOAD = { files: 9, fileSize: 5 * 1024 * 1024, fields: 20, fieldSize: 1024 * 1024 }
const checkBookInfo = Compile(BookInfo)

export interface SellDeps {
  reviews: ReviewService
  seller: SellerService
  orders: OrderService
  catalog: CatalogService
  assets: Assets
}

/** The revenue per day as bars, drawn on the server; the numbers are also in a table for screen readers. */
function salesChart(ctx: PageContext, days: readonly DaySales[]): Html {
  const { t } = ctx
  const w = 600
  const h = 180
  const max = Math.max(1, ...days.map((d) => d.revenue))
  const bar = w / days.length
  const bars = days.map((d, i) => {
    const bh = Math.round((d.revenue / max) * (h - 20))
    return html`<rect x="${(i * bar + 1).toFixed(1)}" y="${h - bh}" width="${(bar - 2).toFixed(1)}" height="${bh}"><title>${d.day}: ${money(d.revenue)}, ${d.orders}</title></rect>`
  })
  const first = days[0]?.day ?? ''
  const last = days[days.length - 1]?.day ?? ''
  return html`<figure class="chart">
<svg viewBox="0 0 ${w} ${h + 16}" role="img" aria-labelledby="chart-title" preserveAspectRatio="none">
<title id="chart-title">${t('sell.chart')}</title>
<line x1="0" y1="${h}" x2="${w}" y2="${h}" class="axis"/>
<g class="bars">${bars}</g>
</svg>
<figcaption><span>${first}</span><span>${t('sell.chart')} · max ${money(max)}</span><span>${last}</span></figcaption>
<table class="sr"><caption>${t('sell.chart')}</caption><tbody>${days.filter((d) => d.orders > 0).map((d) => html`<tr><th scope="row">${d.day}</th><td>${money(d.revenue)}</td><td>${d.orders}</td></tr>`)}</tbody></table>
</figure>`
}

export const sellPages: FastifyPluginAsyncTypebox<SellDeps> = async (
  app,
  { seller, orders, catalog, reviews, assets },
) => {
  const page = (ctx: PageContext, o: PageOptions) => layout(ctx, assets, o)

  function orderRow(ctx: PageContext, o: ApiOrder): Html {
    const { t } = ctx
    const id = encodeURIComponent(o.order_id)
    return html`<li class="order" id="order-${o.order_id}">
<div class="order-head"><span class="badge ${o.status}">${t('status.paid')}</span>
<span class="muted">${when(o.paid_at, ctx.lang)} · ${o.store_id} · ${o.buyer_id}</span></div>
<ul class="lines">${o.items.map((i) => html`<li>${i.title} × ${i.count}</li>`)}</ul>
<p>${t('orders.total')}: <strong class="price">${money(o.total_price)}</strong></p>
<div class="actions">
<form method="post" action="/sell/orders/${id}/ship" class="inline">${hiddenCsrf(ctx)}<button type="submit" class="primary">${t('sell.ship')}</button></form>
<form method="post" action="/sell/orders/${id}/refuse" class="inline">${hiddenCsrf(ctx)}<label class="sr" for="reason-${o.order_id}">${t('sell.reason')}</label><input id="reason-${o.order_id}" name="reason" maxlength="1024" placeholder="${t('sell.reason')}"><button type="submit">${t('sell.refuse')}</button></form>
</div></li>`
  }

  async function consolePage(
    request: FastifyRequest,
    user: string,
    flash: PageOptions['flash'],
  ): Promise<Html> {
    const ctx = request.page
    const { t } = ctx
    const [stores, overview, toShip, unanswered] = await Promise.all([
      seller.stores(user),
      seller.overview(user),
      orders.listForSeller(user, undefined, { status: 'paid', page: 1, pageSize: 20 }),
      reviews.awaitingReply(user, { page: 1, pageSize: 10 }),
    ])
    const reviewRow = (r: ApiReview) => html`<li class="order" id="review-${r.review_id}">
<p><a href="${bookUrl(r.store_id, r.book_id)}">${r.book_id}</a> · <span class="stars">${'★'.repeat(r.rating)}${'☆'.repeat(5 - r.rating)}</span> <span class="muted">${r.buyer_id} · ${when(r.updated_at, ctx.lang)}</span></p>
${r.text ? html`<p class="prose">${r.text}</p>` : ''}
<form method="post" action="/sell/reviews/${encodeURIComponent(r.review_id)}/reply" class="inline">${hiddenCsrf(ctx)}
<label class="sr" for="reply-${r.review_id}">${t('sell.replyText')}</label><input id="reply-${r.review_id}" name="text" required maxlength="${LIMITS.reviewTextLength}" placeholder="${t('sell.replyText')}">
<button type="submit">${t('sell.replyButton')}</button></form></li>`
    const revenue = overview.days.reduce((s, d) => s + d.revenue, 0)
    const count = overview.days.reduce((s, d) => s + d.orders, 0)
    const bookList = (lines: SalesOverview['bestSellers'], label: (n: number) => string) =>
      lines.length === 0
        ? html`<p class="muted">${t('sell.nothing')}</p>`
        : html`<ol class="plain">${lines.map((l) => html`<li><a href="${bookUrl(l.store_id, l.book_id)}">${l.title}</a> <span class="muted">${label(l.n)}</span></li>`)}</ol>`
    const body = html`<div class="console">
<section class="panel wide" aria-labelledby="h-overview"><h2 id="h-overview">${t('sell.overview')}</h2>
<p class="kpis"><span>${t('sell.revenue')} <strong>${money(revenue)}</strong></span><span>${t('sell.ordersCount')} <strong>${count}</strong></span></p>
${salesChart(ctx, overview.days)}</section>
<section class="panel" aria-labelledby="h-best"><h2 id="h-best">${t('sell.bestSellers')}</h2>${bookList(overview.bestSellers, (n) => t('sell.sold', { n }))}</section>
<section class="panel" aria-labelledby="h-low"><h2 id="h-low">${t('sell.lowStock')}</h2>${bookList(overview.lowStock, (n) => (n > 0 ? t('book.stock', { n }) : t('book.outOfStock')))}</section>
<section class="panel wide" aria-labelledby="h-ship"><h2 id="h-ship">${t('sell.toShip')}</h2>
${toShip.orders.length === 0 ? html`<p class="muted">${t('sell.noOrders')}</p>` : html`<ul class="orders">${toShip.orders.map((o) => orderRow(ctx, o))}</ul>`}</section>
<section class="panel wide" aria-labelledby="h-reviews"><h2 id="h-reviews">${t('sell.reviews')}</h2>
${unanswered.reviews.length === 0 ? html`<p class="muted">${t('sell.nothing')}</p>` : html`<ul class="orders">${unanswered.reviews.map(reviewRow)}</ul>`}</section>
<section class="panel" aria-labelledby="h-stores"><h2 id="h-stores">${t('sell.stores')}</h2>
${stores.length === 0 ? html`<p class="muted">${t('sell.noStores')}</p>` : html`<ul class="plain">${stores.map((s) => html`<li><a href="/sell/store/${encodeURIComponent(s)}">${s}</a></li>`)}</ul>`}
<form method="post" action="/sell/stores" class="stack">
${hiddenCsrf(ctx)}
<label for="store_id">${t('sell.storeId')}</label>
<input id="store_id" name="store_id" required maxlength="${LIMITS.idLength}" autocapitalize="none">
<button type="submit">${t('sell.createStore')}</button>
</form></section>
</div>`
    return page(ctx, { title: t('sell.title'), body, flash })
  }

  app.get('/sell', { schema: { hide: true } }, async (request, reply) => {
    const user = signedIn(request, reply)
    if (!user) return reply
    const flash = flashFrom(request.page, (request.query as { done?: unknown }).done)
    return sendPage(reply, await consolePage(request, user, flash))
  })

  app.post(
    '/sell/stores',
    { schema: { hide: true, body: StoreBody }, attachValidation: true },
    async (request, reply) => {
      const user = await formSender(request, reply, assets, request.body?._csrf)
      if (!user) return reply
      const storeId = request.body?.store_id?.trim() ?? ''
      try {
        if (request.validationError || !storeId)
          throw BadRequest(request.page.t('sell.storeId'), 'is required')
        await seller.createStore(user, storeId)
      } catch (err) {
        const r = refusal(request, err)
        return sendPage(reply, await consolePage(request, user, { kind: 'error', text: r.text }), r.status)
      }
      return reply.redirect(`/sell/store/${encodeURIComponent(storeId)}?done=sell.storeCreated`, 303)
    },
  )

  /** The store, if it is the user's; otherwise the page answers and undefined is returned. */
  async function ownStore(request: FastifyRequest, reply: FastifyReply, user: string, storeId: string) {
    const mine = await seller.stores(user)
    if (mine.includes(storeId)) return storeId
    await notFoundPage(request, reply, assets)
    return undefined
  }

  async function storePage(
    request: FastifyRequest,
    storeId: string,
    pageNo: number,
    flash: PageOptions['flash'],
  ): Promise<Html> {
    const ctx = request.page
    const { t } = ctx
    const books = await catalog.search({
      store_id: storeId,
      sort: 'relevance',
      page: pageNo,
      page_size: BOOKS_PAGE,
    })
    const base = `/sell/store/${encodeURIComponent(storeId)}`
    const rows = books.books.map(
      (
        b,
      ) => html`<tr><td><a href="${bookUrl(b.store_id, b.book_id)}">${b.title}</a><br><span class="muted">${b.book_id}</span></td>
<td class="num">${money(b.price)}</td><td class="num">${b.stock_level}</td>
<td><form method="post" action="${base}/stock" class="inline">${hiddenCsrf(ctx)}<input type="hidden" name="book_id" value="${b.book_id}">
<label class="sr" for="add-${b.book_id}">${t('sell.addStock')}: ${b.title}</label><input id="add-${b.book_id}" name="add_stock_level" type="number" min="1" max="${LIMITS.maxStock}" required class="short">
<button type="submit">${t('sell.addStock')}</button></form></td></tr>`,
    )
    const field = (name: string, label: Parameters<typeof t>[0], attrs: Html = html``) =>
      html`<label for="${name}">${t(label)}</label><input id="${name}" name="${name}" ${attrs}>`
    const body = html`<p><a href="/sell">← ${t('sell.title')}</a></p>
<section class="panel wide" aria-labelledby="h-books"><h2 id="h-books">${t('sell.books', { store: storeId })}</h2>
${books.books.length === 0 ? html`<p class="muted">${t('sell.nothing')}</p>` : html`<div class="scroll"><table class="data"><thead><tr><th scope="col">${t('sell.bookTitle')}</th><th scope="col">${t('book.price')}</th><th scope="col">${t('sell.stock')}</th><th scope="col">${t('sell.addStock')}</th></tr></thead><tbody>${rows}</tbody></table></div>`}
${paging(ctx, pageNo, Math.ceil(books.total / BOOKS_PAGE), (n) => `${base}?page=${n}`)}
</section>
<p><a class="button" href="${base}/import">${t('import.link')}</a></p>
<section class="panel wide" aria-labelledby="h-add"><h2 id="h-add">${t('sell.addBook')}</h2>
<form method="post" action="${base}/books" enctype="multipart/form-data" class="stack grid2">
${hiddenCsrf(ctx)}
<div>${field('id', 'sell.bookId', html`required maxlength="${LIMITS.idLength}" autocapitalize="none"`)}</div>
<div>${field('title', 'sell.bookTitle', html`required maxlength="4096"`)}</div>
<div>${field('author', 'sell.author', html`maxlength="4096"`)}</div>
<div>${field('publisher', 'sell.publisher', html`maxlength="4096"`)}</div>
<div>${field('pub_year', 'sell.pubYear', html`maxlength="64"`)}</div>
<div>${field('price', 'sell.priceYuan', html`required inputmode="decimal" pattern="[0-9]+([.,][0-9]{1,2})?"`)}</div>
<div>${field('stock_level', 'sell.stockLevel', html`type="number" min="0" max="${LIMITS.maxStock}" value="1" required`)}</div>
<div>${field('tags', 'sell.tags', html`maxlength="2000"`)}</div>
<div class="full"><label for="book_intro">${t('sell.intro')}</label><textarea id="book_intro" name="book_intro" rows="4" maxlength="100000"></textarea></div>
<div class="full"><label for="pictures">${t('sell.pictures')}</label><input id="pictures" name="pictures" type="file" accept="image/jpeg,image/png,image/gif,image/webp" multiple></div>
<div class="full"><button type="submit" class="primary">${t('sell.addBook')}</button></div>
</form></section>`
    return page(ctx, { title: storeId, body, flash })
  }

  app.get(
    '/sell/store/:store_id',
    { schema: { hide: true, params: StoreParams, querystring: PageQuery }, attachValidation: true },
    async (request, reply) => {
      if (request.validationError || oddParams(request.params)) return notFoundPage(request, reply, assets)
      const user = signedIn(request, reply)
      if (!user) return reply
      const storeId = await ownStore(request, reply, user, request.params.store_id)
      if (!storeId) return reply
      const flash = flashFrom(request.page, (request.query as { done?: unknown }).done)
      return sendPage(reply, await storePage(request, storeId, request.query.page, flash))
    },
  )

  app.post(
    '/sell/store/:store_id/stock',
    { schema: { hide: true, params: StoreParams, body: StockBody }, attachValidation: true },
    async (request, reply) => {
      if (oddParams(request.params)) return notFoundPage(request, reply, assets)
      const user = await formSender(request, reply, assets, request.body?._csrf)
      if (!user) return reply
      const { store_id } = request.params
      try {
        const add = request.validationError
          ? undefined
          : parseCount(request.body.add_stock_level, 1, LIMITS.maxStock)
        if (add === undefined || !request.body.book_id)
          throw BadRequest(request.page.t('sell.addStock'), 'is not valid')
        await seller.addStockLevel(user, store_id, request.body.book_id, add)
      } catch (err) {
        const r = refusal(request, err)
        return sendPage(
          reply,
          await storePage(request, store_id, 1, { kind: 'error', text: r.text }),
          r.status,
        )
      }
      return reply.redirect(`/sell/store/${encodeURIComponent(store_id)}?done=sell.stockAdded`, 303)
    },
  )

  /**
   * Adds a book from the multipart form: fields and picture files are read (within UPLOAD's limits)
   * before anything is checked or written; the CSRF token is one of the fields.
   */
  app.post(
    '/sell/store/:store_id/books',
    // The multipart parser reads the stream itself, so this limit is enforced by the body budget.
    {
      schema: { hide: true, params: StoreParams },
      attachValidation: true,
      bodyLimit: LIMITS.addBookFormBytes,
    },
    async (request, reply) => {
      if (request.validationError || oddParams(request.params)) return notFoundPage(request, reply, assets)
      const ctx = request.page
      const { store_id } = request.params
      const fields: Record<string, string> = {}
      const pictures: string[] = []
      try {
        if (!request.isMultipart()) throw BadRequest('pictures', 'must be sent as multipart/form-data')
        for await (const part of request.parts({ limits: UPLOAD })) {
          if (part.type === 'file') {
            const data = await part.toBuffer()
            if (data.length > 0) pictures.push(data.toString('base64'))
          } else if (typeof part.value === 'string') fields[part.fieldname] = part.value
        }
      } catch (err) {
        if (
          !(err instanceof Error) ||
          !('code' in err) ||
          typeof err.code !== 'string' ||
          !err.code.startsWith('FST_')
        )
          throw err
        // Too large, too many files, a broken body: the upload is refused as a whole.
        return errorPage(
          request,
          reply,
          assets,
          413,
          ctx.t('error.bad_request', { field: ctx.t('sell.pictures') }),
        )
      }
      const user = await formSender(request, reply, assets, fields._csrf)
      if (!user) return reply
      try {
        const info = bookInfoFrom(ctx, fields, pictures)
        const stock = parseCount(fields.stock_level, 0, LIMITS.maxStock)
        if (stock === undefined) throw BadRequest(ctx.t('sell.stockLevel'), 'is not valid')
        await seller.addBook(user, store_id, info, stock)
      } catch (err) {
        const r = refusal(request, err)
        if (r.status === 404 || r.status === 401) return notFoundPage(request, reply, assets)
        return sendPage(
          reply,
          await storePage(request, store_id, 1, { kind: 'error', text: r.text }),
          r.status,
        )
      }
      return reply.redirect(`/sell/store/${encodeURIComponent(store_id)}?done=sell.bookAdded`, 303)
    },
  )

  for (const verb of ['ship', 'refuse'] as const)
    app.post(
      `/sell/orders/:order_id/${verb}`,
      { schema: { hide: true, params: OrderParams, body: RefuseBody }, attachValidation: true },
      async (request, reply) => {
        if (oddParams(request.params)) return notFoundPage(request, reply, assets)
        const user = await formSender(request, reply, assets, request.body?._csrf)
        if (!user) return reply
        const orderId = request.params.order_id
        try {
          if (request.validationError) throw BadRequest(request.page.t('sell.reason'), 'is too long')
          if (verb === 'ship') await orders.ship(user, orderId)
          else {
            await orders.cancel(user, orderId, 'seller')
            // As the API's seller cancel: the reason is free text for the log.
            if (request.body.reason)
              request.log.info({ order_id: orderId, reason: request.body.reason }, 'seller cancel')
          }
        } catch (err) {
          const r = refusal(request, err)
          return sendPage(reply, await consolePage(request, user, { kind: 'error', text: r.text }), r.status)
        }
        return reply.redirect(`/sell?done=${verb === 'ship' ? 'sell.shipped' : 'sell.refused'}`, 303)
      },
    )

  app.post(
    '/sell/reviews/:review_id/reply',
    { schema: { hide: true, params: ReviewParams, body: ReplyBody }, attachValidation: true },
    async (request, reply) => {
      if (oddParams(request.params)) return notFoundPage(request, reply, assets)
      const user = await formSender(request, reply, assets, request.body?._csrf)
      if (!user) return reply
      try {
        const text = request.validationError ? '' : (request.body.text?.trim() ?? '')
        await reviews.reply(user, request.params.review_id, text)
      } catch (err) {
        const r = refusal(request, err)
        return sendPage(reply, await consolePage(request, user, { kind: 'error', text: r.text }), r.status)
      }
      return reply.redirect('/sell?done=sell.replied', 303)
    },
  )
}

/** The add-book form as the API's book_info: price typed in yuan, tags comma separated. */
function bookInfoFrom(ctx: PageContext, f: Record<string, string>, pictures: string[]): BookInfoFields {
  const price = parseYuan(f.price)
  if (price === undefined || price > LIMITS.maxPrice)
    throw BadRequest(ctx.t('sell.priceYuan'), 'is not valid')
  const text = (k: string) => (f[k]?.trim() ? f[k].trim() : undefined)
  const tags = (f.tags ?? '')
    .split(/[,，、]/)
    .map((s) => s.trim())
    .filter((s) => s !== '')
  const info: Record<string, unknown> = { id: text('id') ?? '', title: text('title') ?? '', price, pictures }
  for (const k of ['author', 'publisher', 'pub_year', 'book_intro']) if (text(k)) info[k] = text(k)
  if (tags.length > 0) info.tags = tags
  if (!checkBookInfo.Check(info)) {
    const first = checkBookInfo.Errors(info)[0]
    const field = first?.instancePath.split('/')[1] ?? 'book_info'
    throw BadRequest(field, 'is not valid')
  }
  return info as BookInfoFields
}
