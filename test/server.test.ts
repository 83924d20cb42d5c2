/**
 * The server process as an operator runs it (`npm start` = `bookstore serve`): on the embedded database persists
 * everything under DATA_DIR across restarts, shuts down cleanly on SIGTERM, and refuses to start
 * with an invalid setting, naming it.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
let dir: string

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'bookstore-server-'))
})
after(() => rmSync(dir, { recursive: true, force: true }))

interface Running {
  child: ChildProcess
  url: string
  output: () => string
}

function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.DATABASE_URL // the embedded engine, unless a test names a server
  return { ...env, ...extra }
}

/** Starts the server on a free port and waits for its "listening" log line. */
function startServer(extra: Record<string, string> = {}): Promise<Running> {
  const child = spawn(process.execPath, ['bin/bookstore.js', 'serve'], {
    cwd: ROOT,
    env: childEnv({ DATA_DIR: join(dir, 'data'), PORT: '0', LOG_LEVEL: 'info', ...extra }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString()
      const m = /listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
      if (m?.[1]) resolve({ child, url: m[1], output: () => out })
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)))
  })
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)))
}

async function postJson(url: string, body: unknown, token?: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { token } : {}) },
    body: JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

test('data survives a restart, and SIGTERM shuts the server down cleanly', async () => {
  const first = await startServer()
  const u = { user_id: 'persisted', password: 'secret' }
  assert.equal((await postJson(`${first.url}/auth/register`, u)).status, 200)
  const login = await postJson(`${first.url}/auth/login`, { ...u, terminal: 't' })
  const token = login.body.token as string
  const store = await postJson(
    `${first.url}/seller/create_store`,
    { user_id: u.user_id, store_id: 'kept' },
    token,
  )
  assert.equal(store.status, 200)
  const funds = await postJson(`${first.url}/buyer/add_funds`, { ...u, add_value: 1234 })
  assert.equal(funds.status, 200)
  const exited = exitOf(first.child)
  first.child.kill('SIGTERM')
  assert.equal(await exited, 0, first.output())
  assert.match(first.output(), /shutting down/)

  const second = await startServer()
  try {
    // The session, the store and the balance were all kept.
    const again = await postJson(
      `${second.url}/seller/create_store`,
      { user_id: u.user_id, store_id: 'kept' },
      token,
    )
    assert.equal(again.status, 514)
    const balance = await postJson(`${second.url}/buyer/add_funds`, { ...u, add_value: -1234 })
    assert.equal(balance.status, 200)
    assert.equal(balance.body.balance, 0)
    const ready = await fetch(`${second.url}/ready`)
    assert.equal(ready.status, 200)
  } finally {
    const done = exitOf(second.child)
    second.child.kill('SIGTERM')
    assert.equal(await done, 0)
  }
})

test('an invalid setting stops the server at start, naming the variable', async () => {
  for (const [name, value] of [
    ['PORT', 'eighty'],
    ['TOKEN_TTL_S', '0'],
    ['LOG_LEVEL', 'loud'],
    ['DATABASE_URL', 'mysql://localhost/db'],
    ['SWEEP_INTERVAL_S', '-1'],
  ] as const) {
    const child = spawn(process.execPath, ['bin/bookstore.js', 'serve'], {
      cwd: ROOT,
      env: { ...childEnv({ DATA_DIR: join(dir, 'bad') }), [name]: value },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let err = ''
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString()
    })
    assert.equal(await exitOf(child), 2, `${name}=${value}`)
    assert.match(err, new RegExp(`invalid configuration: ${name}`))
  }
})

test('cluster mode: WORKERS=2 serves from two processes on one PostgreSQL', async (ctx) => {
  const url = process.env.DATABASE_URL
  if (!url) {
    ctx.skip('needs DATABASE_URL: the embedded database belongs to one process')
    return
  }
  // A schema of its own, so the workers' migrations touch nothing else.
  const schema = `cluster_${process.pid}`
  const { openPostgres } = await import('../src/db/postgres.ts')
  const admin = await openPostgres(url, { max: 1 })
  await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`)
  const scoped = new URL(url)
  scoped.searchParams.set('options', `-c search_path=${schema}`)
  const server = await startServer({ DATABASE_URL: scoped.toString(), WORKERS: '2' })
  try {
    // startServer returns at the first worker's "listening" line: wait for the second one too.
    for (let i = 0; i < 600 && (server.output().match(/listening at/g) ?? []).length < 2; i++)
      await new Promise((r) => setTimeout(r, 50))
    const pids = new Set<string>()
    // Simultaneous requests open several connections, which the primary hands out in turn.
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        postJson(`${server.url}/auth/register`, { user_id: `c${i}`, password: 'p' }),
      ),
    )
    assert.deepEqual(new Set(replies.map((r) => r.status)), new Set([200]))
    // Each worker logs its own pid; both answered requests and share one database.
    for (const line of server.output().split('\n'))
      if (line.includes('request completed')) pids.add(/"pid":(\d+)/.exec(line)?.[1] ?? '')
    const users = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.users`)
    assert.equal(users.rows[0]?.n, 40)
    assert.ok(pids.size >= 2, `requests answered by ${pids.size} processes`)
  } finally {
    const done = exitOf(server.child)
    server.child.kill('SIGTERM')
    assert.equal(await done, 0)
    await admin.exec(`DROP SCHEMA ${schema} CASCADE`)
    await admin.close()
  }
})
