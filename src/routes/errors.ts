import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { pgCode } from '../db/db.ts'
import { DomainError, detailsOf, statusOf } from '../errors.ts'
import { LIMITS } from '../limits.ts'

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

/** Messages of framework errors a newcomer meets, saying what to send instead. */
const FRAMEWORK_MESSAGES: Record<string, (err: FastifyError) => string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () =>
    'the body must be JSON, sent with the header content-type: application/json',
  FST_ERR_BAD_URL: () =>
    'malformed URL: percent-encode every byte that is not ASCII (e.g. encodeURIComponent), and only those',
  FST_ERR_MAX_PARAM_LENGTH: () =>
    `a path parameter is longer than any id (ids have at most ${LIMITS.idLength} characters)`,
}

/**
 * Errors the router meets before any route runs (a malformed URL, an over-long path parameter):
 * the same body shape as every other error. Fastify's `frameworkErrors` option.
 */
export function frameworkErrors(err: FastifyError, _request: FastifyRequest, reply: FastifyReply) {
  const status = err.code === 'FST_ERR_BAD_URL' || err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 400 : 500
  reply.code(status).send({ message: FRAMEWORK_MESSAGES[err.code]?.(err) ?? 'internal error' })
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (raw non-ASCII bytes in the URL, a
 * request line and headers over 16 KiB, a request not sent within REQUEST_TIMEOUT_S): answered in
 * the same body shape, then the connection is closed. Fastify's `clientErrorHandler` option.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex) {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const [status, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'the request was not sent in time']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'the URL and headers are longer than 16 KiB: send long values in a JSON body']
        : [400, 'malformed HTTP request (a URL must be ASCII: percent-encode other bytes)']
  const body = JSON.stringify({ message })
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    )
  socket.destroy()
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
      return reply.code(statusOf(err.info)).send({ message: err.message, ...detailsOf(err.info) })
    }
    if ('validation' in err && err.validation) return reply.code(400).send({ message: err.message })
    // the client went away mid-body (its ECONNRESET is not the database's): nobody is left to answer
    if (request.raw.destroyed) return reply.code(400).send({ message: 'the request was not sent in full' })
    if (isDatabaseUnavailable(err)) {
      request.log.warn({ err: { message: err.message, code: pgCode(err) } }, 'database unavailable')
      return reply
        .code(503)
        .header('retry-after', '5')
        .send({ message: 'database unavailable, try again shortly' })
    }
    const status = 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : 500
    if (status >= 400 && status < 500)
      return reply.code(status).send({ message: FRAMEWORK_MESSAGES[err.code]?.(err) ?? err.message })
    request.log.error({ err }, 'request failed')
    return reply.code(status >= 500 && status < 600 ? status : 500).send({ message: 'internal error' })
  })
  app.setNotFoundHandler((request, reply) => {
    if (pageNotFound && request.method === 'GET' && request.headers.accept?.includes('text/html'))
      return pageNotFound(request, reply)
    return reply.code(404).send({ message: `no route ${request.method} ${request.url.split('?')[0]}` })
  })
}
