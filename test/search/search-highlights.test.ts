/**
 * Highlights of search hits: marks in the title and an excerpt of the best-matching other field,
 * as UTF-16 offsets into plain text (src/search/highlight.ts), and as the search route returns them.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import fc from 'fast-check'
import {
  excerpt,
  findMarks,
  type HighlightWord,
  highlight,
  type Mark,
  normaliseWithOffsets,
  SNIPPET_CHARS,
} from '../../src/search/highlight.ts'
import { parseScope, textQuery } from '../../src/search/query.ts'
import { normalise, segmenter } from '../../src/search/segmenter.ts'
import { addBook, newStore, newUser, startApp, type TestApp } from '../support/helpers.ts'
import { search } from '../support/search-fixtures.ts'

const words = (...ws: string[]): HighlightWord[] => ws.map((text) => ({ text, parts: null }))
/** The query's words as the search takes them. */
const queryTerms = (q: string) => textQuery(segmenter(), q, parseScope(undefined) as Set<never>).terms
const marked = (text: string, marks: readonly (readonly number[])[]) =>
  marks.map(([s, e]) => text.slice(s, e))

describe('marks in a text', () => {
  test('Chinese words are found inside longer runs of characters', () => {
    const title = '美丽心灵（第二版）'
    const { marks } = findMarks(title, queryTerms('心灵'))
    assert.deepEqual(marks, [[2, 4]])
    assert.deepEqual(marked(title, marks), ['心灵'])
  })

  test('Latin words match in any case and only as whole words', () => {
    const title = 'Python Cookbook: PYTHONIC python'
    const { marks } = findMarks(title, queryTerms('python'))
    assert.deepEqual(marked(title, marks), ['Python', 'python'])
  })

  test('full-width letters match their half-width query, with offsets into the original text', () => {
    const title = '学习Ｐｙｔｈｏｎ编程'
    const { marks } = findMarks(title, queryTerms('python'))
    assert.deepEqual(marks, [[2, 8]])
    assert.equal(title.slice(2, 8), 'Ｐｙｔｈｏｎ')
  })

  test('offsets count UTF-16 code units: an emoji before a match counts two', () => {
    const title = '😀😀 心灵 🎉Python'
    const { marks } = findMarks(title, queryTerms('心灵 python'))
    assert.deepEqual(marks, [
      [5, 7],
      [10, 16],
    ])
    assert.deepEqual(marked(title, marks), ['心灵', 'Python'])
  })

  test('a character folded into several (ﬁ → fi) is marked whole', () => {
    const title = 'The ﬁre'
    assert.deepEqual(marked(title, findMarks(title, words('fire')).marks), ['ﬁre'])
  })

  test('a word found only through its parts marks the parts', () => {
    const text = '人民的共和国'
    const { marks, found } = findMarks(text, [{ text: '人民共和国', parts: ['人民', '共和', '共和国'] }])
    assert.equal(found, 1)
    assert.deepEqual(marked(text, marks), ['人民', '共和国'])
  })

  test('a short query marks itself inside title words (the substring rule)', () => {
    const hl = highlight(
      { title: '女生日记', author: null, tags: [], book_intro: null, content: null },
      queryTerms('生日'),
      '生日',
    )
    assert.deepEqual(hl.title, [[1, 3]])
  })
})

describe('the excerpt', () => {
  const long = `${'前'.repeat(200)}心灵${'后'.repeat(200)}`

  test('is at most 120 characters, centred on the first match, with ellipses where cut', () => {
    const hl = highlight(
      { title: 'x', author: null, tags: [], book_intro: long, content: null },
      queryTerms('心灵'),
    )
    const s = hl.snippet
    assert.ok(s)
    assert.equal(s.field, 'book_intro')
    assert.equal(s.text.length, SNIPPET_CHARS)
    assert.ok(s.text.startsWith('…') && s.text.endsWith('…'))
    assert.deepEqual(marked(s.text, s.marks), ['心灵'])
    const [start] = s.marks[0] as Mark
    assert.ok(Math.abs(start - SNIPPET_CHARS / 2) <= 2, `match near the middle, at ${start}`)
  })

  test('a match near either end keeps that end and cuts the other', () => {
    const atStart = excerpt(`心灵${'后'.repeat(300)}`, [[0, 2]])
    assert.equal(atStart.text.length, SNIPPET_CHARS)
    assert.ok(atStart.text.startsWith('心灵') && atStart.text.endsWith('…'))
    assert.deepEqual(atStart.marks, [[0, 2]])
    const text = `${'前'.repeat(300)}心灵`
    const atEnd = excerpt(text, [[300, 302]])
    assert.ok(atEnd.text.startsWith('…') && atEnd.text.endsWith('心灵'))
    assert.deepEqual(marked(atEnd.text, atEnd.marks), ['心灵'])
  })

  test('never splits a surrogate pair, and shows line breaks as spaces', () => {
    for (let pad = 0; pad < 4; pad++) {
      const text = `${'a'.repeat(pad)}${'😀'.repeat(100)}\nPython\n${'😀'.repeat(100)}`
      const e = excerpt(text, findMarks(text, words('python')).marks)
      assert.ok(e.text.length <= SNIPPET_CHARS)
      assert.ok(!/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(e.text))
      assert.ok(!e.text.includes('\n'))
      assert.deepEqual(marked(e.text, e.marks), ['Python'])
    }
  })

  test('comes from the field holding most words; a tie goes to author, tags, intro, content in order', () => {
    const source = {
      title: '无关',
      author: '张三',
      tags: ['心灵', '传记'],
      book_intro: '心灵与数学',
      content: '数学 心灵 python',
    }
    assert.equal(highlight(source, queryTerms('心灵'))?.snippet?.field, 'tags')
    assert.equal(highlight(source, queryTerms('心灵 数学'))?.snippet?.field, 'book_intro')
    assert.equal(highlight(source, queryTerms('心灵 数学 python'))?.snippet?.field, 'content')
    assert.deepEqual(highlight(source, queryTerms('火车')), { title: [], snippet: null })
    const tags = highlight(source, queryTerms('传记'))?.snippet
    assert.deepEqual(tags, { field: 'tags', text: '心灵, 传记', marks: [[4, 6]] })
  })
})

/** normaliseWithOffsets by its definition: each character with its marks normalised on its own. */
function normaliseByClusters(text: string): { folded: string; origin: number[] } {
  let folded = ''
  const origin: number[] = []
  for (const m of text.matchAll(/\P{M}\p{M}*|\p{M}+/gsu)) {
    const piece = normalise(m[0])
    for (let i = 0; i < piece.length; i++) origin.push(m.index)
    folded += piece
  }
  origin.push(text.length)
  return { folded, origin }
}

test('property: the normalised text and its offsets are those of normalising each character with its marks', () => {
  const pieces = [
    '心',
    '靈',
    'Ａ',
    'Σ',
    'ﬁ',
    'e\u0301',
    '\u0301',
    '\u0301\u0308',
    '😀',
    '𝐀',
    '\u{1D165}',
    '\ud800',
    '\udc00',
    'ß',
    'İ',
    '한',
    '\u1100\u1161',
    'x',
    ' ',
  ]
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 40 }), (parts) => {
      const text = parts.join('')
      const got = normaliseWithOffsets(text)
      const want = normaliseByClusters(text)
      assert.equal(got.folded, want.folded)
      assert.deepEqual([...got.origin], want.origin)
    }),
    { numRuns: 500 },
  )
  // Longer than the scratch space it starts with, so that it grows.
  const long = '美丽心灵，ＡＢＣ e\u0301 '.repeat(400)
  assert.deepEqual([...normaliseWithOffsets(long).origin], normaliseByClusters(long).origin)
  assert.equal(normaliseWithOffsets(long).folded, normaliseByClusters(long).folded)
})

test('property: every mark lies inside its text and covers query words', () => {
  const pieces = [
    '心灵',
    '美丽',
    '数学',
    'Python',
    'PYTHON',
    'ｐｙｔｈｏｎ',
    'pythonic',
    '😀',
    ' ',
    '，',
    'é',
    'e\u0301',
    'ﬁre',
    'x',
  ]
  const wordPool = ['心灵', '数学', 'python', 'é', 'fire', '灵', '丽心']
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(...pieces), { maxLength: 60 }),
      fc.uniqueArray(fc.constantFrom(...wordPool), { minLength: 1, maxLength: 3 }),
      (parts, ws) => {
        const text = parts.join('')
        const { marks } = findMarks(text, words(...ws))
        const folded = ws.map(normalise)
        let last = -1
        for (const [s, e] of marks) {
          assert.ok(0 <= s && s < e && e <= text.length, `mark ${s}-${e} inside ${text.length}`)
          assert.ok(s >= last, 'marks in order, not overlapping')
          last = e
          const covered = normalise(text.slice(s, e))
          assert.ok(
            folded.some((w) => covered.startsWith(w)) && folded.some((w) => covered.endsWith(w)),
            `"${covered}" is made of query words ${JSON.stringify(ws)}`,
          )
        }
        const e = excerpt(text, marks)
        assert.ok(e.text.length <= SNIPPET_CHARS)
        for (const [s, end] of e.marks) assert.ok(0 <= s && s < end && end <= e.text.length)
      },
    ),
    { numRuns: 500 },
  )
})

describe('search hits carry highlights', () => {
  let t: TestApp
  let store: string
  before(async () => {
    t = await startApp()
    const seller = await newUser(t.app, 'seller')
    store = await newStore(t.app, seller)
    await addBook(t.app, seller, store, {
      id: 'mind',
      title: '美丽心灵',
      author: '西尔维娅·娜萨',
      tags: ['传记'],
      book_intro: '数学家纳什的一生。',
      content: `${'序'.repeat(5000)}纳什在普林斯顿`,
      price: 3879,
    })
    await addBook(t.app, seller, store, {
      id: 'html',
      title: '<img src=x onerror=alert(1)> Python',
      tags: ['<b>tag</b>'],
      price: 100,
    })
  })
  after(() => t.close())

  test('title marks and the best other field, as offsets into plain text', async () => {
    const p = await search(t.app, { q: '心灵 纳什' })
    assert.equal(p.status, 200)
    const hit = p.books[0] as (typeof p.books)[number]
    assert.equal(hit.book_id, 'mind')
    assert.deepEqual(hit.highlights, {
      title: [[2, 4]],
      snippet: { field: 'book_intro', text: '数学家纳什的一生。', marks: [[3, 5]] },
    })
  })

  test('an excerpt deep in the content is centred on the match', async () => {
    const p = await search(t.app, { q: '普林斯顿' })
    const s = p.books[0]?.highlights.snippet
    assert.equal(s?.field, 'content')
    assert.ok(s && s.text.length <= SNIPPET_CHARS && s.text.startsWith('…'))
    assert.deepEqual(s && marked(s.text, s.marks), ['普林斯顿'])
  })

  test('text comes back as it is stored, never as HTML', async () => {
    const p = await search(t.app, { q: 'python' })
    const hit = p.books[0] as (typeof p.books)[number]
    assert.equal(hit.title, '<img src=x onerror=alert(1)> Python')
    assert.deepEqual(marked(hit.title, hit.highlights.title), ['Python'])
  })

  test('without q, hits carry no marks and no snippet', async () => {
    const p = await search(t.app, { store_id: store })
    assert.equal(p.books.length, 2)
    for (const b of p.books) assert.deepEqual(b.highlights, { title: [], snippet: null })
  })
})
