import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { type Static, Type } from 'typebox'
import type { Facets } from '../api/catalog.ts'
import { SearchQuery, SORTS } from '../api/catalog.ts'
import { LIMITS } from '../limits.ts'
import { BookId, StoreId } from '../routes/schemas.ts'
import { PRICE_BUCKETS } from '../search/facets.ts'
import type { BuyerService } from '../services/buyer.ts'
import type { CatalogService, Listing } from '../services/catalog.ts'
import { type ApiReviewList, REVIEW_SORTS, type ReviewService } from '../services/reviews.ts'
import type { Assets } from './assets.ts'
import { bookGrid, bookUrl, coverUrl, paging, stockText } from './components.ts'
import { csrfOk, loginUrl, type PageContext } from './context.ts'
import { coverSvg } from './cover.ts'
import { errorPage, forgedPage, notFoundPage, oddParams, refusal } from './errors.ts'
import { money, parseCount, when } from './format.ts'
import { type Html, html } from './html.ts'
import type { MessageKey } from './i18n/index.ts'
import { flashFrom, hiddenCsrf, layout, type PageOptions, sendPage } from './layout.ts'

type SearchParams = Static<typeof SearchQuery>

/**
 * The largest match whose facets the search page counts over its rows (an author filter, or text no
 * bitmap answers; other searches count from bitmaps, at any size). Counting over the rows reads every
 * matching listing: at 100 000 listings on PostgreSQL, a word matching about 9 000 of them put the
 * page's p99 at 74 ms with its counts; at this bound the slowest page stays within 50 ms (`npm run
 * bench:pages`). A larger match gets its refining links without counts.
 */
const PAGE_FACETS_FROM_ROWS_UP_TO = 3_000
/** Refining links for a match too large to count: tags (the shop's most used) with no counts. */
type UncountedFacets = { tags: { value: string; count: number | undefined }[] }

const tagsOf = (p: Pick<SearchParams, 'tag'>): string[] =>
  p.tag === undefined ? [] : Array.isArray(p.tag) ? p.tag : [p.tag]

/** The URL of a search page: these parameters with some changed (undefined removes one). */
export function searchUrl(
  p: Partial<SearchParams>,
  change: Partial<Record<keyof SearchParams, unknown>> = {},
) {
  const merged: Record<string, unknown> = { ...p, ...change }
  const qs = new URLSearchParams()
  for (const key of ['q', 'store_id', 'tag', 'min_price', 'max_price', 'in_stock', 'sort', 'page'] as const) {
    const v = merged[key]
    if (v === undefined || v === '' || (key === 'sort' && v === 'relevance') || (key === 'page' && v === 1))
      continue
    for (const one of Array.isArray(v) ? v : [v]) qs.append(key, String(one))
  }
  const s = qs.toString()
  return s ? `/search?${s}` : '/search'
}

const BookParams = Type.Object({ store_id: StoreId, book_id: BookId })
/** The book page's reviews: a page of them and their order, as `/stores/…/reviews` offers. */
const BookQuery = Type.Object({
  page: Type.Integer({ minimum: 1, maximum: 100_000, default: 1 }),
  sort: Type.Enum([...REVIEW_SORTS], { default: 'newest' }),
})
type ReviewsView = Static<typeof BookQuery>
/** Ten reviews fit a phone screen or two; more pages are links. */
const REVIEWS_PAGE = 10
const FIRST_REVIEWS: ReviewsView = { page: 1, sort: 'newest' }
const BuyBody = Type.Object({ _csrf: Type.Optional(Type.String()), count: Type.Optional(Type.String()) })

export interface ShopDeps {
  reviews: ReviewService
  catalog: CatalogService
  buyer: BuyerService
  assets: Assets
}

export const shopPages: FastifyPluginAsyncTypebox<ShopDeps> = async (
  app,
  { catalog, buyer, reviews, assets },
) => {
  const page = (ctx: PageContext, o: PageOptions) => layout(ctx, assets, o)
  const reviewsOf = (l: Pick<Listing, 'store_id' | 'book_id'>, v: ReviewsView = FIRST_REVIEWS) =>
    reviews.list(l.store_id, l.book_id, { page: v.page, pageSize: REVIEWS_PAGE, sort: v.sort })

  app.get('/', { schema: { hide: true } }, async (request, reply) => {
    const ctx = request.page
    const { t } = ctx
    const browse = { sort: 'relevance', page: 1, page_size: 12 } as const
    const [fresh, popular, tags] = await Promise.all([
      catalog.search(browse),
      catalog.search({ ...browse, sort: 'sales_desc' }),
      catalog.popularTags(24),
    ])
    const body =
      fresh.total === 0
        ? html`<p class="lead">${t('home.empty')}</p>`
        : html`<section aria-labelledby="h-new"><h2 id="h-new">${t('home.new')}</h2>${bookGrid(ctx, fresh.books)}</section>
<section aria-labelledby="h-popular"><h2 id="h-popular">${t('home.popular')}</h2>${bookGrid(ctx, popular.books)}</section>
${tags.length > 0 ? html`<section aria-labelledby="h-tags"><h2 id="h-tags">${t('home.tags')}</h2><ul class="tags">${tags.map((x) => html`<li><a href="${searchUrl({ tag: x.tag })}">${x.tag} <span class="muted">${x.listings}</span></a></li>`)}</ul></section>` : ''}`
    const hero = html`<div class="hero"><h1>${t('home.title')}</h1><p>${t('site.tagline')}</p></div>`
    return sendPage(reply, page(ctx, { title: t('site.name'), ownHeading: true, body: html`${hero}${body}` }))
  })

  app.get(
    '/search',
    { schema: { hide: true, querystring: SearchQuery }, attachValidation: true },
    async (request, reply) => {
      const ctx = request.page
      const { t } = ctx
      if (request.validationError)
        return errorPage(
          request,
          reply,
          assets,
          400,
          t('error.bad_request', { field: fieldOf(request.validationError.message) }),
        )
      const p = request.query
      let result: Awaited<ReturnType<CatalogService['search']>>
      try {
        // Facets over the whole match give the refining links their counts; where counting reads
        // every matching row, a larger match gets the links without counts and the shop's popular tags.
        result = await catalog.search(
          { ...p, facets: 'tags,price,stores' },
          { facetsFromRowsUpTo: PAGE_FACETS_FROM_ROWS_UP_TO },
        )
      } catch (err) {
        const r = refusal(request, err)
        return errorPage(request, reply, assets, r.status, r.text)
      }
      const pages = Math.min(Math.ceil(result.total / p.page_size), 100_000)
      const title = p.q?.trim()
        ? t('search.resultsFor', { total: result.total, q: p.q.trim() })
        : t('search.results', { total: result.total })
      const body = html`<div class="results">
<aside class="filters" aria-label="${t('search.filters')}">${filters(ctx, p, result.facets ?? (await uncountedFacets()))}</aside>
<div>
${sortForm(ctx, p)}
${result.books.length === 0 ? html`<p class="lead">${t('search.none')}</p>` : bookGrid(ctx, result.books)}
${paging(ctx, p.page, pages, (n) => searchUrl(p, { page: n }))}
</div></div>`
      return sendPage(reply, page(ctx, { title, body, q: p.q }))
    },
  )

  app.get(
    '/book/:store_id/:book_id',
    { schema: { hide: true, params: BookParams, querystring: BookQuery }, attachValidation: true },
    async (request, reply) => {
      const bad = request.validationError
      if ((bad && bad.validationContext !== 'querystring') || oddParams(request.params))
        return notFoundPage(request, reply, assets)
      if (bad)
        return errorPage(
          request,
          reply,
          assets,
          400,
          request.page.t('error.bad_request', { field: fieldOf(bad.message) }),
        )
      const { store_id, book_id } = request.params
      let listing: Listing
      try {
        listing = await catalog.listing(store_id, book_id)
      } catch (err) {
        refusal(request, err)
        return notFoundPage(request, reply, assets)
      }
      const flash = flashFrom(request.page, (request.query as { done?: unknown }).done)
      const view = { page: request.query.page, sort: request.query.sort }
      return sendPage(reply, bookPage(request.page, listing, flash, await reviewsOf(listing, view), view))
    },
  )

  /** Places an order for this one book and sends the shopper to pay for it. */
  app.post(
    '/book/:store_id/:book_id/buy',
    { schema: { hide: true, params: BookParams, body: BuyBody }, attachValidation: true },
    async (request, reply) => {
      const ctx = request.page
      if (request.validationError || oddParams(request.params)) return notFoundPage(request, reply, assets)
      const { store_id, book_id } = request.params
      if (!csrfOk(request, request.body._csrf)) return forgedPage(request, reply, assets)
      const back = bookUrl(store_id, book_id)
      if (!ctx.user) return reply.redirect(loginUrl(back), 303)
      const listing = await catalog.listing(store_id, book_id).catch((err) => {
        refusal(request, err)
        return undefined
      })
      if (!listing) return notFoundPage(request, reply, assets)
      const count = parseCount(request.body.count, 1, LIMITS.maxCount)
      if (count === undefined) {
        const text = ctx.t('error.bad_request', { field: ctx.t('book.count') })
        return sendPage(reply, bookPage(ctx, listing, { kind: 'error', text }, await reviewsOf(listing)), 400)
      }
      try {
        const orderId = await buyer.newOrder(ctx.user, store_id, [{ id: book_id, count }])
        return reply.redirect(`/account/orders?done=orders.placed#order-${encodeURIComponent(orderId)}`, 303)
      } catch (err) {
        const r = refusal(request, err)
        return sendPage(
          reply,
          bookPage(ctx, listing, { kind: 'error', text: r.text }, await reviewsOf(listing)),
          r.status,
        )
      }
    },
  )

  /** The first picture of a listing, or a drawn cover: every card can show an image without a 404. */
  app.get(
    '/cover/:store_id/:book_id',
    { schema: { hide: true, params: BookParams }, attachValidation: true },
    async (request, reply) => {
      if (request.validationError || oddParams(request.params)) return notFoundPage(request, reply, assets)
      const { store_id, book_id } = request.params
      try {
        const pic = await catalog.picture(store_id, book_id, 0)
        reply.header('cache-control', 'public, max-age=3600')
        if (pic) return reply.type(pic.mime).header('etag', pic.etag).send(pic.data)
        const l = await catalog.listing(store_id, book_id)
        const author = typeof l.book_info.author === 'string' ? l.book_info.author : null
        return reply
          .type('image/svg+xml')
          .send(coverSvg(`${store_id}/${book_id}`, String(l.book_info.title), author))
      } catch (err) {
        refusal(request, err)
        return notFoundPage(request, reply, assets)
      }
    },
  )

  function sortForm(ctx: PageContext, p: SearchParams): Html {
    const { t } = ctx
    const keep: [string, unknown][] = [
      ['q', p.q],
      ['min_price', p.min_price],
      ['max_price', p.max_price],
      ['in_stock', p.in_stock],
      ...tagsOf(p).map((x): [string, unknown] => ['tag', x]),
    ]
    return html`<form method="get" action="/search" class="sort" data-autosubmit>
${keep.filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => html`<input type="hidden" name="${k}" value="${String(v)}">`)}
<label for="sort">${t('search.sort')}</label>
<select id="sort" name="sort">${SORTS.map((k) => html`<option value="${k}"${p.sort === k ? html` selected` : ''}>${t(`search.sort.${k}` as MessageKey)}</option>`)}</select>
<button type="submit">${t('search.apply')}</button>
</form>`
  }

  /** Refining links without counts, for a match too large to count: the shop's most used tags. */
  async function uncountedFacets(): Promise<UncountedFacets> {
    const popular = await catalog.popularTags(12)
    return { tags: popular.map((x) => ({ value: x.tag, count: undefined })) }
  }

  /** The refining links, each with how many of the matches it keeps (the search's facets) when counted. */
  function filters(ctx: PageContext, p: SearchParams, facets: Facets | UncountedFacets): Html {
    const { t } = ctx
    const active = tagsOf(p)
    const more = (facets.tags ?? []).filter((x) => !active.includes(x.value)).slice(0, 12)
    const count = (n: number | undefined) => (n === undefined ? '' : html` <span class="muted">${n}</span>`)
    const noPaging = { page: undefined }
    const priceLink = (min: number | undefined, max: number | undefined, label: string, n?: number) => {
      const current = p.min_price === min && p.max_price === max
      return html`<li><a href="${searchUrl(p, { ...noPaging, min_price: min, max_price: max })}"${current ? html` aria-current="true"` : ''}>${label}</a>${count(n)}</li>`
    }
    return html`<h2>${t('search.filters')}</h2>
${active.length > 0 ? html`<ul class="chips">${active.map((tag) => html`<li><a href="${searchUrl(p, { ...noPaging, tag: active.filter((x) => x !== tag) })}" aria-label="${t('search.removeTag', { tag })}">${tag} ×</a></li>`)}</ul>` : ''}
${p.store_id !== undefined ? html`<ul class="chips"><li><a href="${searchUrl(p, { ...noPaging, store_id: undefined })}" aria-label="${t('search.removeStore', { store: p.store_id })}">${p.store_id} ×</a></li></ul>` : ''}
<h3>${t('search.price')}</h3>
<ul class="plain">
${priceLink(undefined, undefined, t('search.price.any'))}
${(
  'price' in facets && facets.price ? facets.price : PRICE_BUCKETS.map((b) => ({ ...b, count: undefined }))
).map(({ min, max, count: n }) =>
  priceLink(
    min,
    max ?? undefined,
    max === null
      ? t('search.price.above', { min: money(min) })
      : t('search.price.range', { min: money(min), max: money(max) }),
    n,
  ),
)}
</ul>
<p><a href="${searchUrl(p, { ...noPaging, in_stock: p.in_stock ? undefined : true })}"${p.in_stock ? html` aria-current="true"` : ''}>${p.in_stock ? '✓ ' : ''}${t('search.inStock')}</a>${count('in_stock' in facets ? facets.in_stock : undefined)}</p>
${more.length > 0 ? html`<h3>${t('search.tag')}</h3><ul class="tags small">${more.map((x) => html`<li><a href="${searchUrl(p, { ...noPaging, tag: [...active, x.value] })}">${x.value}${count(x.count)}</a></li>`)}</ul>` : ''}
${'stores' in facets && facets.stores && facets.stores.length > 1 ? html`<h3>${t('search.store')}</h3><ul class="plain">${facets.stores.slice(0, 10).map((x) => html`<li><a href="${searchUrl(p, { ...noPaging, store_id: x.store_id })}">${x.store_id}</a>${count(x.count)}</li>`)}</ul>` : ''}
${active.length > 0 || p.store_id !== undefined || p.min_price !== undefined || p.max_price !== undefined || p.in_stock ? html`<p><a href="${searchUrl({ q: p.q })}">${t('search.clearFilters')}</a></p>` : ''}`
  }

  /** How many reviews gave each rating, as meters a screen reader reads out too. */
  function histogram(ctx: PageContext, list: ApiReviewList): Html {
    const { t } = ctx
    const h = list.rating.histogram
    return html`<dl class="histogram" aria-label="${t('book.reviewsHistogram')}">${(
      [5, 4, 3, 2, 1] as const
    ).map(
      (n) =>
        html`<div><dt>${'★'.repeat(n)}<span class="sr">${t('review.stars', { n })}</span></dt><dd><meter min="0" max="${list.rating.count}" value="${h[n]}" aria-label="${t('book.reviewsWithStars', { n, count: h[n] })}"></meter> <span class="muted">${h[n]}</span></dd></div>`,
    )}</dl>`
  }

  /** The reviews section: histogram, order links, one page of reviews and links to the others. */
  function reviewsSection(ctx: PageContext, l: Listing, list: ApiReviewList, view: ReviewsView): Html {
    const { t } = ctx
    const link = (v: ReviewsView) => {
      const qs = new URLSearchParams()
      if (v.sort !== 'newest') qs.set('sort', v.sort)
      if (v.page !== 1) qs.set('page', String(v.page))
      const s = qs.toString()
      return `${bookUrl(l.store_id, l.book_id)}${s ? `?${s}` : ''}#reviews`
    }
    const heading = html`<h2 id="h-reviews">${t('book.reviews')}</h2>`
    if (list.total === 0)
      return html`<section id="reviews" aria-labelledby="h-reviews">${heading}<p class="muted">${t('book.noReviews')}</p></section>`
    const sorts = html`<nav class="review-sort" aria-label="${t('book.reviewsSort')}"><ul class="plain inline-list">${REVIEW_SORTS.map((s) => html`<li>${s === view.sort ? html`<span aria-current="true">${t(`book.reviewsSort.${s}` as MessageKey)}</span>` : html`<a href="${link({ sort: s, page: 1 })}">${t(`book.reviewsSort.${s}` as MessageKey)}</a>`}</li>`)}</ul></nav>`
    return html`<section id="reviews" aria-labelledby="h-reviews">${heading}
${histogram(ctx, list)}
${sorts}
${list.reviews.length === 0 ? html`<p class="muted">${t('book.reviewsPageEmpty')}</p>` : reviewList(ctx, list)}
${paging(ctx, view.page, Math.ceil(list.total / REVIEWS_PAGE), (n) => link({ sort: view.sort, page: n }))}
</section>`
  }

  function reviewList(ctx: PageContext, list: ApiReviewList): Html {
    const { t } = ctx
    return html`<ul class="reviews">${list.reviews.map(
      (
        r,
      ) => html`<li><p><span class="stars" aria-label="${t('review.stars', { n: r.rating })}">${'★'.repeat(r.rating)}${'☆'.repeat(5 - r.rating)}</span>
<span class="muted">${t('review.by', { user: r.buyer_id, when: when(r.updated_at, ctx.lang) })}</span></p>
${r.text ? html`<p class="prose">${r.text}</p>` : ''}
${r.reply ? html`<blockquote><strong>${t('review.reply')}:</strong> ${r.reply}</blockquote>` : ''}</li>`,
    )}</ul>`
  }

  function bookPage(
    ctx: PageContext,
    l: Listing,
    flash: PageOptions['flash'],
    revs: ApiReviewList,
    view: ReviewsView = FIRST_REVIEWS,
  ): Html {
    const { t } = ctx
    const info = l.book_info
    const text = (k: string) =>
      typeof info[k] === 'string' && info[k] !== '' ? (info[k] as string) : undefined
    const num = (k: string) => (typeof info[k] === 'number' ? String(info[k]) : text(k))
    const title = String(info.title)
    const author = text('author')
    const facts: [MessageKey, string | undefined][] = [
      ['book.publisher', text('publisher')],
      ['book.pubYear', num('pub_year')],
      ['book.translator', text('translator')],
      ['book.pages', num('pages')],
      ['book.binding', text('binding')],
      ['book.isbn', text('isbn')],
    ]
    const tags = Array.isArray(info.tags) ? (info.tags as string[]) : []
    const pictures =
      l.pictures.length > 0
        ? l.pictures.map(
            (src, i) =>
              html`<img src="${src}" alt="${t('book.picture', { n: i + 1, title })}" loading="${i === 0 ? 'eager' : 'lazy'}" width="240" height="340">`,
          )
        : [
            html`<img src="${coverUrl(l.store_id, l.book_id)}" alt="${t('book.noPicture')}" width="240" height="340">`,
          ]
    const section = (key: MessageKey, value: string | undefined) =>
      value ? html`<section><h2>${t(key)}</h2><div class="prose">${value}</div></section>` : ''
    const price = typeof info.price === 'number' ? info.price : 0
    const buy = html`<form method="post" action="/cart" class="buy">
${hiddenCsrf(ctx)}
<input type="hidden" name="store_id" value="${l.store_id}"><input type="hidden" name="book_id" value="${l.book_id}"><input type="hidden" name="back" value="book">
<label for="count">${t('book.count')}</label>
<input id="count" name="count" type="number" inputmode="numeric" min="1" max="${Math.max(1, l.stock_level)}" value="1" required>
<button type="submit" class="primary"${l.stock_level > 0 ? '' : html` disabled`}>${t('cart.add')}</button>
<button type="submit" formaction="${`${bookUrl(l.store_id, l.book_id)}/buy`}"${l.stock_level > 0 ? '' : html` disabled`}>${t('book.buyNow')}</button>
</form>`
    const body = html`<article class="book">
<div class="gallery">${pictures}</div>
<div class="summary">
<h1>${title}</h1>
${author ? html`<p class="author">${t('book.by', { author })}</p>` : ''}
<p class="price big">${money(price)}</p>
${l.rating.average === null ? '' : html`<p class="rating"><span class="stars" aria-hidden="true">${'★'.repeat(Math.round(l.rating.average))}</span> ${t('review.average', { avg: l.rating.average.toFixed(1), n: l.rating.count })}</p>`}
<p class="stock${l.stock_level > 0 ? '' : ' out'}">${stockText(ctx, l.stock_level)}</p>
<p class="muted">${t('book.store', { store: l.store_id })}</p>
${buy}
<dl class="facts">${facts.filter(([, v]) => v !== undefined).map(([k, v]) => html`<dt>${t(k)}</dt><dd>${v}</dd>`)}</dl>
${tags.length > 0 ? html`<ul class="tags small" aria-label="${t('book.tags')}">${tags.map((tag) => html`<li><a href="${searchUrl({ tag })}">${tag}</a></li>`)}</ul>` : ''}
</div>
<div class="details">
${section('book.description', text('book_intro'))}
${section('book.aboutAuthor', text('author_intro'))}
${section('book.contents', text('content'))}
${reviewsSection(ctx, l, revs, view)}
</div>
</article>`
    return page(ctx, { title, body, ownHeading: true, flash })
  }
}

/** "querystring/page must be >= 1" → "page": the field a validation message names. */
export function fieldOf(message: string): string {
  const m = /(?:querystring|body|params)\/?([\w]+)/.exec(message)
  return m?.[1] ?? message.split(' ')[0] ?? ''
}
