/**
 * One process at a time in an embedded data directory (src/db/data-dir-lock.ts), with real
 * processes: two servers racing for one directory, a holder killed with SIGKILL, the import run
 * while the server runs, and a directory PGlite cannot read. After each, the data is intact and the
 * server starts again.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { DataDirInUse, lockDataDir } from '../../src/db/data-dir-lock.ts'
import { migrate } from '../../src/db/migrate.ts'
import { backupDataDir, DataDirUnreadable, openPglite } from '../../src/db/pglite.ts'
import { makeCatalogue } from '../support/catalogue-fixture.ts'
import { bookstore, postJson, startServer, stop } from '../support/processes.ts'

let dir: string
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'bookstore-datadir-'))
})
after(() => rmSync(dir, { recursive: true, force: true }))

const SERVER_COMMAND = 'node bin/bookstore.js serve'
const user = { user_id: 'kept', password: 'secret' }

/** The user exists with this balance (add_funds of 0 answers the balance). */
async function balanceOf(url: string): Promise<unknown> {
  const r = await postJson(`${url}/buyer/add_funds`, { ...user, add_value: 0 })
  assert.equal(r.status, 200, JSON.stringify(r.body))
  return r.body.balance
}

describe('two processes and one data directory', () => {
  test('two servers started at once: one serves, the other is refused naming it, nothing is damaged', async () => {
    const env = { DATA_DIR: join(dir, 'race') }
    const a = bookstore(['serve'], env)
    const b = bookstore(['serve'], env)
    const [urlA, urlB] = await Promise.all([a.url, b.url])
    assert.ok(
      (urlA === undefined) !== (urlB === undefined),
      `exactly one listens: ${a.output()}\n${b.output()}`,
    )
    const [winner, loser, url] = urlA ? [a, b, urlA] : [b, a, urlB as string]
    assert.equal((await loser.exit).code, 1)
    assert.match(
      loser.output(),
      new RegExp(
        `failed to start: the data directory .* is in use by process ${winner.child.pid} \\(${SERVER_COMMAND}\\)`,
      ),
    )
    assert.doesNotMatch(loser.output(), /Aborted/)

    assert.equal((await postJson(`${url}/auth/register`, user)).status, 200)
    assert.equal((await postJson(`${url}/buyer/add_funds`, { ...user, add_value: 700 })).status, 200)
    assert.equal((await stop(winner)).code, 0, winner.output())

    const again = await startServer(env)
    try {
      assert.equal(await balanceOf(again.address), 700)
    } finally {
      assert.equal((await stop(again)).code, 0)
    }
  })

  test('a holder killed with SIGKILL leaves no lock behind: the next start opens at once, with every acknowledged write', async () => {
    const env = { DATA_DIR: join(dir, 'killed') }
    const first = await startServer(env)
    assert.equal((await postJson(`${first.address}/auth/register`, user)).status, 200)
    assert.equal((await postJson(`${first.address}/buyer/add_funds`, { ...user, add_value: 42 })).status, 200)
    assert.equal((await stop(first, 'SIGKILL')).signal, 'SIGKILL')

    const second = await startServer(env)
    try {
      assert.equal(await balanceOf(second.address), 42)
    } finally {
      assert.equal((await stop(second)).code, 0)
    }
  })

  test('the import while the server runs is refused with what to do, writes nothing, and works once the server stops', async () => {
    const env = { DATA_DIR: join(dir, 'import') }
    const catalogue = makeCatalogue(dir)
    const importArgs = ['import', catalogue, '--store', 'course', '--seller', 'alice', '--password', 'secret']
    const server = await startServer(env)
    const listing = (url: string) => fetch(`${url}/stores/course/books/b000`).then((r) => r.status)
    try {
      const refused = bookstore(importArgs, env)
      assert.equal((await refused.exit).code, 1)
      assert.match(
        refused.output(),
        new RegExp(`in use by process ${server.child.pid} \\(${SERVER_COMMAND}\\)`),
      )
      assert.match(
        refused.output(),
        /stop that one first \(Ctrl-C in its terminal, or kill \d+\), then run this command again/,
      )
      assert.doesNotMatch(refused.output(), /imported/)
      assert.equal(await listing(server.address), 513, 'nothing was written')
      assert.equal(
        (await postJson(`${server.address}/auth/register`, user)).status,
        200,
        'the server is unharmed',
      )
    } finally {
      assert.equal((await stop(server)).code, 0)
    }

    const imported = bookstore(importArgs, env)
    assert.equal((await imported.exit).code, 0, imported.output())
    assert.match(imported.output(), /imported 25 books into store course/)

    const restarted = await startServer(env)
    try {
      assert.equal(await listing(restarted.address), 200)
      assert.equal(await balanceOf(restarted.address), 0, 'the user registered before the import is there')
    } finally {
      assert.equal((await stop(restarted)).code, 0)
    }
  })
})

describe('in one process', () => {
  test('a second open of a directory is refused until the first is closed', async () => {
    const data = join(dir, 'same-process')
    const db = await openPglite(data)
    await migrate(db)
    await db.query("INSERT INTO users (user_id, password_hash) VALUES ('one', 'h')")
    await assert.rejects(
      openPglite(data),
      (err: unknown) => err instanceof DataDirInUse && err.holder?.pid === process.pid,
    )
    await db.close()
    const again = await openPglite(data)
    try {
      const r = await again.query<{ user_id: string }>('SELECT user_id FROM users')
      assert.deepEqual(r.rows, [{ user_id: 'one' }])
    } finally {
      await again.close()
    }
  })

  test('the socket-file fallback (systems without abstract sockets) refuses a second holder and replaces a dead one', async () => {
    const data = join(dir, 'fallback')
    mkdirSync(data)
    const holder = { pid: 1234, command: 'bookstore serve' }
    const lock = await lockDataDir(data, { platform: 'darwin', holder })
    await assert.rejects(
      lockDataDir(data, { platform: 'darwin' }),
      (err: unknown) => err instanceof DataDirInUse && err.holder?.pid === 1234,
    )
    await lock.release()
    assert.ok(!existsSync(join(dir, '.fallback.lock')), 'released: the socket file is gone')

    // A process killed while holding it leaves its socket file behind; nobody answers on it.
    const socketFile = join(dir, '.fallback.lock')
    const child = spawn(process.execPath, [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(socketFile)}, () => console.log('up'))`,
    ])
    await new Promise((resolve) => child.stdout.once('data', resolve))
    child.kill('SIGKILL')
    await new Promise((resolve) => child.once('exit', resolve))
    assert.ok(existsSync(socketFile), 'the dead holder left its socket file')
    const taken = await lockDataDir(data, { platform: 'darwin' })
    await taken.release()
  })

  test('an asker that hangs up before the answer (it gave up waiting) does not bring the holder down', async () => {
    const data = join(dir, 'impatient')
    mkdirSync(data)
    const holder = { pid: 4321, command: 'bookstore serve' }
    const lock = await lockDataDir(data, { platform: 'darwin', holder })
    try {
      // Closed at once: the holder's answer then meets a closed socket (ECONNRESET or EPIPE), which,
      // unheard, would be thrown in the holder's process.
      for (let i = 0; i < 40; i++) {
        const socket = createConnection(join(dir, '.impatient.lock'))
        await new Promise<void>((resolve) =>
          socket.once('connect', () => {
            socket.destroy()
            resolve()
          }),
        )
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
      await assert.rejects(
        lockDataDir(data, { platform: 'darwin' }),
        (err: unknown) => err instanceof DataDirInUse && err.holder?.pid === 4321,
      )
    } finally {
      await lock.release()
    }
  })

  test('a holder that does not answer (busy, or not ours) is still a holder', async () => {
    const data = join(dir, 'silent')
    mkdirSync(data)
    const silent = createServer(() => {})
    await new Promise<void>((resolve) => silent.listen(join(dir, '.silent.lock'), resolve))
    try {
      await assert.rejects(lockDataDir(data, { platform: 'darwin', askTimeoutMs: 200 }), (err: unknown) => {
        assert.ok(err instanceof DataDirInUse)
        assert.equal(err.holder, undefined)
        assert.match(err.message, /in use by another process \(it did not say which/)
        return true
      })
    } finally {
      silent.close()
    }
  })
})

describe('a directory PGlite cannot read', () => {
  test('says so plainly and points to the recovery, changing nothing; the server and migrate say the same', async () => {
    const good = join(dir, 'good', 'pglite')
    const db = await openPglite(good)
    await migrate(db)
    await db.close()
    const broken = join(dir, 'broken', 'data', 'pglite')
    cpSync(good, broken, { recursive: true })
    // what two processes writing at once left behind: write-ahead log that does not parse
    for (const f of readdirSync(join(broken, 'pg_wal')).filter((f) => /^[0-9A-F]{24}$/.test(f)))
      writeFileSync(join(broken, 'pg_wal', f), Buffer.alloc(8192, 9))

    await assert.rejects(openPglite(broken), (err: unknown) => {
      assert.ok(err instanceof DataDirUnreadable)
      assert.match(err.message, /cannot be read/)
      assert.match(err.message, /bookstore backup/)
      assert.doesNotMatch(err.message, /Aborted/)
      return true
    })
    // the lock was released: the same answer again, not "in use"
    await assert.rejects(openPglite(broken), DataDirUnreadable)

    for (const command of [['serve'], ['migrate']]) {
      const run = bookstore(command, { DATA_DIR: join(dir, 'broken', 'data') })
      assert.equal((await run.exit).code, 1, run.output())
      assert.match(run.output(), /the embedded database in .*pglite cannot be read/)
      assert.match(run.output(), /README, "Backups and recovery"/)
      assert.doesNotMatch(run.output(), /Aborted|at .*\.ts:\d+/)
    }
    const stillGood = await openPglite(good)
    await stillGood.close()
    // a backup of it is refused too, and leaves no copy behind
    await assert.rejects(backupDataDir(broken, join(dir, 'broken-copy')), DataDirUnreadable)
    assert.ok(!existsSync(join(dir, 'broken-copy')))
  })
})

describe('bookstore backup', () => {
  test('copies a directory nobody has open, refuses one in use and an existing target; the copy opens with the data', async () => {
    const data = join(dir, 'backed-up')
    const db = await openPglite(join(data, 'pglite'))
    await migrate(db)
    await db.query("INSERT INTO users (user_id, password_hash) VALUES ('saved', 'h')")
    const target = join(dir, 'backup-1')
    await assert.rejects(backupDataDir(join(data, 'pglite'), target), DataDirInUse)
    assert.ok(!existsSync(target))
    await db.close()

    const run = bookstore(['backup', target], { DATA_DIR: data })
    assert.equal((await run.exit).code, 0, run.output())
    assert.match(run.output(), /copied .*pglite to .*backup-1/)
    await assert.rejects(backupDataDir(join(data, 'pglite'), target), /exists already/)
    await assert.rejects(
      backupDataDir(join(dir, 'nothing-here'), join(dir, 'b2')),
      /holds no embedded database/,
    )

    const copy = await openPglite(target)
    try {
      const r = await copy.query<{ user_id: string }>('SELECT user_id FROM users')
      assert.deepEqual(r.rows, [{ user_id: 'saved' }])
    } finally {
      await copy.close()
    }
  })
})
