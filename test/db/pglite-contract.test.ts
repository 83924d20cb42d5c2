/**
 * What the embedded adapter (src/db/pglite*.ts) relies on in PGlite beyond its documented API, so
 * that an upgrade of @electric-sql/pglite that changes any of it fails here, by name, instead of
 * in production: the exact pinned version, its private locks and how they nest, the wire-protocol
 * messages pglite-statements.ts writes and the shape of the answers it reads (parsed by PGlite when
 * preparing, raw bytes from execProtocolRawStream when running), the type (de)serialisers,
 * and the row counts of query results.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { PGlite } from '@electric-sql/pglite'
import { INT8_OID, parseInt8 } from '../../src/db/db.ts'
import { BackendReader, frontend } from '../../src/db/pglite-statements.ts'
import { signal, sleep } from '../support/helpers.ts'

const INT4_OID = 23
const TEXT_OID = 25
const TIMESTAMPTZ_OID = 1184

let pg: PGlite
before(async () => {
  pg = new PGlite(undefined, { parsers: { [INT8_OID]: parseInt8 } })
  await pg.waitReady
})
after(() => pg.close())

/** Whether a promise has settled after the event loop has had time to run it. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false
  void p.then(
    () => {
      done = true
    },
    () => {
      done = true
    },
  )
  await sleep(50)
  return done
}

test('the installed PGlite is the version package.json pins exactly', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
  const pinned = pkg.dependencies['@electric-sql/pglite'] as string
  assert.match(pinned, /^\d+\.\d+\.\d+$/, 'an exact version: the adapter uses private parts of PGlite')
  const installed = JSON.parse(
    readFileSync(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url), 'utf8'),
  ).version
  assert.equal(installed, pinned)
})

describe('locks (openPglite takes them around named statements)', () => {
  test('_runExclusiveTransaction waits for an open transaction to end', async () => {
    const started = signal()
    const release = signal()
    const order: string[] = []
    const tx = pg.transaction(async () => {
      started.fire()
      await release.promise
      order.push('transaction')
    })
    await started.promise
    const exclusive = pg._runExclusiveTransaction(async () => {
      order.push('exclusive')
    })
    try {
      assert.equal(await settled(exclusive), false, 'ran while the transaction was open')
    } finally {
      release.fire()
      await Promise.all([tx, exclusive])
    }
    assert.deepEqual(order, ['transaction', 'exclusive'])
  })

  test('_runExclusiveQuery and runExclusive hold the query lock: pg.query waits for them', async () => {
    for (const hold of [
      (fn: () => Promise<void>) => pg._runExclusiveQuery(fn),
      (fn: () => Promise<void>) => pg.runExclusive(fn),
    ]) {
      const release = signal()
      const held = hold(() => release.promise)
      const query = pg.query('SELECT 1')
      try {
        assert.equal(await settled(query), false, 'a query ran while the lock was held')
      } finally {
        release.fire()
        await Promise.all([held, query])
      }
    }
  })

  test('runExclusive inside a transaction takes only the query lock (it does not wait for the transaction)', {
    timeout: 10_000,
  }, async () => {
    const r = await pg.transaction(async (tx) => {
      await tx.query('SELECT 1')
      return pg.runExclusive(async () => 'ran')
    })
    assert.equal(r, 'ran')
  })
})

describe('wire protocol (pglite-statements.ts)', () => {
  const { parse, bind, describeStatement, execute, sync, concat } = frontend

  test('Parse + Describe answer parameter types and result columns by these names', async () => {
    const { messages } = await pg.execProtocol(
      concat([
        parse('contract_s', "SELECT $1::int + 1 AS n, 'x'::text AS s"),
        describeStatement('contract_s'),
        sync(),
      ]),
      { syncToFs: false },
    )
    const byName = new Map(messages.map((m) => [m.name, m as unknown as Record<string, unknown>]))
    assert.deepEqual(byName.get('parameterDescription')?.dataTypeIDs, [INT4_OID])
    const fields = byName.get('rowDescription')?.fields as { name: string; dataTypeID: number }[]
    assert.deepEqual(
      fields.map((f) => [f.name, f.dataTypeID]),
      [
        ['n', INT4_OID],
        ['s', TEXT_OID],
      ],
    )
  })

  test('Bind + Execute answer text cells in dataRow.fields and the count in commandComplete.text', async () => {
    const { messages } = await pg.execProtocol(concat([bind('contract_s', ['41']), execute(), sync()]), {
      syncToFs: false,
    })
    const rows = messages.filter((m) => m.name === 'dataRow') as unknown as { fields: (string | null)[] }[]
    assert.deepEqual(
      rows.map((r) => r.fields),
      [['42', 'x']],
    )
    const done = messages.find((m) => m.name === 'commandComplete') as unknown as { text: string }
    assert.equal(done.text, 'SELECT 1')
    // NULL travels as length −1 and comes back as a null cell.
    const nulls = await pg.execProtocol(concat([bind('contract_s', [null]), execute(), sync()]), {
      syncToFs: false,
    })
    const row = nulls.messages.find((m) => m.name === 'dataRow') as unknown as { fields: (string | null)[] }
    assert.deepEqual(row.fields, [null, 'x'])
  })

  test('execProtocolRawStream hands over the answer as raw bytes, an error included, without throwing', async () => {
    const raw = async (message: Uint8Array) => {
      const answer = new BackendReader()
      const types: string[] = []
      await pg.execProtocolRawStream(message, {
        syncToFs: false,
        onRawData: (chunk) => {
          // the message types of the chunk, which starts on a message (each is type, int32 length, body)
          const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength)
          for (let at = 0; at < chunk.length; at += 1 + view.getInt32(at + 1))
            types.push(String.fromCharCode(chunk[at] as number))
          answer.push(chunk)
        },
      })
      return { answer, types }
    }
    const fields = [
      { name: 'n', dataTypeID: INT4_OID },
      { name: 's', dataTypeID: TEXT_OID },
    ]
    // BindComplete, DataRow, CommandComplete, ReadyForQuery
    const ok = await raw(concat([bind('contract_s', ['41']), execute(), sync()]))
    assert.deepEqual(ok.types, ['2', 'D', 'C', 'Z'])
    assert.deepEqual(ok.answer.result(fields, pg.parsers), { rows: [{ n: 42, s: 'x' }], rowCount: 1 })
    // bytea in binary format (Bind's result format 1): the bytes themselves
    await pg.execProtocol(concat([parse('contract_b', 'SELECT $1::bytea AS b'), sync()]), { syncToFs: false })
    const bytes = await raw(concat([bind('contract_b', ['\\x00ff10'], [1]), execute(), sync()]))
    const [row] = bytes.answer.result<{ b: Uint8Array }>(
      [{ name: 'b', dataTypeID: 17, binary: true }],
      pg.parsers,
    ).rows
    assert.deepEqual([...(row?.b ?? [])], [0, 255, 16])
    // an ErrorResponse, then ReadyForQuery: nothing thrown by PGlite, the reader throws its fields
    const failed = await raw(concat([bind('no_such_statement', []), execute(), sync()]))
    assert.deepEqual(failed.types, ['E', 'Z'])
    assert.throws(
      () => failed.answer.result([], pg.parsers),
      (err: { code?: string; message: string }) =>
        err.code === '26000' && err.message.includes('no_such_statement'),
    )
    assert.deepEqual((await pg.query('SELECT 2 AS two')).rows, [{ two: 2 }])
  })

  test('an error rejects with the SQLSTATE in code, and the connection goes on', async () => {
    await assert.rejects(
      pg.execProtocol(concat([bind('no_such_statement', []), execute(), sync()]), { syncToFs: false }),
      (err: { code?: string }) => err.code === '26000',
    )
    assert.deepEqual((await pg.query('SELECT 2 AS two')).rows, [{ two: 2 }])
  })
})

describe('types and results', () => {
  test('serializers and parsers are keyed by type oid, with the parser openPglite passes for int8 in use', () => {
    assert.equal(typeof pg.serializers[INT4_OID], 'function')
    // int8 as a number (the option openPglite passes), not PGlite's default bigint
    assert.equal(pg.parsers[INT8_OID]?.('9007199254740000', INT8_OID), 9_007_199_254_740_000)
    const at = pg.parsers[TIMESTAMPTZ_OID]?.('2026-01-02 03:04:05.678+00', TIMESTAMPTZ_OID)
    assert.deepEqual(at, new Date('2026-01-02T03:04:05.678Z'))
    assert.equal(typeof pg.syncToFs, 'function')
  })

  test('rowCount is the command tag count; affectedRows is 0 for a SELECT', async () => {
    await pg.exec('CREATE TABLE contract_rows (a int)')
    const insert = await pg.query('INSERT INTO contract_rows VALUES (1), (2)')
    assert.equal(insert.rowCount, 2)
    const select = await pg.query('SELECT * FROM contract_rows')
    assert.equal(select.rowCount, 2)
    assert.equal(select.affectedRows, 0)
    const update = await pg.query('UPDATE contract_rows SET a = a + 1 WHERE a = 1')
    assert.equal(update.rowCount, 1)
  })
})
