import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import cookie from '@fastify/cookie'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import AjvModule from 'ajv'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Config } from './config.ts'
import type { Db } from './db/db.ts'
import { migrate, reportOnStderr } from './db/migrate.ts'
import { openPgliteThread } from './db/pglite-worker.ts'
import { openPostgres } from './db/postgres.ts'
import { checkIntervalS, ReplicaSet } from './db/replicas.ts'
import { LIMITS } from './limits.ts'
import { Metrics } from './metrics.ts'
import { WebShop } from './pages/plugin.ts'
import { ReadYourWrites } from './read-your-writes.ts'
import { reindexSearchText } from './repositories/search-text.ts'
import { completeSuggestionKeys } from './repositories/suggest.ts'
import { authRoutes } from './routes/auth.ts'
import { buyerRoutes } from './routes/buyer/index.ts'
import { registerDocs } from './routes/docs.ts'
import { clientErrorHandler, frameworkErrors, installErrorHandling } from './routes/errors.ts'
import { rejectUnstorableStrings } from './routes/guards.ts'
import { opsRoutes } from './routes/ops.ts'
import { orderRoutes } from './routes/orders.ts'
import { installAbuseLimits, installBodyBudget, installSecurityHeaders } from './routes/protection.ts'
import { searchRoutes } from './routes/search.ts'
import { sellerRoutes } from './routes/seller/index.ts'
import { storeRoutes } from './routes/stores.ts'
import { PasswordHasher } from './security/passwords.ts'
import { AuthService } from './services/auth.ts'
import { BuyerService } from './services/buyer.ts'
import { CartService } from './services/cart.ts'
import { CatalogService } from './services/catalog.ts'
import { CatalogueImportService } from './services/catalogue-import.ts'
import type { Deps } from './services/context.ts'
import { OrderService } from './services/orders.ts'
import { ReviewService } from './services/reviews.ts'
import { SearchMerger } from './services/search-merger.ts'
import { SellerService } from './services/seller.ts'
import { Sweeper } from './services/sweeper.ts'

const Ajv = AjvModule.default
const VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version

/**
 * Opens the database the configuration names (PostgreSQL server, or PGlite under DATA_DIR), migrates
 * it, and completes what a migration left to the application (the suggestions' pinyin keys, search
 * columns built by an older version of the search text).
 */
export async function openDatabase(config: Config, opts: { poolSize?: number } = {}): Promise<Db> {
  const db = config.databaseUrl
    ? await openPostgres(config.databaseUrl, { max: opts.poolSize ?? config.dbPoolSize })
    : await openPgliteThread(join(config.dataDir, 'pglite'))
  try {
    await bringUpToDate(db)
  } catch (err) {
    await db.close()
    throw err
  }
  return db
}

/**
 * What every opening of a database does before it is used, with progress on stderr: the migrations,
 * then the data steps a migration leaves to the code (the suggestions' keys, and the search text
 * rebuilt to SEARCH_TEXT_VERSION; on an empty catalogue that only records the version).
 */
export async function bringUpToDate(db: Db): Promise<void> {
  await migrate(db, undefined, reportOnStderr)
  const keyed = await completeSuggestionKeys(db, (n) => {
    if (n % 10_000 === 0) reportOnStderr(`suggestion keys: ${n} titles, authors and tags so far`)
  })
  if (keyed !== undefined) reportOnStderr(`suggestion keys: ${keyed} titles, authors and tags keyed`)
  let shown = 0
  const rebuilt = await reindexSearchText(db, (done, total) => {
    if (done - shown < 10_000 && done < total) return
    shown = done
    reportOnStderr(`search text: ${done}/${total} listings re-indexed`)
  })
  if (rebuilt !== undefined) reportOnStderr(`search text: ${rebuilt} listings re-indexed`)
}

/** Opens the replicas DATABASE_REPLICA_URLS names, of the primary `db`; undefined when it names none. */
export async function openReplicas(
  config: Config,
  db: Db,
  opts: { schema?: string } = {},
): Promise<ReplicaSet | undefined> {
  if (config.replicaUrls.length === 0) return undefined
  return ReplicaSet.open(db, config.replicaUrls, {
    maxLagS: config.replicaMaxLagS,
    poolSize: config.dbPoolSize,
    ...opts,
  })
}

/**
 * The services of one app, built once from its dependencies. The JSON routes get theirs as plugin
 * options; any other plugin (the web pages) reads them from `app.services`, and calls them with the
 * user id it has authenticated.
 */
export function buildServices(deps: Deps) {
  const auth = new AuthService(deps)
  return {
    auth,
    buyer: new BuyerService(deps, auth),
    seller: new SellerService(deps),
    catalog: new CatalogService(deps),
    orders: new OrderService(deps),
    reviews: new ReviewService(deps),
    cart: new CartService(deps),
    imports: new CatalogueImportService(deps),
  }
}
export type Services = ReturnType<typeof buildServices>

declare module 'fastify' {
  interface FastifyInstance {
    services: Services
  }
}

export interface AppOptions {
  config: Config
  /** An open, migrated database; when absent the app opens (and on close, closes) its own. */
  db?: Db
  /**
   * Open replicas of `db` (openReplicas); when absent the app opens (and closes) those of
   * config.replicaUrls. Either way the app runs their health check while it runs.
   */
  replicas?: ReplicaSet
  /** false: no logs (tests); a stream: JSON log lines go there instead of stdout. */
  logger?: false | { stream: NodeJS.WritableStream }
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const { config } = opts
  const db = opts.db ?? (await openDatabase(config))
  const replicas = opts.replicas ?? (await openReplicas(config, db))
  const app = Fastify({
    logger:
      opts.logger === false
        ? false
        : {
            level: config.logLevel,
            // Request bodies (passwords) are never logged; headers that carry secrets are masked if they ever are.
            redact: ['req.headers.token', 'req.headers.authorization', 'req.headers.cookie'],
            ...(opts.logger ? { stream: opts.logger.stream } : {}),
          },
    bodyLimit: LIMITS.defaultBodyBytes,
    routerOptions: { maxParamLength: LIMITS.maxPathParamLength },
    frameworkErrors,
    clientErrorHandler,
    // Strict JSON: a duplicate or __proto__/constructor key is refused, not merged.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    forceCloseConnections: 'idle',
    // A client gets this long to send a whole request; idle keep-alive sockets are closed after 72 s.
    requestTimeout: config.requestTimeoutS * 1000,
    // Behind a reverse proxy, TRUST_PROXY makes request.ip (used by the abuse limits) the client's.
    trustProxy: config.trustProxy,
  }).withTypeProvider<TypeBoxTypeProvider>()

  // Bodies are JSON and validated as they are (a string is never taken for a number); query strings
  // and path parameters are text, so they are converted to the declared types first.
  const common = { allErrors: false, useDefaults: true, strict: false } as const
  const bodyAjv = new Ajv({ ...common, coerceTypes: false, removeAdditional: false })
  const textAjv = new Ajv({ ...common, coerceTypes: true, removeAdditional: false })
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? bodyAjv : textAjv).compile(schema as object),
  )

  const metrics = new Metrics(db)
  if (replicas) {
    // A caller's reads go to the primary for a short while after its own writes (read-your-writes.ts).
    const recentWrites = new ReadYourWrites(replicas.maxLagS + checkIntervalS(replicas.maxLagS))
    recentWrites.install(app)
    replicas.hooks = {
      mustReadPrimary: recentWrites.mustReadPrimary,
      onRead: (target) => metrics.reads.inc({ target }),
      onFallback: (replica, reason) => metrics.replicaFallbacks.inc({ replica, reason }),
      log: app.log,
    }
    metrics.replicaStatus = () => replicas.status()
    app.addHook('onReady', async () => replicas.start())
    app.addHook('preClose', () => replicas.stop())
    if (!opts.replicas) app.addHook('onClose', () => replicas.close())
  }
  // Listings added are merged into the search index in the background (search-merger.ts).
  const searchMerger = new SearchMerger(db, app.log)
  app.addHook('onReady', async () => searchMerger.start())
  app.addHook('preClose', () => searchMerger.stop())
  const services = buildServices({
    db,
    ...(replicas ? { reads: replicas.reads } : {}),
    config,
    hasher: new PasswordHasher(config.passwordMemoryKiB),
    metrics,
    searchMerger,
  })
  app.decorate('services', services)
  const { auth } = services
  const shop = new WebShop({ config, ...services })

  installErrorHandling(app, shop.notFound)
  // Bodies are JSON only: a text/plain body would reach the schemas as a string ("body must be object").
  app.removeContentTypeParser('text/plain')
  installSecurityHeaders(app)
  installAbuseLimits(app, config)
  installBodyBudget(app)
  app.addHook('preValidation', rejectUnstorableStrings)
  // Cookies are read by the web shop's pages only (the API takes its token from headers).
  await app.register(cookie)

  await registerDocs(app, VERSION)
  metrics.install(app)
  // The JSON API: one plugin per first URL segment (routes/<segment>.ts or routes/<segment>/index.ts).
  await app.register(opsRoutes, { db, metrics, ...(replicas ? { replicas: () => replicas.status() } : {}) })
  await app.register(authRoutes, { auth })
  const { buyer, seller, catalog, orders, reviews, cart } = services
  await app.register(buyerRoutes, { auth, buyer, orders, cart, reviews })
  await app.register(sellerRoutes, { auth, seller, orders, reviews })
  await app.register(searchRoutes, { catalog })
  await app.register(storeRoutes, { catalog, reviews })
  await app.register(orderRoutes, { auth, orders })
  await app.register(shop.plugin)

  // Expiry, auto-receive and session clean-up; stopped before the database closes.
  if (config.sweeper) {
    const sweeper = new Sweeper(db, config, app.log, { metrics })
    app.addHook('onReady', async () => sweeper.start())
    app.addHook('preClose', () => sweeper.stop())
  }

  // Catalogue imports stop after the batch they are writing commits, before the database closes.
  app.addHook('preClose', () => services.imports.stop())
  // The facets' copy of the listings' columns is read ahead, in the background (facet-columns.ts).
  app.addHook('onReady', async () => services.catalog.warmFacets(app.log))
  app.addHook('preClose', () => services.catalog.stopWarming())
  if (!opts.db) app.addHook('onClose', () => db.close())
  return app
}
