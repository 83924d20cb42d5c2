import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { pgCode } from '../db/db.ts'
import { DomainError, statusOf } from '../errors.ts'

const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
])

/**
 * The database cannot be reached or is going away: a condition to report as 503, not a bug.
 * (Connection refused/reset, the pool's connect timeout, SQLSTATE class 08 connection exceptions,
 * 57P01–57P03 shutdown / cannot connect now.)
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const code = pgCode(err)
  if (code && (CONNECTION_ERRORS.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code))) return true
  const message = err instanceof Error ? err.message : ''
  return /timeout exceeded when trying to connect|Connection terminated|connection ended unexpectedly/i.test(
    message,
  )
}

/** The one place where errors become HTTP responses. Internals of unexpected errors never leak. */
export function installErrorHandling(
  app: FastifyInstance,
  /** Answers a browser asking for a page that does not exist (the web shop's 404 page). */
  pageNotFound?: (request: FastifyRequest, reply: FastifyReply) => unknown,
) {
  app.setErrorHandler((err: FastifyError | DomainError, request, reply) => {
    if (err instanceof DomainError) {
      if (err.info.kind === 'rate_limited') reply.header('retry-after', String(err.info.retryAfterS))
      return reply.code(statusOf(err.info)).send({ message: err.message })
    }
    if ('validation' in err && err.validation) return reply.code(400).send({ message: err.message })
    if (isDatabaseUnavailable(err)) {
      request.log.warn({ err: { message: err.message, code: pgCode(err) } }, 'database unavailable')
      return reply
        .code(503)
        .header('retry-after', '5')
        .send({ message: 'database unavailable, try again shortly' })
    }
    const status = 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : 500
    if (status >= 400 && status < 500) return reply.code(status).send({ message: err.message })
    request.log.error({ err }, 'request failed')
    return reply.code(status >= 500 && status < 600 ? status : 500).send({ message: 'internal error' })
  })
  app.setNotFoundHandler((request, reply) => {
    if (pageNotFound && request.method === 'GET' && request.headers.accept?.includes('text/html'))
      return pageNotFound(request, reply)
    return reply.code(404).send({ message: `no route ${request.method} ${request.url.split('?')[0]}` })
  })
}
