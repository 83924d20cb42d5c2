/**
 * One process at a time in an embedded database directory. PGlite is PostgreSQL in one process
 * with no shared memory: a second process opening the same files (say `npm run import` while
 * `npm start` runs) writes past the first one's buffers and WAL, the server never sees its rows,
 * and the next start dies inside WebAssembly with `Aborted()`. So whoever opens a data directory
 * first binds a listening socket whose name is derived from the directory's real path:
 *
 * - on Linux an abstract Unix socket (`\0bookstore-…`): binding is atomic, and the kernel drops the
 *   name when the process ends, however it ends (SIGKILL included), so there is never a stale lock;
 * - on Windows a named pipe (same properties);
 * - elsewhere a socket file beside the directory; a file left by a dead process refuses
 *   connections, and is then replaced (a second opener arriving in that very instant could also
 *   replace it: the one gap of this fallback).
 *
 * A second opener's bind fails with EADDRINUSE; it then connects, the holder answers with its pid
 * and command, and the refusal names them. Nothing is ever written into the directory itself.
 */
import { createHash } from 'node:crypto'
import { realpathSync, unlinkSync } from 'node:fs'
import { createConnection, createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'

/** Who holds a data directory, as its lock socket answers. */
export interface Holder {
  pid: number
  command: string
}

export interface DataDirLock {
  release(): Promise<void>
}

/** Another process (or another open in this one) has the directory. */
export class DataDirInUse extends Error {
  override name = 'DataDirInUse'
  readonly code = 'BOOKSTORE_DATA_DIR_IN_USE'
  constructor(
    readonly dir: string,
    readonly holder: Holder | undefined,
  ) {
    const who = holder
      ? `process ${holder.pid} (${holder.command})`
      : 'another process (it did not say which: it may be busy)'
    super(
      `the data directory ${dir} is in use by ${who}. Only one process at a time may open an embedded ` +
        `database: stop that one first (Ctrl-C in its terminal${holder ? `, or kill ${holder.pid}` : ''}), ` +
        'then run this command again — or give this one another DATA_DIR, or use DATABASE_URL, ' +
        'which any number of processes may share.',
    )
  }
}

/** This process as the lock answers for it; the value of a --password option is not given away. */
export function thisProcess(): Holder {
  const args = process.argv.slice(1).map((a, i, all) => (all[i - 1] === '--password' ? '***' : a))
  const shown = args.map((a) => (a.startsWith(process.cwd()) ? a.slice(process.cwd().length + 1) : a))
  return { pid: process.pid, command: [basename(process.argv0), ...shown].join(' ') }
}

interface Address {
  path: string
  /** A socket file, which outlives a crashed holder (not the abstract socket or the named pipe). */
  isFile: boolean
}

function addressOf(realDir: string, platform: NodeJS.Platform): Address {
  const key = createHash('sha256').update(realDir).digest('hex').slice(0, 32)
  if (platform === 'linux') return { path: `\0bookstore-data-${key}`, isFile: false }
  if (platform === 'win32') return { path: `\\\\?\\pipe\\bookstore-data-${key}`, isFile: false }
  // beside the directory, not in it (PostgreSQL owns its contents); a socket path has ~100 bytes
  const beside = join(dirname(realDir), `.${basename(realDir)}.lock`)
  return { path: beside.length < 100 ? beside : join(tmpdir(), `bookstore-data-${key}.lock`), isFile: true }
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

/** What answers on the lock's address: the holder, undefined (silent or garbled), or 'nobody'. */
function ask(path: string, timeoutMs: number): Promise<Holder | undefined | 'nobody'> {
  return new Promise((resolve) => {
    let text = ''
    const socket = createConnection(path)
    socket.setEncoding('utf8')
    socket.setTimeout(timeoutMs, () => socket.destroy())
    socket.on('data', (chunk: string) => {
      text += chunk
    })
    socket.on('error', (err: NodeJS.ErrnoException) =>
      resolve(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'nobody' : undefined),
    )
    socket.on('close', () => {
      try {
        const h = JSON.parse(text) as Partial<Holder>
        resolve(
          typeof h.pid === 'number' && typeof h.command === 'string'
            ? { pid: h.pid, command: h.command }
            : undefined,
        )
      } catch {
        resolve(undefined)
      }
    })
  })
}

/**
 * Takes the directory (which must exist) for this process, or throws DataDirInUse at once.
 * `platform` is a parameter so that the tests exercise the socket-file fallback on Linux too.
 */
export async function lockDataDir(
  dir: string,
  opts: { holder?: Holder; platform?: NodeJS.Platform; askTimeoutMs?: number } = {},
): Promise<DataDirLock> {
  const address = addressOf(realpathSync(dir), opts.platform ?? process.platform)
  const answer = JSON.stringify(opts.holder ?? thisProcess())
  for (let attempt = 1; ; attempt++) {
    const server = createServer((socket) => {
      // An asker may hang up before the answer (it gave up waiting on a busy holder): the write then
      // fails on a closed socket, which must not be thrown in the holder's process.
      socket.on('error', () => {})
      socket.end(answer)
    })
    try {
      await listen(server, address.path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err
      const holder = await ask(address.path, opts.askTimeoutMs ?? 2000)
      if (holder === 'nobody' && address.isFile && attempt === 1) {
        unlinkSync(address.path) // left by a process that died: nobody listens on it
        continue
      }
      throw new DataDirInUse(dir, holder === 'nobody' ? undefined : holder)
    }
    // the lock alone never keeps a process alive
    server.unref()
    let released: Promise<void> | undefined
    return {
      release: () => {
        released ??= new Promise((resolve) => server.close(() => resolve()))
        return released
      },
    }
  }
}
