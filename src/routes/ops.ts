import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Db } from '../db/db.ts'
import { responses } from './schemas.ts'

export const opsRoutes: FastifyPluginAsyncTypebox<{ db: Db }> = async (app, { db }) => {
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
