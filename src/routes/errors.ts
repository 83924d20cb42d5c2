import type { FastifyError, FastifyInstance } from 'fastify'
import { DomainError, statusOf } from '../errors.ts'

/** The one place where errors become HTTP responses. Internals of unexpected errors never leak. */
export function installErrorHandling(app: FastifyInstance) {
  app.setErrorHandler((err: FastifyError | DomainError, request, reply) => {
    if (err instanceof DomainError) return reply.code(statusOf(err.info)).send({ message: err.message })
    if ('validation' in err && err.validation) return reply.code(400).send({ message: err.message })
    const status = 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : 500
    if (status >= 400 && status < 500) return reply.code(status).send({ message: err.message })
    request.log.error({ err }, 'request failed')
    return reply.code(status >= 500 && status < 600 ? status : 500).send({ message: 'internal error' })
  })
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  )
}
