/**
 * Importing a course catalogue from /sell (app.inject, both engines): the upload, the progress page
 * and its JSON status, the result, the refusals that must write nothing, one import per store, and a
 * server stop in the middle followed by a resume.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import sqlite from 'node-sqlite3-wasm'
import { buildApp } from '../../src/app.ts'
import { CATALOGUES } from '../../src/pages/i18n/index.ts'
import { makeCatalogue, makePlainCatalogue } from '../support/catalogue-fixture.ts'
import { freshDb, rowsOf, startApp, TEST_CONFIG, type TestApp, uid } from '../support/helpers.ts'
import { textOf, WebClient } from '../support/web-client.ts'

const dir = mkdtempSync(join(tmpdir(), 'web-import-'))
let t: TestApp
before(async () => {
  t = await startApp({ dataDir: join(dir, 'data') })
})
after(async () => {
  await t.close()
  rmSync(dir, { recursive: true, force: true })
})

const mini = makeCatalogue(dir)
const en = CATALOGUES.en
const zh = CATALOGUES.zh

const bigCatalogue = (n: number) => makePlainCatalogue(dir, n)

async function sellerWithStore(app = t.app, lang: 'en' | 'zh' = 'en') {
  const b = new WebClient(app)
  const user = uid('importer')
  await b.signIn(user, `pw-${user}`)
  await b.get(`/sell?lang=${lang}`)
  const storeId = uid('shop')
  assert.equal((await b.post('/sell/stores', { store_id: storeId })).status, 303)
  await b.get(`/sell/store/${storeId}/import`)
  return { b, user, storeId }
}

const upload = (b: WebClient, storeId: string, file: Buffer, fields: Record<string, string> = {}) =>
  b.postMultipart(`/sell/store/${storeId}/import`, { stock_level: '7', ...fields }, [
    ['catalogue', 'book.db', file],
  ])

interface Status {
  state: string
  total: number
  seen: number
  added: number
  skipped: number
  invalid: number
  failed: number
}

async function statusOf(b: WebClient, storeId: string): Promise<{ status: number; body: Status }> {
  const r = await b.get(`/sell/store/${storeId}/import/status`, { accept: 'application/json' })
  return { status: r.status, body: JSON.parse(r.body) as Status }
}

async function finished(b: WebClient, storeId: string): Promise<Status> {
  // Generous: the machine may be busy; a job that stops moving fails the test anyway, in the end.
  for (const deadline = Date.now() + 300_000; Date.now() < deadline; ) {
    const s = await statusOf(b, storeId)
    assert.equal(s.status, 200)
    assert.ok(s.body.seen <= s.body.total)
    if (s.body.state !== 'running' && s.body.state !== 'uploading') return s.body
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error('the import did not finish')
}

const listed = async (storeId: string, db = t.db) =>
  (
    await rowsOf<{ n: number; stock: number | null; pics: number }>(
      db,
      `SELECT count(*)::int AS n, max(stock_level) AS stock,
              (SELECT count(*)::int FROM listing_pictures p WHERE p.store_id = $1) AS pics
         FROM listings WHERE store_id = $1`,
      [storeId],
    )
  )[0]

const leftovers = () => {
  const d = join(dir, 'data', 'imports')
  return existsSync(d) ? readdirSync(d) : []
}

describe('importing a course catalogue from /sell', () => {
  test('the owner uploads, watches the progress, reads the result; a second run skips every book', async () => {
    for (const [lang, c] of [
      ['en', en],
      ['zh', zh],
    ] as const) {
      const { b, storeId } = await sellerWithStore(t.app, lang)
      const store = await b.get(`/sell/store/${storeId}`)
      assert.match(
        store.body,
        new RegExp(`href="/sell/store/${storeId}/import"`),
        'the store page links to it',
      )
      const form = await b.get(`/sell/store/${storeId}/import`)
      assert.match(form.body, /enctype="multipart\/form-data"/)
      assert.match(form.body, /name="_csrf"[\s\S]*name="stock_level"[\s\S]*name="catalogue" type="file"/)
      const sent = await upload(b, storeId, readFileSync(mini))
      assert.equal(sent.status, 303, sent.body)
      assert.equal(sent.location, `/sell/store/${storeId}/import?done=import.started`)
      const page = await b.get(sent.location ?? '')
      assert.match(page.body, /<progress id="import-bar" max="\d+" value="\d+"/)
      const s = await finished(b, storeId)
      assert.deepEqual(
        {
          state: s.state,
          total: s.total,
          seen: s.seen,
          added: s.added,
          skipped: s.skipped,
          invalid: s.invalid,
        },
        { state: 'done', total: 26, seen: 26, added: 25, skipped: 0, invalid: 1 },
      )
      assert.deepEqual(await listed(storeId), { n: 25, stock: 7, pics: 16 })
      const result = await b.get(`/sell/store/${storeId}/import`)
      const text = textOf(result.body)
      assert.ok(text.includes(c['import.state.done']), text)
      assert.match(result.body, /<progress id="import-bar" max="26" value="26"/)
      assert.ok(
        text.includes(c['import.failure'].replace('{id}', 'bad-no-title').replace('{reason}', 'no title')),
      )
      assert.ok(!/data-import-status/.test(result.body), 'a finished job is not polled')
      assert.deepEqual(leftovers(), [], 'the uploaded file is removed once imported')
      // Again: every book is already listed.
      assert.equal((await upload(b, storeId, readFileSync(mini))).status, 303)
      const again = await finished(b, storeId)
      assert.deepEqual([again.added, again.skipped, again.invalid], [0, 25, 1])
      assert.deepEqual(await listed(storeId), { n: 25, stock: 7, pics: 16 })
    }
  })

  test('a file that is not a course catalogue gets a clear message and writes nothing', async () => {
    const { b, storeId } = await sellerWithStore(t.app, 'zh')
    const noBook = join(dir, 'nobook.db')
    const other = new sqlite.Database(noBook)
    other.run('CREATE TABLE books (id TEXT)')
    other.close()
    const wrongColumns = join(dir, 'wrongcols.db')
    const w = new sqlite.Database(wrongColumns)
    w.run('CREATE TABLE book (id TEXT, title TEXT)')
    w.close()
    const cases: [Buffer, string][] = [
      [Buffer.from('PK\u0003\u0004 this is a zip, not a database'), zh['import.notCatalogue.not_sqlite']],
      [Buffer.alloc(0), zh['import.notCatalogue.no_book_table']],
      [readFileSync(noBook), zh['import.notCatalogue.no_book_table']],
      [readFileSync(wrongColumns), zh['import.notCatalogue.wrong_columns']],
    ]
    for (const [file, message] of cases) {
      const r = await upload(b, storeId, file)
      assert.equal(r.status, 400)
      assert.ok(textOf(r.body).includes(message), textOf(r.body))
    }
    const none = await b.postMultipart(`/sell/store/${storeId}/import`, { stock_level: '1' })
    assert.equal(none.status, 400)
    assert.ok(textOf(none.body).includes(zh['import.notCatalogue.missing']))
    const badStock = await upload(b, storeId, readFileSync(mini), { stock_level: '-3' })
    assert.equal(badStock.status, 400)
    assert.deepEqual(await listed(storeId), { n: 0, stock: null, pics: 0 })
    assert.equal((await statusOf(b, storeId)).status, 404, 'no job was started')
    assert.deepEqual(leftovers(), [], 'refused files are removed')
  })

  test('only the owner imports and sees the job; forged and signed-out uploads change nothing', async () => {
    const { b, storeId } = await sellerWithStore()
    const forged = await b.postMultipart(`/sell/store/${storeId}/import`, { _csrf: 'x', stock_level: '1' }, [
      ['catalogue', 'book.db', readFileSync(mini)],
    ])
    assert.equal(forged.status, 403)
    const other = new WebClient(t.app)
    const otherUser = uid('other')
    await other.signIn(otherUser, `pw-${otherUser}`)
    await other.get('/sell')
    assert.equal((await other.get(`/sell/store/${storeId}/import`)).status, 404)
    assert.equal((await upload(other, storeId, readFileSync(mini))).status, 404)
    assert.equal((await upload(other, 'no-such-store', readFileSync(mini))).status, 404)
    const anon = new WebClient(t.app)
    const signIn = await anon.get(`/sell/store/${storeId}/import`)
    assert.equal(signIn.status, 303)
    assert.equal(signIn.location, `/login?next=${encodeURIComponent(`/sell/store/${storeId}/import`)}`)
    assert.deepEqual(await listed(storeId), { n: 0, stock: null, pics: 0 })
    // The owner's job is the owner's to see.
    assert.equal((await upload(b, storeId, readFileSync(mini))).status, 303)
    await finished(b, storeId)
    assert.equal((await statusOf(other, storeId)).status, 404)
    assert.equal((await statusOf(anon, storeId)).status, 404)
    assert.equal((await other.get(`/sell/store/${storeId}/import`)).status, 404)
    assert.equal((await other.post(`/sell/store/${storeId}/import/resume`)).status, 404)
  })

  test('one import per store at a time: a second upload while one runs is refused', async () => {
    const { b, user, storeId } = await sellerWithStore()
    const imports = t.app.services.imports
    const held = await imports.begin(user, storeId, 1)
    assert.ok(held.ok)
    const r = await upload(b, storeId, readFileSync(mini))
    assert.equal(r.status, 409)
    assert.ok(textOf(r.body).includes(en['import.busy']))
    const page = await b.get(`/sell/store/${storeId}/import`)
    assert.ok(!/name="catalogue"/.test(page.body), 'no upload form while one runs')
    assert.match(page.body, /data-import-status="[^"]+\/status"/)
    assert.match(
      page.body,
      new RegExp(`href="/sell/store/${storeId}/import" data-refresh>${en['import.refresh']}<`),
    )
    imports.abandon(held.upload)
    assert.equal((await upload(b, storeId, readFileSync(mini))).status, 303, 'free again')
    await finished(b, storeId)
    assert.equal((await listed(storeId))?.n, 25)
  })

  test('a server stop in the middle keeps every committed batch; the next server resumes the job', async () => {
    const fresh = await freshDb()
    const config = { ...TEST_CONFIG, dataDir: join(dir, 'restart') }
    const first = await buildApp({ config, db: fresh.db, logger: false })
    let second: Awaited<ReturnType<typeof buildApp>> | undefined
    try {
      const { b, storeId } = await sellerWithStore(first)
      const n = 1000
      assert.equal(
        (await upload(b, storeId, readFileSync(bigCatalogue(n)), { stock_level: '2' })).status,
        303,
      )
      // Stop once the first batch has committed.
      for (let i = 0; i < 600 && ((await statusOf(b, storeId)).body.seen ?? 0) === 0; i++)
        await new Promise((r) => setTimeout(r, 20))
      await first.close()
      const kept = (await listed(storeId, fresh.db))?.n ?? 0
      assert.ok(kept > 0 && kept < n && kept % 100 === 0, `whole batches only: ${kept}`)
      second = await buildApp({ config, db: fresh.db, logger: false })
      const b2 = new WebClient(second)
      for (const [k, v] of b.cookies) b2.cookies.set(k, v)
      const page = await b2.get(`/sell/store/${storeId}/import`)
      assert.ok(textOf(page.body).includes(en['import.state.interrupted']), textOf(page.body))
      assert.equal((await b2.post(`/sell/store/${storeId}/import/resume`)).status, 303)
      const s = await finished(b2, storeId)
      assert.deepEqual([s.state, s.added, s.skipped, s.added + s.skipped], ['done', n - kept, kept, n])
      const rows = await rowsOf<{ n: number; distinct_ids: number; stock: number }>(
        fresh.db,
        'SELECT count(*)::int AS n, count(DISTINCT book_id)::int AS distinct_ids, max(stock_level) AS stock FROM listings WHERE store_id = $1',
        [storeId],
      )
      assert.deepEqual(rows[0], { n, distinct_ids: n, stock: 2 })
    } finally {
      await second?.close()
      await fresh.dispose()
    }
  })

  const courseFile = fileURLToPath(new URL('../../../shared/data/book.db', import.meta.url))
  test('the course sample (../shared/data/book.db): 100 books with their pictures', {
    skip: existsSync(courseFile) ? false : `${courseFile} is absent: the course sample is not imported`,
  }, async () => {
    const { b, storeId } = await sellerWithStore(t.app, 'zh')
    assert.equal((await upload(b, storeId, readFileSync(courseFile))).status, 303)
    const s = await finished(b, storeId)
    assert.deepEqual([s.state, s.total, s.added, s.failed], ['done', 100, 100, 0])
    const l = await listed(storeId)
    assert.equal(l?.n, 100)
    assert.ok((l?.pics ?? 0) > 0)
  })
})
