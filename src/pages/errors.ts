import type { FastifyReply, FastifyRequest } from 'fastify'
import { DomainError, type ErrorKind } from '../errors.ts'
import { findUnstorableString } from '../routes/guards.ts'
import type { Assets } from './assets.ts'
import { html } from './html.ts'
import { errorText } from './i18n/index.ts'
import { layout, sendPage } from './layout.ts'

/**
 * The HTTP status of a page whose form a service refused. Pages speak to browsers, so the API's
 * business codes (5xx) become 4xx: the shopper's request was refused, the server did not fail.
 * 401 stays 401, so that the abuse limits count failed password attempts on pages too.
 */
export function pageStatus(info: ErrorKind): number {
  switch (info.kind) {
    case 'unauthorized':
      return 401
    case 'rate_limited':
      return 429
    case 'bad_request':
      return 400
    case 'not_found':
      return 404
    default:
      return 409
  }
}

/** The refusal of a service as a message for the shopper; anything else is not ours to explain. */
export function refusal(request: FastifyRequest, err: unknown): { status: number; text: string } {
  if (err instanceof DomainError)
    return { status: pageStatus(err.info), text: errorText(request.page.t, err.info) }
  throw err
}

export function errorPage(
  request: FastifyRequest,
  reply: FastifyReply,
  assets: Assets,
  status: number,
  text: string,
) {
  const { t } = request.page
  const title = status === 404 ? t('error.notFound.title') : t('error.title')
  const body = html`<p class="lead">${text}</p><p><a class="button" href="/">${t('error.home')}</a></p>`
  return sendPage(reply, layout(request.page, assets, { title, body }), status)
}

export function notFoundPage(request: FastifyRequest, reply: FastifyReply, assets: Assets) {
  return errorPage(request, reply, assets, 404, request.page.t('error.notFound.text'))
}

/** A state-changing form that came without this visitor's CSRF token: refused, nothing changed. */
export function forgedPage(request: FastifyRequest, reply: FastifyReply, assets: Assets) {
  return errorPage(request, reply, assets, 403, request.page.t('error.csrf'))
}

/** Path parameters that could name nothing stored (NUL, broken Unicode). */
export const oddParams = (params: unknown) => findUnstorableString(params, 'params') !== undefined
