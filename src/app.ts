import { join } from 'node:path'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import AjvModule from 'ajv'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Config } from './config.ts'
import type { Db } from './db/db.ts'
import { migrate } from './db/migrate.ts'
import { openPglite } from './db/pglite.ts'
import { openPostgres } from './db/postgres.ts'
import { LIMITS } from './limits.ts'
import { authRoutes } from './routes/auth.ts'
import { buyerRoutes } from './routes/buyer.ts'
import { catalogRoutes } from './routes/catalog.ts'
import { installErrorHandling } from './routes/errors.ts'
import { rejectUnstorableStrings } from './routes/guards.ts'
import { opsRoutes } from './routes/ops.ts'
import { sellerRoutes } from './routes/seller.ts'
import { PasswordHasher } from './security/passwords.ts'
import { AuthService } from './services/auth.ts'
import { BuyerService } from './services/buyer.ts'
import { CatalogService } from './services/catalog.ts'
import type { Deps } from './services/context.ts'
import { SellerService } from './services/seller.ts'

const Ajv = AjvModule.default

/** Opens the database the configuration names (PostgreSQL server, or PGlite under DATA_DIR) and migrates it. */
export async function openDatabase(config: Config): Promise<Db> {
  const db = config.databaseUrl
    ? await openPostgres(config.databaseUrl)
    : await openPglite(join(config.dataDir, 'pglite'))
  try {
    await migrate(db)
  } catch (err) {
    await db.close()
    throw err
  }
  return db
}

export interface AppOptions {
  config: Config
  /** An open, migrated database; when absent the app opens (and on close, closes) its own. */
  db?: Db
  logger?: FastifyServerOptions['logger']
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const { config } = opts
  const db = opts.db ?? (await openDatabase(config))
  const app = Fastify({
    logger: opts.logger ?? {
      level: config.logLevel,
      redact: ['req.headers.token', 'req.headers.authorization', 'req.headers.cookie'],
    },
    bodyLimit: LIMITS.defaultBodyBytes,
    // Strict JSON: a duplicate or __proto__/constructor key is refused, not merged.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    forceCloseConnections: 'idle',
  }).withTypeProvider<TypeBoxTypeProvider>()

  // Bodies are JSON and validated as they are (a string is never taken for a number); query strings
  // and path parameters are text, so they are converted to the declared types first.
  const common = { allErrors: false, useDefaults: true, strict: false } as const
  const bodyAjv = new Ajv({ ...common, coerceTypes: false, removeAdditional: false })
  const textAjv = new Ajv({ ...common, coerceTypes: true, removeAdditional: false })
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? bodyAjv : textAjv).compile(schema as object),
  )

  installErrorHandling(app)
  app.addHook('preValidation', rejectUnstorableStrings)

  const deps: Deps = { db, config, hasher: new PasswordHasher(config.passwordMemoryKiB) }
  const auth = new AuthService(deps)
  const buyer = new BuyerService(deps, auth)
  const seller = new SellerService(deps)

  await app.register(opsRoutes, { db })
  await app.register(authRoutes, { auth })
  await app.register(buyerRoutes, { auth, buyer })
  await app.register(sellerRoutes, { auth, seller })
  await app.register(catalogRoutes, { catalog: new CatalogService(deps) })

  if (!opts.db) app.addHook('onClose', () => db.close())
  return app
}
