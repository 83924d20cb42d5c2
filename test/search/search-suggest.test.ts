/**
 * GET /search/suggest: completions of a prefix among titles, authors and tags, in Chinese and in
 * pinyin, kept in the transaction that lists a book (migration 012, src/repositories/suggest.ts); the
 * counts that rank them are set on the keys when the listings are merged (migration 023).
 */

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import type { Db } from '../../src/db/db.ts'
import { insertListings } from '../../src/repositories/listings.ts'
import { mergeQueued } from '../../src/repositories/search/pending.ts'
import { backfillSuggestionKeys, completeSuggestionKeys } from '../../src/repositories/suggest.ts'
import { foldedKey, pinyinKey, queryPrefixes } from '../../src/search/suggest.ts'
import { syntheticListing } from '../../tools/catalog/synthetic.ts'
import {
  addBook,
  call,
  freshDb,
  newStore,
  newUser,
  startApp,
  type TestApp,
  type User,
} from '../support/helpers.ts'
import { mergeQueue } from '../support/search-index.ts'

let t: TestApp
let seller: User
let sa: string
let sb: string

interface Suggestion {
  text: string
  kind: string
  store_id: string | null
  book_id: string | null
}

async function suggest(params: Record<string, string | number>, app = t.app) {
  const r = await call(
    app,
    'GET',
    `/search/suggest?${new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]))}`,
  )
  return {
    status: r.status,
    message: r.body.message as string,
    suggestions: r.body.suggestions as Suggestion[],
  }
}
const texts = (s: { suggestions: Suggestion[] }) => s.suggestions.map((x) => `${x.kind}:${x.text}`)

before(async () => {
  t = await startApp()
  seller = await newUser(t.app, 'seller')
  sa = await newStore(t.app, seller)
  sb = await newStore(t.app, seller)
  const book = (store: string, id: string, title: string, author: string | null, tags: string[]) =>
    addBook(t.app, seller, store, { id, title, author, tags, price: 1000 })
  await book(sa, 'a1', '美丽心灵', '西尔维娅·娜萨', ['传记', '数学'])
  await book(sa, 'a2', '美丽新世界', '赫胥黎', ['小说', '反乌托邦'])
  await book(sa, 'a3', '美国史', '某某', ['历史'])
  await book(sb, 'b1', '美丽心灵', '西尔维娅·娜萨', ['传记'])
  await book(sb, 'b2', 'Python Cookbook', 'David Beazley', ['编程', 'Python'])
  await book(sb, 'b3', 'Ｐｙｔｈｏｎ入门', 'David Beazley', ['编程'])
  await book(sb, 'b4', '心灵捕手', '张三', ['电影', '美丽人生'])
  // The counts that rank the completions are set as the listings are merged.
  await mergeQueue(t.db)
})
after(() => t.close())

describe('keys', () => {
  test('a text is completed from its folded form and its toneless pinyin', () => {
    assert.equal(foldedKey('Ｐｙｔｈｏｎ入门'), 'python入门')
    assert.equal(pinyinKey('美丽心灵'), 'meilixinling')
    assert.equal(pinyinKey('绿色'), 'luse')
    assert.equal(pinyinKey('Python'), null)
    assert.deepEqual(queryPrefixes('mei3 li4'), ['mei3 li4', 'meili'])
    // Folding drops accents and tone marks from the typed text as well (src/search/fold.ts).
    assert.deepEqual(queryPrefixes('Měi Lì'), ['mei li', 'meili'])
    assert.equal(foldedKey('心靈捕手'), '心灵捕手')
    assert.deepEqual(queryPrefixes('美丽'), ['美丽'])
    assert.deepEqual(queryPrefixes('   '), [])
  })
})

describe('completions', () => {
  test('a Chinese prefix completes titles, authors and tags; a title once site-wide, most listings first', async () => {
    const r = await suggest({ q: '美' })
    assert.equal(r.status, 200)
    assert.equal(r.message, 'ok')
    assert.equal(r.suggestions[0]?.text, '美丽心灵', 'two listings: first')
    const first = r.suggestions[0] as Suggestion
    assert.ok([sa, sb].includes(first.store_id as string))
    assert.equal(first.book_id, first.store_id === sa ? 'a1' : 'b1')
    assert.deepEqual(
      new Set(texts(r)),
      new Set(['title:美丽心灵', 'title:美丽新世界', 'title:美国史', 'tag:美丽人生']),
    )
    // Equal counts: titles before tags, then shorter first.
    assert.deepEqual(texts(r).slice(1), ['title:美国史', 'title:美丽新世界', 'tag:美丽人生'])
  })

  test('pinyin, with or without spaces, tones or tone numbers, completes Chinese titles', async () => {
    for (const q of ['meili', 'mei li', 'MEI3 LI4', 'měi lì', 'meilixinl', 'mei li xin ling']) {
      const r = await suggest({ q })
      assert.equal(r.status, 200, q)
      assert.ok(texts(r).includes('title:美丽心灵'), `${q}: ${texts(r)}`)
    }
    assert.ok(!texts(await suggest({ q: 'meiguo' })).includes('title:美丽心灵'))
    assert.deepEqual(texts(await suggest({ q: 'meiguo' })), ['title:美国史'])
  })

  test('authors and tags are suggested once, without a listing', async () => {
    const r = await suggest({ q: 'david' })
    assert.deepEqual(r.suggestions, [
      { text: 'David Beazley', kind: 'author', store_id: null, book_id: null },
    ])
    const tags = await suggest({ q: 'zhuanji' })
    assert.deepEqual(tags.suggestions, [{ text: '传记', kind: 'tag', store_id: null, book_id: null }])
  })

  test('Latin prefixes fold case and full width', async () => {
    const r = await suggest({ q: 'PYTH' })
    assert.deepEqual(
      new Set(texts(r)),
      new Set(['title:Python Cookbook', 'title:Ｐｙｔｈｏｎ入门', 'tag:Python']),
    )
    assert.deepEqual(texts(await suggest({ q: 'ｐｙｔｈｏｎ c' })), ['title:Python Cookbook'])
  })

  test('in one store: only what its listings carry, each title naming that store’s listing', async () => {
    const r = await suggest({ q: '美丽', store_id: sa })
    assert.deepEqual(
      r.suggestions.filter((s) => s.kind === 'title'),
      [
        { text: '美丽心灵', kind: 'title', store_id: sa, book_id: 'a1' },
        { text: '美丽新世界', kind: 'title', store_id: sa, book_id: 'a2' },
      ],
    )
    assert.ok(!texts(r).includes('tag:美丽人生'), 'a tag of the other store')
    assert.deepEqual(texts(await suggest({ q: '美丽', store_id: sb })), ['title:美丽心灵', 'tag:美丽人生'])
    assert.deepEqual(texts(await suggest({ q: 'bian', store_id: sb })), ['tag:编程'])
  })

  test('limit cuts the list; the default is 8', async () => {
    const seller2 = await newUser(t.app, 'many')
    const store = await newStore(t.app, seller2)
    for (let i = 0; i < 12; i++)
      await addBook(t.app, seller2, store, { id: `z${i}`, title: `Zebra ${i}`, price: 100 })
    assert.equal((await suggest({ q: 'zebra' })).suggestions.length, 8)
    assert.equal((await suggest({ q: 'zebra', limit: 3 })).suggestions.length, 3)
    assert.equal((await suggest({ q: 'zebra', limit: 20 })).suggestions.length, 12)
  })

  test('nothing matching, or only spaces: 200 with no suggestions', async () => {
    assert.deepEqual(await suggest({ q: '没有这本书' }), { status: 200, message: 'ok', suggestions: [] })
    assert.deepEqual((await suggest({ q: '   ' })).suggestions, [])
    assert.deepEqual((await suggest({ q: "%_'\\" })).suggestions, [])
  })

  test('bad input is 400; an unknown store is 513', async () => {
    for (const params of [
      {},
      { q: '' },
      { q: 'a', limit: 0 },
      { q: 'a', limit: 21 },
      { q: 'a', limit: 'x' },
      { q: 'x'.repeat(101) },
    ]) {
      const r = await suggest(params as Record<string, string>)
      assert.equal(r.status, 400, JSON.stringify(params))
    }
    assert.equal((await suggest({ q: '美', store_id: 'no-such-store' })).status, 513)
  })
})

/**
 * Every key carries its text's count (migration 017), which the completions are ranked by: no key
 * differs from its text, and every text has its keys.
 */
async function assertKeysCounted(db: Db) {
  const wrong = await db.query(
    `SELECT k.key, k.listings, s.listings AS text_listings FROM suggestion_keys k
       JOIN suggestion_texts s ON s.kind = k.kind AND s.text = k.text WHERE k.listings <> s.listings`,
  )
  assert.deepEqual(wrong.rows, [])
  const keyless = await db.query(
    `SELECT s.text FROM suggestion_texts s
      WHERE NOT EXISTS (SELECT 1 FROM suggestion_keys k WHERE k.kind = s.kind AND k.text = s.text)`,
  )
  assert.deepEqual(keyless.rows, [])
}

describe('kept with the listings', () => {
  test('a listed book is suggested at once; concurrent listings count every copy', async () => {
    const own = await startApp()
    try {
      const owner = await newUser(own.app, 'seller')
      const stores = [await newStore(own.app, owner), await newStore(own.app, owner)]
      await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          addBook(own.app, owner, stores[i % 2] as string, {
            id: `c${i}`,
            title: i < 6 ? '红楼梦' : '红与黑',
            author: '曹雪芹',
            tags: ['古典', '小说'],
            price: 100,
          }),
        ),
      )
      // Both titles at once; ranked by their counts once the listings are merged.
      assert.deepEqual(texts(await suggest({ q: 'hong' }, own.app)).sort(), ['title:红与黑', 'title:红楼梦'])
      await mergeQueue(own.db)
      assert.deepEqual(texts(await suggest({ q: 'hong' }, own.app)), ['title:红楼梦', 'title:红与黑'])
      const counts = await own.db.query<{ kind: string; text: string; listings: number }>(
        `SELECT kind::text AS kind, text, listings FROM suggestion_texts ORDER BY 1, 2`,
      )
      assert.deepEqual(counts.rows, [
        { kind: 'a', text: '曹雪芹', listings: 8 },
        { kind: 'g', text: '古典', listings: 8 },
        { kind: 'g', text: '小说', listings: 8 },
        { kind: 't', text: '红与黑', listings: 2 },
        { kind: 't', text: '红楼梦', listings: 6 },
      ])
      await assertKeysCounted(own.db)
      // A removed listing leaves the counts; a text without listings is no longer suggested, and a
      // title's listing moves to one that is left.
      await own.db.query(`DELETE FROM listings WHERE title = '红与黑'`)
      assert.deepEqual(texts(await suggest({ q: 'hong' }, own.app)), ['title:红楼梦'])
      await assertKeysCounted(own.db)
      const first = (await suggest({ q: '红楼' }, own.app)).suggestions[0] as Suggestion
      await own.db.query('DELETE FROM listings WHERE store_id = $1 AND book_id = $2', [
        first.store_id,
        first.book_id,
      ])
      const moved = (await suggest({ q: '红楼' }, own.app)).suggestions[0] as Suggestion
      assert.notDeepEqual([moved.store_id, moved.book_id], [first.store_id, first.book_id])
      const left = await own.db.query('SELECT 1 FROM listings WHERE store_id = $1 AND book_id = $2', [
        moved.store_id,
        moved.book_id,
      ])
      assert.equal(left.rowCount, 1)
    } finally {
      await own.close()
    }
  })

  test('a new text has its count on its keys at once; a known text’s keys take the new count at the merge', async () => {
    const { db, dispose } = await freshDb()
    const keyCounts = async (text: string) =>
      (
        await db.query<{ listings: number }>(
          'SELECT DISTINCT listings FROM suggestion_keys WHERE text = $1 ORDER BY 1',
          [text],
        )
      ).rows.map((r) => r.listings)
    try {
      await db.query(`INSERT INTO users (user_id, password_hash) VALUES ('sk-owner', 'x')`)
      await db.query(`INSERT INTO stores (store_id, owner_id) VALUES ('sk', 'sk-owner')`)
      let n = 0
      const listing = (title: string, tags: string[], bookId = `sk${n}`) => ({
        ...syntheticListing(n++, { storeIds: ['sk'], seed: 5 }),
        bookId,
        title,
        author: null,
        tags,
      })
      await db.transaction((tx) => insertListings(tx, [listing('月亮与六便士', ['经典', '经典'])]))
      assert.deepEqual(await keyCounts('月亮与六便士'), [1])
      assert.deepEqual(await keyCounts('经典'), [1], 'a tag repeated in a listing counts once')
      // One statement: a new title twice, a known tag three times, and a book the store lists already
      // (skipped, so its new title gets no keys).
      const added = await db.transaction((tx) =>
        insertListings(tx, [
          listing('刀锋', ['经典']),
          listing('刀锋', ['经典']),
          listing('面纱', ['经典']),
          listing('不会上架', ['新标签'], 'sk0'),
        ]),
      )
      assert.equal(added, 3)
      assert.deepEqual(await keyCounts('刀锋'), [2])
      assert.deepEqual(await keyCounts('面纱'), [1])
      assert.deepEqual(await keyCounts('不会上架'), [])
      assert.deepEqual(await keyCounts('新标签'), [])
      assert.deepEqual(await keyCounts('经典'), [1], 'until the merge')
      // The merge sets it, for the listings it takes only: one batch of two, then the rest.
      assert.equal(await mergeQueued(db, 2), 2)
      assert.deepEqual(await keyCounts('经典'), [4])
      while ((await mergeQueued(db, 2)) > 0) {}
      assert.deepEqual(await keyCounts('经典'), [4])
      await assertKeysCounted(db)
      // A delete sets its texts' counts itself.
      await db.query(`DELETE FROM listings WHERE title = '刀锋'`)
      assert.deepEqual(await keyCounts('经典'), [2])
      assert.deepEqual(await keyCounts('刀锋'), [0])
      await assertKeysCounted(db)
    } finally {
      await dispose()
    }
  })

  test('listings added and deleted while merges run leave every key with its text’s count', async () => {
    const { db, dispose } = await freshDb({ poolSize: 8 })
    try {
      await db.query(`INSERT INTO users (user_id, password_hash) VALUES ('sr-owner', 'x')`)
      await db.query(`INSERT INTO stores (store_id, owner_id) VALUES ('sr', 'sr-owner')`)
      const tags = ['散文', '诗歌', '戏剧', '小说']
      let n = 0
      const add = (k: number) =>
        db.transaction((tx) =>
          insertListings(tx, [
            {
              ...syntheticListing(n++, { storeIds: ['sr'], seed: 6, idPrefix: 'sr' }),
              title: `书名${k % 5}`,
              author: `作者${k % 3}`,
              tags: [tags[k % 4] as string, tags[(k + 1) % 4] as string],
            },
          ]),
        )
      let adding = true
      let deleted = 0
      const merging = async () => {
        while (adding) if ((await mergeQueued(db, 1)) === 0) await new Promise((r) => setTimeout(r, 2))
      }
      const writer = async (w: number) => {
        for (let i = 0; i < 16; i++) {
          await add(w * 100 + i)
          if (i % 2 === 1) {
            // Another writer's listing of the title, as often as not.
            const r = await db.query(
              `DELETE FROM listings WHERE doc = (SELECT min(doc) FROM listings WHERE store_id = 'sr' AND title = $1)`,
              [`书名${(w + i) % 5}`],
            )
            deleted += r.rowCount ?? 0
          }
        }
      }
      const mergers = [merging(), merging(), merging()]
      await Promise.all([0, 1, 2, 3, 4, 5].map(writer))
      adding = false
      await Promise.all(mergers)
      await mergeQueue(db)
      await assertKeysCounted(db)
      const listed = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM listings WHERE store_id = 'sr'`,
      )
      assert.ok(deleted > 0)
      assert.equal(listed.rows[0]?.n, 6 * 16 - deleted)
    } finally {
      await dispose()
    }
  })

  test('the migration gives listings that were there before it their texts and keys (pinyin at the next start)', async () => {
    const own = await startApp()
    try {
      const owner = await newUser(own.app, 'seller')
      const store = await newStore(own.app, owner)
      for (const [id, title] of [
        ['m1', '美丽心灵'],
        ['m2', '美丽心灵'],
        ['m3', 'Python Cookbook'],
      ] as const)
        await addBook(own.app, owner, store, { id, title, author: '某某', tags: ['传记'], price: 100 })
      // As if the listings predated migration 012: no suggestions, then the migration's backfill.
      await own.db.exec('DELETE FROM suggestion_keys; DELETE FROM suggestion_texts')
      const migration = readFileSync(
        new URL('../../src/db/migrations/012_search_suggestions.sql', import.meta.url),
        'utf8',
      )
      await own.db.exec(migration.slice(migration.indexOf('INSERT INTO suggestion_texts (kind, text')))
      // … and migration 017's, which gives the keys their texts' counts.
      const counts017 = readFileSync(
        new URL('../../src/db/migrations/017_suggestion_key_counts.sql', import.meta.url),
        'utf8',
      )
      const update = counts017.slice(counts017.indexOf('UPDATE suggestion_keys k'))
      await own.db.exec(update.slice(0, update.indexOf(';') + 1))
      assert.deepEqual(texts(await suggest({ q: '美丽' }, own.app)), ['title:美丽心灵'])
      assert.deepEqual(texts(await suggest({ q: 'PYTHON' }, own.app)), ['title:Python Cookbook'])
      const counts = await own.db.query<{ kind: string; text: string; listings: number }>(
        `SELECT kind::text AS kind, text, listings FROM suggestion_texts ORDER BY kind, text COLLATE "C"`,
      )
      assert.deepEqual(counts.rows, [
        { kind: 'a', text: '某某', listings: 3 },
        { kind: 'g', text: '传记', listings: 3 },
        { kind: 't', text: 'Python Cookbook', listings: 1 },
        { kind: 't', text: '美丽心灵', listings: 2 },
      ])
      // Pinyin keys come at the next start, which the migration asked for; then it is not asked again.
      assert.deepEqual((await suggest({ q: 'meili' }, own.app)).suggestions, [])
      assert.equal(await completeSuggestionKeys(own.db), 4)
      assert.deepEqual(texts(await suggest({ q: 'meili' }, own.app)), ['title:美丽心灵'])
      assert.equal(await completeSuggestionKeys(own.db), undefined)
    } finally {
      await own.close()
    }
  })

  test('the backfill adds the pinyin keys of texts listed before the keys existed', async () => {
    await t.db.query(`DELETE FROM suggestion_keys WHERE key = 'meilixinling'`)
    assert.ok(!texts(await suggest({ q: 'meili' })).includes('title:美丽心灵'))
    const n = await backfillSuggestionKeys(t.db)
    const all = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM suggestion_texts')
    assert.equal(n, all.rows[0]?.n)
    assert.ok(texts(await suggest({ q: 'meili' })).includes('title:美丽心灵'))
  })
})
