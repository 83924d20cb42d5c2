/**
 * docs/api.md and /openapi.json name the same routes, both ways. Routes are read from the page's
 * `### METHOD /path` headings wherever they stand, so new sections can be added freely.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, test } from 'node:test'
import { startApp, type TestApp } from '../support/helpers.ts'

let t: TestApp
before(async () => {
  t = await startApp()
})
after(() => t.close())

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const

/** The routes docs/api.md documents, as "METHOD /path" with {params}. */
export function documentedRoutes(markdown: string): string[] {
  const heading = new RegExp(`^#{2,4}\\s+(${METHODS.join('|')})\\s+(/\\S*)\\s*$`, 'gm')
  return [...markdown.matchAll(heading)].map((m) => `${m[1]} ${m[2]}`)
}

test('every route of docs/api.md is served and described, and every described route is in docs/api.md', async () => {
  const page = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8')
  const documented = documentedRoutes(page)
  assert.equal(new Set(documented).size, documented.length, 'each route is documented once')
  const doc = (await t.app.inject({ url: '/openapi.json' })).json() as {
    paths: Record<string, Record<string, unknown>>
  }
  const described = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
  )
  for (const route of described) assert.ok(documented.includes(route), `${route} is in docs/api.md`)
  for (const route of documented) {
    if (described.includes(route)) continue
    // Only the description's own pages are left out of it (hidden): they must still be served.
    const [method, path] = route.split(' ') as [(typeof METHODS)[number], string]
    assert.ok(['/openapi.json', '/docs'].includes(path), `${route} of docs/api.md is in /openapi.json`)
    assert.ok(t.app.hasRoute({ method, url: path }), `${route} is served`)
  }
  assert.ok(documented.length >= 25, `found ${documented.length} routes in docs/api.md`)
})

test('the route parser takes headings in any section and ignores the rest', () => {
  const md = '# API\n## New section\n### GET /a/{id}\ntext `POST /not/a/heading`\n#### POST /b\n### Notes\n'
  assert.deepEqual(documentedRoutes(md), ['GET /a/{id}', 'POST /b'])
})
