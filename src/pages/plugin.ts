import compress from '@fastify/compress'
import multipart from '@fastify/multipart'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Config } from '../config.ts'
import { DomainError } from '../errors.ts'
import type { AuthService } from '../services/auth.ts'
import type { BuyerService } from '../services/buyer.ts'
import type { CartService } from '../services/cart.ts'
import type { CatalogService } from '../services/catalog.ts'
import type { CatalogueImportService } from '../services/catalogue-import.ts'
import type { OrderService } from '../services/orders.ts'
import type { ReviewService } from '../services/reviews.ts'
import type { SellerService } from '../services/seller.ts'
import { accountPages } from './account.ts'
import { Assets } from './assets.ts'
import { cartPages } from './cart.ts'
import { COOKIES, pageContextHook } from './context.ts'
import { errorPage, notFoundPage, pageStatus } from './errors.ts'
import { chooseLang, errorText, translator } from './i18n/index.ts'
import { sellPages } from './sell.ts'
import { sellImportPages } from './sell-import.ts'
import { shopPages } from './shop.ts'

export interface PagesOptions {
  config: Config
  auth: AuthService
  buyer: BuyerService
  seller: SellerService
  catalog: CatalogService
  orders: OrderService
  cart: CartService
  reviews: ReviewService
  imports: CatalogueImportService
}

/** Form bodies (application/x-www-form-urlencoded) as objects of strings; a repeated name gives an array. */
function parseForm(_req: FastifyRequest, body: string, done: (err: Error | null, body?: unknown) => void) {
  const out: Record<string, string | string[]> = Object.create(null)
  for (const [k, v] of new URLSearchParams(body)) {
    const prev = out[k]
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v]
  }
  done(null, { ...out })
}

/**
 * The web shop: server-rendered pages over the same services as the JSON routes. Everything here is
 * encapsulated — compression, form and multipart parsing, the visitor's context and the HTML error
 * pages apply to these routes only, so the JSON API answers exactly as before.
 */
export class WebShop {
  readonly assets = new Assets()
  private readonly context: ReturnType<typeof pageContextHook>

  constructor(private readonly o: PagesOptions) {
    this.context = pageContextHook(o.auth)
  }

  /** The friendly 404 page, for a browser asking for an address nothing answers. */
  readonly notFound = async (request: FastifyRequest, reply: FastifyReply) => {
    await this.resolve(request, reply)
    return notFoundPage(request, reply, this.assets)
  }

  /** The visitor's context; without the session when the database cannot say (pages still answer). */
  private async resolve(request: FastifyRequest, reply: FastifyReply) {
    try {
      await this.context(request, reply)
    } catch (err) {
      request.log.warn({ err }, 'page context without session')
      const lang = chooseLang(undefined, request.cookies?.[COOKIES.lang], request.headers['accept-language'])
      request.page = { lang, t: translator(lang), user: undefined, csrf: '', here: request.url }
    }
  }

  readonly plugin = async (app: FastifyInstance) => {
    const { o, assets } = this
    // HTML, CSS and JS shrink several-fold; pictures are compressed already (and excluded by type).
    await app.register(compress, { global: true, threshold: 1024, encodings: ['br', 'gzip'] })
    await app.register(multipart)
    app.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 1024 * 1024 },
      parseForm,
    )
    assets.register(app)
    await app.register(async (site) => {
      // onRequest: every later step (validation, the string guard, the handler) may answer with a page.
      site.addHook('onRequest', (request, reply) => this.resolve(request, reply))
      site.setErrorHandler(async (err: unknown, request: FastifyRequest, reply: FastifyReply) => {
        if (err instanceof DomainError)
          return errorPage(request, reply, assets, pageStatus(err.info), errorText(request.page.t, err.info))
        const code = (err as { statusCode?: unknown }).statusCode
        const status = typeof code === 'number' ? code : 500
        if (status === 404) return notFoundPage(request, reply, assets)
        if (status >= 400 && status < 500)
          return errorPage(request, reply, assets, status, request.page.t('error.bad_request', { field: '' }))
        request.log.error({ err }, 'page failed')
        return errorPage(request, reply, assets, 500, request.page.t('error.internal'))
      })
      await site.register(shopPages, { catalog: o.catalog, buyer: o.buyer, reviews: o.reviews, assets })
      await site.register(accountPages, {
        reviews: o.reviews,
        auth: o.auth,
        buyer: o.buyer,
        orders: o.orders,
        assets,
        config: o.config,
      })
      await site.register(cartPages, { auth: o.auth, cart: o.cart, buyer: o.buyer, assets })
      await site.register(sellPages, {
        seller: o.seller,
        orders: o.orders,
        catalog: o.catalog,
        reviews: o.reviews,
        assets,
      })
      await site.register(sellImportPages, { imports: o.imports, seller: o.seller, assets })
    })
  }
}
