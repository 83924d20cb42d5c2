import cluster from 'node:cluster'
import { buildApp } from './app.ts'
import { type Config, ConfigError, loadConfig } from './config.ts'
import { segmenter } from './search/segmenter.ts'

function configOrExit(env: Record<string, string | undefined>): Config {
  try {
    return loadConfig(env)
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`bookstore: invalid configuration: ${err.message}`)
      process.exit(2)
    }
    throw err
  }
}

/** One server process: listens, and shuts down gracefully on SIGTERM/SIGINT. */
async function serveOne(config: Config): Promise<void> {
  const app = await buildApp({ config })
  let closing = false
  const shutdown = async (signal: string) => {
    if (closing) return
    closing = true
    app.log.info({ signal }, 'shutting down: no new connections, finishing requests in flight')
    const force = setTimeout(() => {
      app.log.error('shutdown took too long; exiting')
      process.exit(1)
    }, 10_000)
    force.unref()
    try {
      await app.close()
      process.exit(0)
    } catch (err) {
      app.log.error({ err }, 'error during shutdown')
      process.exit(1)
    }
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
  await app.listen({ port: config.port, host: config.host })
  // jieba's dictionary takes about 0.2 s to load: loaded now, once listening, rather than by the
  // first search or add_book, which would wait for it.
  segmenter()
}

/**
 * Cluster mode (WORKERS > 1, PostgreSQL only): the primary forks the workers, which share the port;
 * a worker that dies is replaced; SIGTERM is passed on and the primary exits when they all have.
 */
function superviseWorkers(config: Config): void {
  let stopping = false
  const fork = () => cluster.fork()
  for (let i = 0; i < config.workers; i++) fork()
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0)
      return
    }
    console.error(`bookstore: worker ${worker.process.pid} exited (${signal ?? code}); starting another`)
    fork()
  })
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal)
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGTERM'))
}

/** Reads the environment and serves: one process, or a cluster of WORKERS processes. */
export async function serve(env: Record<string, string | undefined>): Promise<void> {
  const config = configOrExit(env)
  if (config.workers > 1 && cluster.isPrimary) superviseWorkers(config)
  else await serveOne(config)
}

export function serveOrExit(env: Record<string, string | undefined>): void {
  serve(env).catch((err) => {
    console.error('bookstore: failed to start:', err instanceof Error ? err.message : err)
    process.exit(1)
  })
}

if (import.meta.url === `file://${process.argv[1]}`) serveOrExit(process.env)
