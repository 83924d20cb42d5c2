import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'

const TYPES: Record<string, string> = {
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  svg: 'image/svg+xml',
}

interface Asset {
  body: Buffer
  type: string
}

/**
 * The pages' static files (src/pages/assets), read once at start and served under names that carry
 * a hash of their content (`style.3f2a….css`): a changed file gets a new URL, so every URL can be
 * cached for a year. Nothing comes from a CDN.
 */
export class Assets {
  private readonly byUrl = new Map<string, Asset>()
  private readonly urls = new Map<string, string>()

  constructor(dir: URL = new URL('./assets/', import.meta.url)) {
    for (const name of readdirSync(dir)) {
      const ext = name.split('.').pop() ?? ''
      const type = TYPES[ext]
      if (!type) continue
      const body = readFileSync(new URL(name, dir))
      const hash = createHash('sha256').update(body).digest('hex').slice(0, 12)
      const url = `/assets/${name.slice(0, -ext.length - 1)}.${hash}.${ext}`
      this.byUrl.set(url, { body, type })
      this.urls.set(name, url)
    }
  }

  /** The hashed URL of an asset file. */
  url(name: string): string {
    const url = this.urls.get(name)
    if (!url) throw new Error(`no asset ${name}`)
    return url
  }

  register(app: FastifyInstance): void {
    app.get('/assets/*', { schema: { hide: true } }, async (request, reply) => {
      const asset = this.byUrl.get(request.url.split('?')[0] ?? '')
      if (!asset) return reply.callNotFound()
      return reply
        .type(asset.type)
        .header('cache-control', 'public, max-age=31536000, immutable')
        .send(asset.body)
    })
  }
}
