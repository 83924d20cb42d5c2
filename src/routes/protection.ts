import type { FastifyInstance, FastifyRequest, onResponseHookHandler, preHandlerHookHandler } from 'fastify'
import type { Config } from '../config.ts'
import { RateLimited } from '../errors.ts'
import { LIMITS } from '../limits.ts'

/**
 * Counts events per key in fixed windows, in this process's memory (bounded: the oldest keys are
 * dropped first). Several server processes each keep their own counts.
 */
export class WindowCounter {
  private readonly counts = new Map<string, { n: number; resetAt: number }>()

  constructor(
    private readonly windowMs: number,
    private readonly maxKeys = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** How many events the key has in the current window. */
  count(key: string): number {
    const e = this.counts.get(key)
    if (!e) return 0
    if (e.resetAt <= this.now()) {
      this.counts.delete(key)
      return 0
    }
    return e.n
  }

  /** Seconds until the key's window ends. */
  retryAfterS(key: string): number {
    const e = this.counts.get(key)
    return e ? Math.max(1, Math.ceil((e.resetAt - this.now()) / 1000)) : 1
  }

  add(key: string): number {
    const now = this.now()
    let e = this.counts.get(key)
    if (!e || e.resetAt <= now) {
      this.counts.delete(key)
      e = { n: 0, resetAt: now + this.windowMs }
      this.counts.set(key, e)
      while (this.counts.size > this.maxKeys) {
        const oldest = this.counts.keys().next().value
        if (oldest === undefined) break
        this.counts.delete(oldest)
      }
    }
    e.n++
    return e.n
  }
}

/** The routes that check a password (or hand out a session): where guessing would happen. */
export const PASSWORD_ROUTES = new Set([
  '/auth/login',
  '/auth/password',
  '/auth/unregister',
  '/buyer/payment',
  '/buyer/add_funds',
  // The web shop's forms that check a password.
  '/login',
  '/account/top-up',
  '/account/orders/:order_id/pay',
])

/**
 * Routes whose bodies are streamed to a file as they arrive, never held in memory: they do not draw
 * on the in-memory body budget, and bound themselves (size, uploads at once, one per store).
 */
export const DISK_BODY_ROUTES = new Set(['/sell/store/:store_id/import'])

/** This machine: the operator's own clients (and the course's test suite), exempt from per-address limits. */
export function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.')
}

function userOf(request: FastifyRequest): string | undefined {
  const body = request.body as { user_id?: unknown } | undefined
  return typeof body?.user_id === 'string' ? body.user_id : undefined
}

/**
 * Abuse limits on the password routes:
 * - failed attempts (401) per user id and per client address within a window; past the limit the
 *   route answers 429 (with Retry-After) before checking anything, right password or not;
 * - optionally, all requests per client address within the window (0 = no limit).
 * Per-address limits do not apply to loopback clients; behind a reverse proxy, set TRUST_PROXY so
 * that the address is the real client's and not the proxy's.
 * 401s are counted when the response is sent, so the limit needs no extra database work.
 */
export function installAbuseLimits(app: FastifyInstance, config: Config): void {
  const windowMs = config.rateLimitWindowS * 1000
  const failures = new WindowCounter(windowMs)
  const requests = new WindowCounter(windowMs)

  // Refused before anything else the route does; the hooks are synchronous (no promise per request).
  const check: preHandlerHookHandler = (request, _reply, done) => {
    const ipKey = isLoopback(request.ip) ? undefined : `ip:${request.ip}`
    if (ipKey && config.rateLimitRequestsPerIp > 0 && requests.add(ipKey) > config.rateLimitRequestsPerIp)
      return done(RateLimited(requests.retryAfterS(ipKey)))
    const user = userOf(request)
    const userKey = user === undefined ? undefined : `user:${user}`
    if (ipKey && config.rateLimitFailuresPerIp > 0 && failures.count(ipKey) >= config.rateLimitFailuresPerIp)
      return done(RateLimited(failures.retryAfterS(ipKey)))
    if (
      userKey &&
      config.rateLimitFailuresPerUser > 0 &&
      failures.count(userKey) >= config.rateLimitFailuresPerUser
    )
      return done(RateLimited(failures.retryAfterS(userKey)))
    done()
  }
  const count: onResponseHookHandler = (request, reply, done) => {
    if (reply.statusCode === 401) {
      if (!isLoopback(request.ip)) failures.add(`ip:${request.ip}`)
      const user = userOf(request)
      if (user !== undefined) failures.add(`user:${user}`)
    }
    done()
  }
  // Only the password routes carry these hooks; every other route pays nothing for them.
  app.addHook('onRoute', (route) => {
    if (!PASSWORD_ROUTES.has(route.url)) return
    route.preHandler = [check, ...hooks(route.preHandler)]
    route.onResponse = [...hooks(route.onResponse), count]
  })
}

/**
 * Bounds the memory partial requests can hold. A request body is buffered whole before it is parsed,
 * so a thousand clients that each send half of a large body would hold gigabytes. Bodies are capped
 * per route (1 MiB, add_book 16 MiB, the web shop's add-book form 24 MiB); above LIMITS.smallBodyBytes, a body is admitted only while the
 * bodies being received in this process declare at most LIMITS.largeBodyBudgetBytes in all (a
 * chunked body counts as its route's limit). Past that, it is turned away at once with 503 and
 * Retry-After, before a byte of it is read. Small bodies are never turned away.
 */
export function installBodyBudget(app: FastifyInstance): void {
  let reserved = 0
  app.addHook('onRequest', (request, reply, done) => {
    if (request.method === 'GET' || request.method === 'HEAD') return done()
    if (DISK_BODY_ROUTES.has(request.routeOptions.url ?? '')) return done()
    const limit = request.routeOptions.bodyLimit ?? LIMITS.defaultBodyBytes
    const length = request.headers['content-length']
    // A multipart body is read by its route as a stream, with no body parser to hold it to the route's
    // limit: it is held to it here, by its declared length (which HTTP framing then enforces).
    const multipart = /^multipart\//i.test(request.headers['content-type'] ?? '')
    if (multipart && length === undefined) {
      reply.header('connection', 'close')
      return reply.code(411).send({ message: 'a form upload must declare its length (content-length)' })
    }
    const declared = length === undefined ? limit : Number(length)
    if (declared > limit) {
      // Any other body over the route's limit is 413 from its body parser, which reads nothing.
      if (!multipart) return done()
      reply.header('connection', 'close')
      return reply.code(413).send({ message: `the form is larger than ${limit} bytes` })
    }
    if (!(declared > LIMITS.smallBodyBytes)) return done()
    if (reserved + declared > LIMITS.largeBodyBudgetBytes) {
      reply.header('retry-after', '1').header('connection', 'close')
      return reply.code(503).send({ message: 'too many large uploads at once: try again in a moment' })
    }
    reserved += declared
    // given back once the response is sent or the connection drops, whichever comes first
    reply.raw.once('close', () => {
      reserved -= declared
    })
    done()
  })
}

const hooks = <T>(h: T | T[] | undefined): T[] => (h === undefined ? [] : Array.isArray(h) ? h : [h])

/** Headers every response carries: no sniffing, no framing, no referrer, API answers not cached. */
export function installSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-content-type-options', 'nosniff')
    reply.header('x-frame-options', 'DENY')
    if (!reply.hasHeader('referrer-policy')) reply.header('referrer-policy', 'no-referrer')
    if (!request.url.startsWith('/docs') && !reply.hasHeader('content-security-policy'))
      reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'")
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
    done(null, payload)
  })
}
