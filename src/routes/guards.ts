import type { FastifyReply, FastifyRequest } from 'fastify'
import { BadRequest } from '../errors.ts'
import { LIMITS } from '../limits.ts'
import type { AuthService } from '../services/auth.ts'

/** The session token: the course's `token` header, or `Authorization: Bearer …`. */
export function tokenOf(request: FastifyRequest): string | undefined {
  const t = request.headers.token
  if (typeof t === 'string' && t !== '') return t
  const auth = request.headers.authorization
  if (typeof auth === 'string' && /^bearer /i.test(auth)) return auth.slice(7).trim() || undefined
  return undefined
}

/** preHandler for token routes: the token must be live and belong to the user_id of the request. */
export function requireToken(auth: AuthService) {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const source = (request.method === 'GET' ? request.query : request.body) as
      | { user_id?: unknown }
      | undefined
    const userId = typeof source?.user_id === 'string' ? source.user_id : ''
    await auth.authenticate(tokenOf(request), userId)
  }
}

/**
 * PostgreSQL text cannot hold NUL characters, and strings with lone UTF-16 surrogates cannot be
 * encoded as UTF-8: such input is refused up front, naming the field, instead of failing later; so
 * is a string that starts with a byte-order mark, which PGlite's decoding of results drops (an id
 * registered with one could not be found again). Path parameters, query strings and bodies alike.
 * Nesting is bounded too: a deeper value could not be searched completely, and would overflow the
 * stack of JSON.stringify or of PostgreSQL's jsonb parser when kept in a listing's extra fields.
 */
export function findUnstorableString(
  value: unknown,
  path: string,
  depth = 0,
): { path: string; why: string } | undefined {
  if (typeof value === 'string') {
    if (value.includes('\u0000') || !value.isWellFormed()) return { path, why: UNSTORABLE }
    // the embedded engine's text decoding drops a leading U+FEFF: such a value could not be read back
    return value.startsWith('\uFEFF') ? { path, why: LEADING_BOM } : undefined
  }
  if (value === null || typeof value !== 'object') return undefined
  if (depth >= LIMITS.maxJsonDepth)
    return { path, why: `is nested more than ${LIMITS.maxJsonDepth} levels deep` }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = findUnstorableString(value[i], `${path}/${i}`, depth + 1)
      if (bad) return bad
    }
    return undefined
  }
  for (const [k, v] of Object.entries(value)) {
    const bad =
      findUnstorableString(k, `${path}/${k}`, depth + 1) ?? findUnstorableString(v, `${path}/${k}`, depth + 1)
    if (bad) return bad
  }
  return undefined
}

const UNSTORABLE = 'contains a NUL character or invalid Unicode'
const LEADING_BOM = 'starts with a byte-order mark (U+FEFF): remove it'

export function rejectUnstorableStrings(
  request: FastifyRequest,
  _reply: FastifyReply,
  done: (err?: Error) => void,
) {
  const bad =
    findUnstorableString(request.params, 'params') ??
    findUnstorableString(request.query, 'querystring') ??
    findUnstorableString(request.body, 'body')
  done(bad ? BadRequest(bad.path, bad.why) : undefined)
}
