/**
 * A browser without a screen, for page tests through app.inject: it keeps cookies, reads the CSRF
 * token from the last page, and posts forms (urlencoded or multipart) as a browser would.
 */
import type { FastifyInstance } from 'fastify'

export interface PageReply {
  status: number
  body: string
  headers: Record<string, string | string[] | number | undefined>
  location: string | undefined
}

export class WebClient {
  readonly cookies = new Map<string, string>()
  csrf: string | undefined

  constructor(
    private readonly app: FastifyInstance,
    private readonly headers: Record<string, string> = {},
  ) {}

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }

  private remember(res: { headers: PageReply['headers'] }) {
    const set = res.headers['set-cookie']
    for (const line of set === undefined ? [] : Array.isArray(set) ? set : [String(set)]) {
      const [pair = ''] = line.split(';')
      const i = pair.indexOf('=')
      const name = pair.slice(0, i)
      const value = pair.slice(i + 1)
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
  }

  private reply(res: { statusCode: number; body: string; headers: PageReply['headers'] }): PageReply {
    this.remember(res)
    const m = /name="_csrf" value="([^"]+)"/.exec(res.body)
    if (m) this.csrf = m[1]
    const location = res.headers.location
    return {
      status: res.statusCode,
      body: res.body,
      headers: res.headers,
      location: location as string | undefined,
    }
  }

  async get(url: string, headers: Record<string, string> = {}): Promise<PageReply> {
    const res = await this.app.inject({
      method: 'GET',
      url,
      headers: { accept: 'text/html', ...this.headers, cookie: this.cookieHeader(), ...headers },
    })
    return this.reply(res)
  }

  /** Posts a form with this browser's CSRF token (unless the fields name one themselves). */
  async post(url: string, fields: Record<string, string> = {}, headers: Record<string, string> = {}) {
    const body = new URLSearchParams({ ...(this.csrf ? { _csrf: this.csrf } : {}), ...fields })
    const res = await this.app.inject({
      method: 'POST',
      url,
      payload: body.toString(),
      headers: {
        accept: 'text/html',
        'content-type': 'application/x-www-form-urlencoded',
        ...this.headers,
        cookie: this.cookieHeader(),
        ...headers,
      },
    })
    return this.reply(res)
  }

  /** Posts a multipart form: text fields, and files as [field, filename, bytes]. */
  async postMultipart(url: string, fields: Record<string, string>, files: [string, string, Buffer][] = []) {
    const boundary = `----bookstore${Date.now()}`
    const parts: Buffer[] = []
    const all = { ...(this.csrf ? { _csrf: this.csrf } : {}), ...fields }
    for (const [k, v] of Object.entries(all))
      parts.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`))
    for (const [k, name, data] of files)
      parts.push(
        Buffer.from(
          `--${boundary}\r\ncontent-disposition: form-data; name="${k}"; filename="${name}"\r\ncontent-type: application/octet-stream\r\n\r\n`,
        ),
        data,
        Buffer.from('\r\n'),
      )
    parts.push(Buffer.from(`--${boundary}--\r\n`))
    const res = await this.app.inject({
      method: 'POST',
      url,
      payload: Buffer.concat(parts),
      headers: {
        accept: 'text/html',
        'content-type': `multipart/form-data; boundary=${boundary}`,
        cookie: this.cookieHeader(),
      },
    })
    return this.reply(res)
  }

  /** Signs up (or, with existing: true, signs in) and keeps the session cookie. */
  async signIn(userId: string, password: string, existing = false): Promise<PageReply> {
    await this.get(existing ? '/login' : '/register')
    return this.post(existing ? '/login' : '/register', { user_id: userId, password })
  }
}

/** The text of a page without its tags (for asserting what a visitor reads). */
export const textOf = (htmlText: string) =>
  htmlText
    .replace(/<script[\s\S]*?<\/script>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
