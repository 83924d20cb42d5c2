import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Db } from '../db/db.ts'
import type { Metrics } from '../metrics.ts'
import { responses } from './schemas.ts'

/** For operators and their probes: liveness, readiness and Prometheus metrics. */
export const opsRoutes: FastifyPluginAsyncTypebox<{ db: Db; metrics: Metrics }> = async (
  app,
  { db, metrics },
) => {
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
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text format): requests, latency, orders by status, sweeps, pool',
        produces: ['text/plain'],
      },
    },
    async (_request, reply) => {
      const body = await metrics.registry.metrics()
      return reply.type(metrics.registry.contentType).send(body)
    },
  )
}
