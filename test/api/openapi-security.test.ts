/**
 * /openapi.json tells the truth about tokens: for every route, whether the server demands a token is
 * found out by calling it (a well-formed request from a real user, once without a token, once with
 * one), and the route's `security` must say the same. Nothing in this file lists which routes they are.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { TOKEN_SECURITY } from '../../src/routes/schemas.ts'
import { newUser, startApp, type TestApp, type User } from '../support/helpers.ts'

let t: TestApp
before(async () => {
  t = await startApp()
})
after(() => t.close())

interface JsonSchema {
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  items?: JsonSchema
  minItems?: number
  minLength?: number
  minimum?: number
  maximum?: number
  enum?: unknown[]
  const?: unknown
  anyOf?: JsonSchema[]
  default?: unknown
}

interface Operation {
  parameters?: { in: 'path' | 'query' | 'header'; name: string; required?: boolean; schema: JsonSchema }[]
  requestBody?: { content: Record<string, { schema: JsonSchema }> }
  security?: unknown
}

/** A small valid value for a schema; the acting user's id and password where the fields ask for them. */
function sample(schema: JsonSchema, name: string, user: User): unknown {
  if (name === 'user_id') return user.userId
  if (/password/i.test(name)) return user.password
  if (schema.const !== undefined) return schema.const
  if (schema.enum) return schema.enum[0]
  if (schema.default !== undefined) return schema.default
  if (schema.anyOf?.[0]) return sample(schema.anyOf[0], name, user)
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {}
      for (const key of schema.required ?? []) out[key] = sample(schema.properties?.[key] ?? {}, key, user)
      return out
    }
    case 'array':
      return Array.from({ length: schema.minItems ?? 0 }, () => sample(schema.items ?? {}, name, user))
    case 'integer':
    case 'number':
      return Math.min(Math.max(schema.minimum ?? 1, 1), schema.maximum ?? 1)
    case 'boolean':
      return false
    default: // unique to the user, so that no route finds what another one created
      return `${name}-${user.userId}`.padEnd(schema.minLength ?? 1, 'x')
  }
}

test('a route has a token security entry exactly when the server refuses it without a token', async () => {
  const doc = (await t.app.inject({ url: '/openapi.json' })).json() as {
    paths: Record<string, Record<string, Operation>>
  }
  const demanding: string[] = []
  const open: string[] = []
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const user = await newUser(t.app, 'sec')
      const params = op.parameters ?? []
      let url = path
      const query = new URLSearchParams()
      for (const p of params) {
        if (p.in === 'path')
          url = url.replace(`{${p.name}}`, encodeURIComponent(String(sample(p.schema, p.name, user))))
        else if (p.in === 'query' && p.required) query.set(p.name, String(sample(p.schema, p.name, user)))
      }
      if (query.size) url += `?${query}`
      const schema = op.requestBody?.content['application/json']?.schema
      const request = (headers: Record<string, string>) =>
        t.app.inject({
          method: method.toUpperCase() as 'GET' | 'POST',
          url,
          headers,
          ...(schema ? { payload: sample(schema, '', user) as object } : {}),
        })
      const without = await request({})
      const withToken = await request({ token: user.token })
      const route = `${method.toUpperCase()} ${path}`
      for (const r of [without, withToken])
        assert.ok(r.statusCode < 500 || r.statusCode > 510, `${route} answered ${r.statusCode}: ${r.body}`)
      // asked without a token and refused 401, but not with the user's own token: the token is required
      const requiresToken = without.statusCode === 401 && withToken.statusCode !== 401
      ;(requiresToken ? demanding : open).push(route)
      if (requiresToken) assert.deepEqual(op.security, TOKEN_SECURITY, `${route} demands a token`)
      else assert.equal(op.security, undefined, `${route} works without a token (${without.statusCode})`)
    }
  }
  // the probe saw both kinds (it would prove nothing if every call had failed alike)
  assert.ok(demanding.length >= 10 && open.length >= 10, `token: ${demanding}; none: ${open}`)
})
