import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type CourseBook, CourseDb } from '../../src/catalog/course-db.ts'
import { addBook, call, newStore, newUser, startApp, type TestApp } from '../support/helpers.ts'
import { allPages, ids, search } from '../support/search-fixtures.ts'

// The course's sample catalogue (100 books), next to the project folder.
const BOOK_DB = fileURLToPath(new URL('../../../shared/data/book.db', import.meta.url))
const skip = existsSync(BOOK_DB) ? false : `the course catalogue ../shared/data/book.db is not there`

describe('search over the course catalogue', { skip }, () => {
  let t: TestApp
  let store: string
  let books: CourseBook[]

  before(async () => {
    const course = new CourseDb(BOOK_DB)
    try {
      books = [...course.batches(50)].flatMap((b) => b.books)
    } finally {
      course.close()
    }
    t = await startApp()
    const seller = await newUser(t.app, 'seller')
    store = await newStore(t.app, seller)
    for (const b of books) {
      const { pictures, ...info } = b
      await addBook(t.app, seller, store, { ...info, pictures: pictures.map((p) => p.toString('base64')) }, 5)
    }
  })
  after(() => t?.close())

  const titled = (s: string) => books.filter((b) => b.title.includes(s)).map((b) => b.id)

  test('all 100 books are listed and page through', async () => {
    assert.equal(books.length, 100)
    const pages = await allPages(t.app, { store_id: store }, 7)
    assert.equal(pages.length, 15)
    assert.equal(pages.at(-1)?.books.length, 2)
    assert.equal(new Set(pages.flatMap(ids)).size, 100)
  })

  test('an exact title comes first', async () => {
    assert.equal(ids(await search(t.app, { q: '美丽心灵' }))[0], '1000067')
    assert.equal(ids(await search(t.app, { q: '红楼梦' }))[0], '1007305')
    assert.equal(ids(await search(t.app, { q: '三国演义' }))[0], '1001924')
  })

  test('a word of several titles finds them all, title matches before the rest', async () => {
    for (const word of ['三毛', '流浪记', '回忆录', '日记']) {
      const expected = titled(word)
      assert.ok(expected.length >= 2, word)
      const p = await search(t.app, { q: word, page_size: 100 })
      assert.deepEqual(new Set(ids(p).slice(0, expected.length)), new Set(expected), word)
      assert.ok(
        p.books.slice(0, expected.length).every((b) => b.score >= 2),
        word,
      )
    }
  })

  test('a single character finds every title containing it', async () => {
    const expected = titled('红')
    assert.ok(expected.length >= 4)
    const p = await search(t.app, { q: '红', scope: 'title', page_size: 100 })
    assert.deepEqual(new Set(ids(p)), new Set(expected))
  })

  test('tag filter equals the catalogue’s tags', async () => {
    for (const tag of ['漫画', '儿童文学', '历史']) {
      const expected = books.filter((b) => b.tags.includes(tag)).map((b) => b.id)
      const pages = await allPages(t.app, { tag }, 10)
      assert.deepEqual(new Set(pages.flatMap(ids)), new Set(expected), tag)
    }
  })

  test('author scope finds the author’s books only', async () => {
    const expected = books.filter((b) => b.author?.includes('杨红樱')).map((b) => b.id)
    assert.equal(expected.length, 4)
    const p = await search(t.app, { q: '杨红樱', scope: 'author' })
    assert.deepEqual(new Set(ids(p)), new Set(expected))
    // As a tag, 杨红樱 also labels a book she did not write.
    const tagged = books.filter((b) => b.tags.some((x) => x.includes('杨红樱'))).map((b) => b.id)
    const pt = await search(t.app, { q: '杨红樱', scope: 'tags' })
    assert.deepEqual(new Set(ids(pt)), new Set(tagged))
  })

  test('two words must both match', async () => {
    const p = await search(t.app, { q: '漫画 张乐平', page_size: 100 })
    assert.deepEqual(new Set(ids(p)), new Set(['1000134', '1009273']))
  })

  test('pub_year_desc orders the free-text years', async () => {
    const pages = await allPages(t.app, { sort: 'pub_year_desc' }, 50)
    const years = pages.flatMap((p) => p.books.map((b) => Number(/^\d{4}/.exec(b.pub_year ?? '')?.[0] ?? 0)))
    assert.deepEqual(
      years,
      [...years].sort((x, y) => y - x),
    )
    assert.equal(years[0], 2013)
  })

  test('a listing’s picture is served back byte for byte as JPEG', async () => {
    const book = books.find((b) => b.pictures.length > 0) as CourseBook
    const l = await call(t.app, 'GET', `/stores/${store}/books/${book.id}`)
    assert.equal(l.status, 200)
    const urls = l.body.pictures as string[]
    assert.equal(urls.length, 1)
    const res = await t.app.inject({ method: 'GET', url: urls[0] as string })
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['content-type'], 'image/jpeg')
    assert.ok(res.rawPayload.equals(book.pictures[0] as Buffer))
  })
})
