import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import { RESULT_CODES } from './schemas.ts'

const DESCRIPTION = `The bookstore HTTP API: the course bookstore API, exactly, plus order lifecycle, search and
catalogue extensions.

**Conventions.** JSON in and out; every response has \`message\` ("ok" on success). The HTTP status is the
result code. Money is an integer number of cents; ids are strings of 1–255 characters. Routes marked with a
lock take the session token from \`POST /auth/login\` as the \`token\` header (or \`Authorization: Bearer …\`);
the token must be live and belong to the request's \`user_id\`. Authorization is checked before anything else.

**Result codes.**

| code | meaning |
|---|---|
| 200 | ok |
${Object.entries(RESULT_CODES)
  .map(([code, meaning]) => `| ${code} | ${meaning} |`)
  .join('\n')}
| 429 | too many requests |`

/** OpenAPI 3 generated from the route schemas, served at /openapi.json, and Swagger UI at /docs. */
export async function registerDocs(app: FastifyInstance, version: string) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'bookstore', version, description: DESCRIPTION },
      tags: [
        { name: 'auth', description: 'accounts and sessions' },
        { name: 'buyer', description: 'balance, orders and payment' },
        { name: 'seller', description: 'stores, listings and stock' },
        { name: 'orders', description: 'order lifecycle and history' },
        { name: 'search', description: 'catalogue search and listings' },
        { name: 'reviews', description: 'reviews of received order lines, ratings and replies' },
        { name: 'cart', description: 'the buyer’s cart on the server, and checkout across stores' },
        { name: 'operations', description: 'health, readiness, metrics' },
      ],
      components: {
        securitySchemes: {
          token: {
            type: 'apiKey',
            in: 'header',
            name: 'token',
            description: 'session token from /auth/login',
          },
          bearer: { type: 'http', scheme: 'bearer', description: 'the same token as a bearer token' },
        },
      },
    },
  })
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { docExpansion: 'list', tryItOutEnabled: false },
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}
