import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Db } from '../db/db.ts'
import type { ReplicaStatus } from '../db/replicas.ts'
import type { Metrics } from '../metrics.ts'
import { responses } from './schemas.ts'

const Replica = Type.Object({
  name: Type.String({ description: 'host:port/database (no credentials)' }),
  healthy: Type.Boolean({ description: 'takes reads: answers, and lags at most REPLICA_MAX_LAG_S' }),
  lag_s: Type.Union([Type.Number(), Type.Null()], {
    description: 'seconds of data it may be missing, as of its last check; null when it does not answer',
  }),
})

/** For operators and their probes: liveness, readiness (with the replicas, if any) and Prometheus metrics. */
export const opsRoutes: FastifyPluginAsyncTypebox<{
  db: Db
  metrics: Metrics
  replicas?: () => ReplicaStatus[]
}> = async (app, { db, metrics, replicas }) => {
  app.get(
    '/health',
    { schema: { tags: ['operations'], summary: 'The process is up', response: responses() } },
    async () => ({ message: 'ok' }),
  )
  app.get(
    '/ready',
    {
      schema: {
        tags: ['operations'],
        summary: 'The database answers',
        description:
          'With DATABASE_REPLICA_URLS, also lists each replica. A replica that is down or lagging does not ' +
          'make the server unready: its reads go to the primary.',
        response: responses({
          replicas: Type.Optional(Type.Array(Replica, { description: 'only with DATABASE_REPLICA_URLS' })),
        }),
      },
    },
    async (_req, reply) => {
      try {
        await db.query('SELECT 1')
        return replicas ? { message: 'ok', replicas: replicas() } : { message: 'ok' }
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
