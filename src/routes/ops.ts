import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Db } from '../db/db.ts'
import { responses } from './schemas.ts'

export const opsRoutes: FastifyPluginAsyncTypebox<{ db: Db }> = async (app, { db }) => {
  // Until the web shop owns the front page, it says where the API is described.
  app.get(
    '/',
    {
      schema: {
        tags: ['operations'],
        summary: 'Where to start: the API description',
        response: responses({ docs: Type.String(), openapi: Type.String() }),
      },
    },
    async () => ({
      message: 'bookstore API: see /docs (Swagger UI) or /openapi.json',
      docs: '/docs',
      openapi: '/openapi.json',
    }),
  )
  app.get(
    '/health',
    { schema: { tags: ['operations'], summary: 'The process is up', response: responses() } },
    async () => ({ message: 'ok' }),
  )
  app.get(
    '/ready',
    { schema: { tags: ['operations'], summary: 'The database answers', response: responses() } },
    async (_req, reply) => {
      try {
        await db.query('SELECT 1')
        return { message: 'ok' }
      } catch {
        return reply.code(503).send({ message: 'database unavailable' })
      }
    },
  )
}
