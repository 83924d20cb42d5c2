/**
 * Starts `bookstore serve` in a process of its own, as an operator runs it, and waits until it is
 * ready: the tools (benchmarks, chaos, two sweepers) and the tests of the server process share it.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface ServerProcess {
  url: string
  child: ChildProcess
  /** Resolves with the exit code or the signal once the process has exited. */
  exited: Promise<Exit>
  /** The last output lines (stdout and stderr). */
  output(): string
  /** SIGTERM (a clean shutdown) or SIGKILL (a crash), then waits for the exit. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<Exit>
}

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface StartOptions {
  /** The process's environment (PORT and HOST are chosen here). */
  env: NodeJS.ProcessEnv
  /** Each output line as it comes (e.g. to read the server's JSON log). */
  onLine?: (line: string) => void
  /** How long to wait for readiness; the first start migrates a fresh database. */
  timeoutMs?: number
}

/** How much output to keep for error messages and output(): request logs add up under load. */
const KEPT_OUTPUT = 1_000_000

/** A port nothing listens on now (the kernel's choice for port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()))
    })
  })
}

/**
 * Spawns the server and polls GET /ready, which answers 200 once the database is open and migrated,
 * whatever the log level. Rejects, with the server's output, if it exits or is not ready in time.
 */
export async function startServer({
  env,
  onLine,
  timeoutMs = 120_000,
}: StartOptions): Promise<ServerProcess> {
  const port = await freePort()
  const child = spawn(process.execPath, ['bin/bookstore.js', 'serve'], {
    cwd: ROOT,
    env: { ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let partial = ''
  const onData = (chunk: Buffer) => {
    const text = chunk.toString()
    out = (out + text).slice(-KEPT_OUTPUT)
    if (!onLine) return
    const lines = (partial + text).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) onLine(line)
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  let hasExited = false
  void exited.then(() => {
    hasExited = true
  })
  const server: ServerProcess = {
    url: `http://127.0.0.1:${port}`,
    child,
    exited,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (!hasExited) child.kill(signal)
      return exited
    },
  }
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (hasExited) {
      const { code, signal } = await exited
      throw new Error(`server exited with ${signal ?? code} while starting: ${out.slice(-2000)}`)
    }
    if (Date.now() > deadline) {
      await server.stop('SIGKILL')
      throw new Error(`server was not ready within ${timeoutMs / 1000} s: ${out.slice(-2000)}`)
    }
    const ready = await fetch(`${server.url}/ready`).then(
      (r) => r.ok,
      () => false,
    )
    if (ready) return server
    await new Promise((r) => setTimeout(r, 50))
  }
}
