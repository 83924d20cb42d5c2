/**
 * Pinyin with ü (src/search/pinyin.ts): titles and authors store it as v (绿色 → lvse), and a query
 * reaches that spelling however it writes ü (v, ü, ǜ, u:, yu, tone numbers, lue for lüe), while lu
 * and nu stay syllables of their own (陆地 ludi is not 绿地 lvdi). Through GET /search/books, on
 * PGlite or on PostgreSQL when DATABASE_URL is set; and the rebuild of listings indexed when ü was
 * stored as u.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { reindexSearchText } from '../../src/repositories/search-text.ts'
import { SEARCH_TEXT_VERSION } from '../../src/search/lexemes.ts'
import {
  pinyinLexemes,
  queryPinyinWord,
  syllablesOf,
  umlautAsV,
  withoutToneNumbers,
} from '../../src/search/pinyin.ts'
import { segmenter } from '../../src/search/segmenter.ts'
import { queryPrefixes } from '../../src/search/suggest.ts'
import { addBook, bookInfo, call, newStore, newUser, startApp, type TestApp } from '../support/helpers.ts'
import { search } from '../support/search-fixtures.ts'
import { mergeQueue } from '../support/search-index.ts'

describe('ü in pinyin, stored and typed', () => {
  test('titles and authors store ü as v; after j, q, x and y it stays u', () => {
    assert.deepEqual(
      pinyinLexemes(['绿色', '女人', '战略', '虐待', '陆地', '奴性', '学生', '去年', '吕思勉']),
      ['lvse', 'nvren', 'zhanlve', 'nvedai', 'ludi', 'nuxing', 'xuesheng', 'qunian', 'lvsimian'],
    )
  })

  test('a query word spelt with ü after l or n takes v before folding, in every way ü is written', () => {
    for (const q of ['lüse', 'LÜSE', 'lǜsè', 'lu\u0308\u0300se\u0300', 'lü4se4', 'lu:4se4'])
      assert.equal(
        umlautAsV(q)
          .normalize('NFC')
          .toLowerCase()
          .replace(/[\u0300-\u036f]/g, '')[1],
        'v',
        q,
      )
    assert.deepEqual(segmenter().queryWords('Lǜsè jīngjì'), ['lvse', 'jingji'])
    assert.deepEqual(segmenter().queryWords('nü3ren2'), ['nv3ren2'])
    assert.deepEqual(segmenter().queryWords('战略 zhanlüe'), ['战略', 'zhanlve'])
    // Other words with ü fold as always: they are not whole syllables with ü read as v.
    assert.deepEqual(segmenter().queryWords('Müller Lüneburg über'), ['muller', 'luneburg', 'uber'])
    // After j, q, x and y, ü is u in pinyin, and folding makes it so.
    assert.deepEqual(segmenter().queryWords('xüesheng qüe'), ['xuesheng', 'que'])
    // Nothing to do: the text comes back as it was.
    assert.equal(umlautAsV('luxian café'), 'luxian café')
  })

  test('typed spellings of ü become the stored one; lu and nu are left alone', () => {
    assert.equal(withoutToneNumbers('lvse'), 'lvse')
    assert.equal(withoutToneNumbers('lv4se4'), 'lvse')
    assert.equal(withoutToneNumbers('zhanlue'), 'zhanlve')
    assert.equal(withoutToneNumbers('zhan4lue4'), 'zhanlve')
    assert.equal(withoutToneNumbers('nuedai'), 'nvedai')
    assert.equal(withoutToneNumbers('lyuxing'), 'lvxing')
    assert.equal(withoutToneNumbers('ludi'), 'ludi')
    assert.equal(withoutToneNumbers('nuxing'), 'nuxing')
    // A split prefers the syllables as written to another spelling of one (lu en, not lue n).
    assert.deepEqual(syllablesOf('luen'), ['lu', 'en'])
    assert.deepEqual(syllablesOf('lianyu'), ['lian', 'yu'])
    assert.deepEqual(queryPinyinWord(['lue', 'duo']), { text: 'lveduo', parts: ['lve', 'duo'] })
    assert.deepEqual(queryPinyinWord(['lv', 'se', 'jing', 'ji']), {
      text: 'lvsejingji',
      parts: ['lvse', 'jingji'],
    })
    assert.deepEqual(queryPinyinWord(['zhanluejingji'])?.parts, ['zhanlve', 'jingji'])
    assert.deepEqual(queryPinyinWord(['lu', 'di', 'hai', 'yang']), {
      text: 'ludihaiyang',
      parts: ['ludi', 'haiyang'],
    })
  })
})

describe('search by pinyin with ü', () => {
  let t: TestApp
  let store: string
  /**
   * The listings a query matches as written, without typo matches (a word of five letters or more also
   * matches words one edit away, nvxing the nuxing of 奴性, scored below 0 after every exact match).
   */
  const ids = async (params: Record<string, string>) =>
    (await search(t.app, { ...params, page_size: 50 })).books
      .filter((b) => b.score >= 0)
      .map((b) => b.book_id)
      .sort()

  before(async () => {
    t = await startApp()
    const seller = await newUser(t.app, 'seller')
    store = await newStore(t.app, seller)
    const books: [string, Record<string, unknown>][] = [
      ['green', { title: '绿色经济' }],
      ['greenland', { title: '绿地与城市' }],
      ['land', { title: '陆地与海洋' }],
      ['women', { title: '女性与文学' }],
      ['servility', { title: '论奴性' }],
      ['strategy', { title: '战略管理' }],
      ['abuse', { title: '虐待与创伤' }],
      ['history', { title: '中国通史', author: '吕思勉' }],
      ['latin', { title: 'Lüneburg und Müller' }],
    ]
    for (const [id, info] of books) await addBook(t.app, seller, store, bookInfo(id, 1000, info))
  })
  after(() => t.close())

  test('绿色 is found by lvse, lüse, lǜsè, tone numbers, u: and yu, alone or with its neighbour', async () => {
    for (const q of [
      'lvse',
      'lüse',
      'LÜSE',
      'lǜsè',
      'lv4se4',
      'lü4sè',
      'lu:4se4',
      'lyuse',
      'lv se',
      'lüse jingji',
    ])
      assert.deepEqual(await ids({ q, scope: 'title' }), ['green'], q)
  })

  test('lu and lü are two syllables: 陆地 by ludi, 绿地 by lvdi or lüdi', async () => {
    assert.deepEqual(await ids({ q: 'ludi' }), ['land'])
    assert.deepEqual(await ids({ q: 'lu di hai yang' }), ['land'])
    for (const q of ['lvdi', 'lüdi', 'lv4di4', 'lü di']) assert.deepEqual(await ids({ q }), ['greenland'], q)
    assert.deepEqual(await ids({ q: 'luse' }), [])
  })

  test('nü (女) and nu (奴) likewise', async () => {
    for (const q of ['nvxing', 'nüxing', 'nü3xing4', 'nyuxing', 'nv xing'])
      assert.deepEqual(await ids({ q }), ['women'], q)
    assert.deepEqual(await ids({ q: 'nuxing' }), ['servility'])
    // nuxing and nvxing are one edit apart: each finds the other as a typo match, after its own.
    for (const [q, own, other] of [
      ['nüxing', 'women', 'servility'],
      ['nuxing', 'servility', 'women'],
    ] as const) {
      const page = await search(t.app, { q })
      assert.deepEqual(
        page.books.map((b) => [b.book_id, b.score >= 0]),
        [
          [own, true],
          [other, false],
        ],
        q,
      )
    }
  })

  test('lüe and nüe are found typed lve, lüe or lue (no syllable lue with u exists)', async () => {
    for (const q of ['zhanlve', 'zhanlüe', 'zhanlue', 'zhan4lue4', 'zhan lüe', 'zhanlüe guanli'])
      assert.deepEqual(await ids({ q, scope: 'title' }), ['strategy'], q)
    for (const q of ['nvedai', 'nüèdài', 'nuedai']) assert.deepEqual(await ids({ q }), ['abuse'], q)
  })

  test('the search box completes 绿色 from lv, lü and lu alike (its keys spell ü as u)', async () => {
    assert.deepEqual(queryPrefixes('lvs'), ['lvs', 'lus'])
    assert.deepEqual(queryPrefixes('nv xing'), ['nv xing', 'nuxing'])
    for (const q of ['lvse', 'lüse', 'luse', 'lv se jing']) {
      const r = await call(t.app, 'GET', `/search/suggest?${new URLSearchParams({ q })}`)
      assert.equal(r.status, 200, q)
      assert.deepEqual(
        (r.body.suggestions as { kind: string; text: string }[]).map((x) => `${x.kind}:${x.text}`),
        ['title:绿色经济'],
        q,
      )
    }
  })

  test('an author by pinyin with ü, and Latin words with ü as before', async () => {
    for (const q of ['lvsimian', 'lü simian', 'lyu si mian'])
      assert.deepEqual(await ids({ q, scope: 'author' }), ['history'], q)
    assert.deepEqual(await ids({ q: 'Lüneburg' }), ['latin'])
    assert.deepEqual(await ids({ q: 'muller' }), ['latin'])
  })
})

describe('listings indexed when ü was stored as u', () => {
  let t: TestApp

  before(async () => {
    t = await startApp()
    const seller = await newUser(t.app, 'seller')
    const store = await newStore(t.app, seller)
    await addBook(t.app, seller, store, bookInfo('green', 1000, { title: '绿色经济' }))
  })
  after(() => t.close())

  test('the start-up rebuild stores v, and the old spelling no longer finds them', async () => {
    // As version 2 stored the title: ü folded to u.
    await t.db.query(
      `UPDATE listings SET search_vec = '''绿色'':1A ''经济'':2A ''luse'':3A ''jingji'':4A', author_tags_vec = ''`,
    )
    await t.db.query('UPDATE search_text_state SET version = 2, rebuilding = NULL, rebuilt_to = 0')
    assert.equal(await reindexSearchText(t.db), 1)
    const state = await t.db.query('SELECT version FROM search_text_state')
    assert.deepEqual(state.rows, [{ version: SEARCH_TEXT_VERSION }])
    assert.equal((await search(t.app, { q: 'lüse' })).total, 1)
    assert.equal((await search(t.app, { q: 'luse' })).total, 0)
    // The listing may still be queued for the index (migration 019): merged before its counts are read.
    await mergeQueue(t.db)
    const terms = await t.db.query<{ term: string }>(
      `SELECT term FROM search_terms WHERE term IN ('lvse', 'luse') AND listings > 0 ORDER BY term`,
    )
    assert.deepEqual(
      terms.rows.map((r) => r.term),
      ['lvse'],
    )
  })
})
