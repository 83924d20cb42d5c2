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
import { startServer } from '../../tools/shared/server-process.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
let dir: string

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'bookstore-server-'))
})
after(() => rmSync(dir, { recursive: true, force: true }))

function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.DATABASE_URL // the embedded engine, unless a test names a server
  return { ...env, ...extra }
}

/** The server on the test's data directory, with its info log (what it says on start and stop). */
const start = (extra: Record<string, string> = {}) =>
  startServer({ env: childEnv({ DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'info', ...extra }) })

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
  const first = await start()
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
  assert.equal((await first.stop()).code, 0, first.output())
  assert.match(first.output(), /shutting down/)

  const second = await start()
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
    assert.equal((await second.stop()).code, 0)
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
  const { openPostgres } = await import('../../src/db/postgres.ts')
  const admin = await openPostgres(url, { max: 1 })
  await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`)
  const scoped = new URL(url)
  scoped.searchParams.set('options', `-c search_path=${schema}`)
  const server = await start({ DATABASE_URL: scoped.toString(), WORKERS: '2' })
  try {
    // start() returns once one worker answers /ready: wait for the second one's "listening" line too.
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
    assert.equal((await server.stop()).code, 0)
    await admin.exec(`DROP SCHEMA ${schema} CASCADE`)
    await admin.close()
  }
})
