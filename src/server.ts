import { buildApp } from './app.ts'
import { ConfigError, loadConfig } from './config.ts'

/** Reads the environment, listens, and shuts down gracefully on SIGTERM/SIGINT. */
export async function serve(env: Record<string, string | undefined>): Promise<void> {
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig(env)
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`bookstore: invalid configuration: ${err.message}`)
      process.exit(2)
    }
    throw err
  }
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
}

export function serveOrExit(env: Record<string, string | undefined>): void {
  serve(env).catch((err) => {
    console.error('bookstore: failed to start:', err instanceof Error ? err.message : err)
    process.exit(1)
  })
}

if (import.meta.url === `file://${process.argv[1]}`) serveOrExit(process.env)
