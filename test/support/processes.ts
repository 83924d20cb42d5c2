/**
 * The project's commands as an operator runs them (`bookstore serve`, `bookstore import`, …), in
 * child processes on the embedded engine under a given DATA_DIR.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { startServer as startServerProcess } from '../../tools/shared/server-process.ts'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.DATABASE_URL // the embedded engine, unless a test names a server
  return { ...env, ...extra }
}

export interface Started {
  child: ChildProcess
  /** The server's address once it listens; undefined when it exited first. */
  url: Promise<string | undefined>
  /** Resolves when the process has exited. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  output: () => string
}

/** Runs `bookstore <args>` with DATA_DIR (and any other settings) in the environment. */
export function bookstore(args: string[], env: Record<string, string>): Started {
  const child = spawn(process.execPath, ['bin/bookstore.js', ...args], {
    cwd: ROOT,
    env: childEnv({ PORT: '0', LOG_LEVEL: 'info', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let listening: ((url: string | undefined) => void) | undefined
  const url = new Promise<string | undefined>((resolve) => {
    listening = resolve
  })
  const onData = (d: Buffer) => {
    out += d.toString()
    const m = /listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
    if (m?.[1]) listening?.(m[1])
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      listening?.(undefined)
      resolve({ code, signal })
    }),
  )
  return { child, url, exit, output: () => out }
}

/**
 * Starts the server and waits until it is ready (the tools' helper, tools/shared/server-process.ts);
 * fails with its output if it exits instead.
 */
export async function startServer(env: Record<string, string>): Promise<Started & { address: string }> {
  const s = await startServerProcess({ env: childEnv({ LOG_LEVEL: 'info', ...env }) })
  return { child: s.child, url: Promise.resolve(s.url), exit: s.exited, output: s.output, address: s.url }
}

/** Stops a process with a signal and waits for it to exit. */
export async function stop(s: Started, signal: NodeJS.Signals = 'SIGTERM') {
  s.child.kill(signal)
  return s.exit
}

export async function postJson(url: string, body: unknown, token?: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { token } : {}) },
    body: JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}
