/**
 * Read-your-writes with replicas: for a short window after a caller's own write, that caller's
 * reads that could go to a replica go to the primary instead, so a seller redirected to the book
 * they just added, or a buyer to the review they just wrote, sees it.
 *
 * Who "the caller" is:
 * - a browser (any write request that carries cookies, as every web-shop form does) is given a
 *   short-lived cookie; while the browser holds it, its requests read the primary. The cookie
 *   works whichever server process answers.
 * - an API client is remembered by its session token, in this process, for the same window; its
 *   catalogue reads carry the token to benefit (any route accepts one).
 * The window is REPLICA_MAX_LAG_S plus one replica check interval: a replica in use is at most
 * REPLICA_MAX_LAG_S behind as of its last check, so after the window it has the write.
 *
 * The decision is made once per request and kept in an AsyncLocalStorage, which the replica
 * router asks (`mustReadPrimary`) without routes, pages or services passing anything along.
 */
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks'
import type { FastifyInstance, FastifyRequest } from 'fastify'

const COOKIE = 'bookstore_recent_write'
const COOKIE_SENT = new RegExp(`(?:^|;\\s*)${COOKIE}=1(?:;|$)`)
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
/** Tokens remembered at most; past this, the oldest are forgotten first (their window is over soonest). */
const MAX_TOKENS = 100_000

const resource = Symbol('read-your-writes scope')
declare module 'fastify' {
  interface FastifyRequest {
    [resource]?: AsyncResource
  }
}

function tokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.token
  if (typeof header === 'string' && header !== '') return header
  const auth = request.headers.authorization
  return auth?.startsWith('Bearer ') ? auth.slice(7) : undefined
}

export class ReadYourWrites {
  private readonly scope = new AsyncLocalStorage<boolean>()
  /** token → until when (ms) its reads go to the primary; in insertion order, so oldest first */
  private readonly tokens = new Map<string, number>()

  constructor(private readonly windowS: number) {}

  /** true inside a request whose caller wrote within the window. */
  readonly mustReadPrimary = (): boolean => this.scope.getStore() ?? false

  install(app: FastifyInstance): void {
    app.addHook('onRequest', (request, _reply, done) => {
      this.scope.run(this.wroteRecently(request), () => {
        // Body parsing leaves this async context; preValidation re-enters it for the handler.
        request[resource] = new AsyncResource('bookstore-read-your-writes')
        done()
      })
    })
    app.addHook('preValidation', (request, _reply, done) => {
      const scope = request[resource]
      if (scope) scope.runInAsyncScope(done, undefined)
      else done()
    })
    app.addHook('onSend', (request, reply, _payload, done) => {
      if (WRITE_METHODS.has(request.method) && reply.statusCode < 400) this.remember(request, reply)
      done()
    })
  }

  private wroteRecently(request: FastifyRequest): boolean {
    const cookies = request.headers.cookie
    if (cookies !== undefined && COOKIE_SENT.test(cookies)) return true
    const token = tokenOf(request)
    if (token === undefined) return false
    const until = this.tokens.get(token)
    return until !== undefined && until > Date.now()
  }

  private remember(request: FastifyRequest, reply: { header(name: string, value: string): unknown }): void {
    if (request.headers.cookie !== undefined) {
      const secure = request.protocol === 'https' ? '; Secure' : ''
      const maxAge = Math.ceil(this.windowS)
      reply.header('set-cookie', `${COOKIE}=1; Max-Age=${maxAge}; Path=/; HttpOnly; SameSite=Lax${secure}`)
    }
    const token = tokenOf(request)
    if (token === undefined) return
    const now = Date.now()
    this.tokens.delete(token)
    this.tokens.set(token, now + this.windowS * 1000)
    for (const [t, until] of this.tokens) {
      if (until > now && this.tokens.size <= MAX_TOKENS) break
      this.tokens.delete(t)
    }
  }
}
