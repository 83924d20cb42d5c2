import { createHash, randomBytes } from 'node:crypto'
import type {} from '@fastify/cookie'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AuthService } from '../services/auth.ts'
import { chooseLang, type Lang, type Translate, translator } from './i18n/index.ts'

/** Cookies of the web shop; all HttpOnly and SameSite=Lax. */
export const COOKIES = {
  /** The session token, the same as an API token (one terminal per browser). */
  session: 'bookstore_session',
  /** A random id of this browser: its terminal name, and the secret its CSRF token is made from. */
  browser: 'bookstore_browser',
  lang: 'bookstore_lang',
} as const

const YEAR_S = 365 * 24 * 3600

/** What every page knows about the visitor. */
export interface PageContext {
  lang: Lang
  t: Translate
  /** The signed-in user, if any. */
  user: string | undefined
  /** The value every state-changing form carries in `_csrf`. */
  csrf: string
  /** The path and query of this request (where to come back to after signing in). */
  here: string
}

declare module 'fastify' {
  interface FastifyRequest {
    page: PageContext
  }
}

const cookieOptions = (request: FastifyRequest, maxAge?: number) => ({
  path: '/',
  httpOnly: true,
  sameSite: 'lax' as const,
  secure: request.protocol === 'https',
  ...(maxAge === undefined ? {} : { maxAge }),
})

/**
 * The CSRF token of a browser: a hash of its browser id, which only that browser holds (an HttpOnly
 * cookie another site can neither read nor, being SameSite, send along with a forged post). Nothing
 * is kept on the server, so every server process accepts every form.
 */
const csrfOf = (browserId: string) => createHash('sha256').update(`csrf\0${browserId}`).digest('base64url')

const ID_PATTERN = /^[A-Za-z0-9_-]{16,64}$/

/** Resolves the visitor (language, browser id, session) once per page request. */
export function pageContextHook(auth: AuthService) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const query = request.query as { lang?: unknown } | undefined
    const lang = chooseLang(query?.lang, request.cookies[COOKIES.lang], request.headers['accept-language'])
    if (typeof query?.lang === 'string' && query.lang === lang)
      reply.setCookie(COOKIES.lang, lang, cookieOptions(request, YEAR_S))
    let browserId = request.cookies[COOKIES.browser]
    if (!browserId || !ID_PATTERN.test(browserId)) {
      browserId = randomBytes(18).toString('base64url')
      reply.setCookie(COOKIES.browser, browserId, cookieOptions(request, YEAR_S))
      // Known from now on in this request too (a sign-in in this request names its terminal with it).
      request.cookies[COOKIES.browser] = browserId
    }
    const token = request.cookies[COOKIES.session]
    const user = token ? await auth.sessionOwner(token) : undefined
    request.page = { lang, t: translator(lang), user, csrf: csrfOf(browserId), here: request.url }
  }
}

/** The terminal a browser signs in as: one session per browser, replaced when it signs in again. */
export const terminalOf = (request: FastifyRequest) => `browser ${request.cookies[COOKIES.browser]}`

/**
 * A state-changing form is accepted only with this browser's CSRF token and, when the browser says
 * where the form came from (Origin), only from this site.
 */
export function csrfOk(request: FastifyRequest, sent: unknown): boolean {
  const origin = request.headers.origin
  if (origin !== undefined && origin !== `${request.protocol}://${request.host}`) return false
  return typeof sent === 'string' && sent === request.page.csrf
}

export function startSession(request: FastifyRequest, reply: FastifyReply, token: string, ttlS: number) {
  reply.setCookie(COOKIES.session, token, cookieOptions(request, ttlS))
}

export function endSession(request: FastifyRequest, reply: FastifyReply) {
  reply.clearCookie(COOKIES.session, cookieOptions(request))
}

/**
 * Where to go after signing in: a path on this site only (never `//host` or `/\host`, which
 * browsers would take for another site).
 */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string' || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\'))
    return '/'
  // Control characters (a header split, a tab browsers would drop) make it no path of ours.
  return [...next].some((c) => c.charCodeAt(0) < 0x20) ? '/' : next
}

/** The sign-in page, coming back here afterwards. */
export const loginUrl = (here: string) => `/login?next=${encodeURIComponent(here)}`
