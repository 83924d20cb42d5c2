import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { addBook, newStore, newUser, post, startApp, type TestApp, type User } from '../support/helpers.ts'
import { ids, search } from '../support/search-fixtures.ts'

let t: TestApp
let seller: User
let sa: string
let sb: string

// A hand-made catalogue whose expected results are known exactly.
const A_BOOKS = [
  {
    id: 'a1',
    title: '美丽心灵',
    author: '[美] 西尔维娅·娜萨',
    tags: ['传记', '数学'],
    book_intro: '数学家纳什的一生。',
    price: 3879,
    pub_year: '2002-1',
  },
  {
    id: 'a2',
    title: '心理学与生活',
    author: '理查德·格里格',
    tags: ['心理学', '心灵'],
    book_intro: '一本经典教材。',
    price: 5000,
    pub_year: '2003-10',
  },
  {
    id: 'a3',
    title: '数学之美',
    author: '吴军',
    tags: ['计算机', '数学'],
    book_intro: '关于心灵与算法的随想。',
    content: '第一章 心灵',
    price: 4500,
    pub_year: '2012',
  },
  {
    id: 'a4',
    title: 'Python Cookbook',
    author: 'David Beazley',
    tags: ['编程', 'Python'],
    price: 8900,
    pub_year: '2015-5',
  },
  { id: 'a5', title: '中华人民共和国史', author: '某某', tags: ['历史'], price: 2000, pub_year: '1998年' },
  { id: 'a6', title: '女生日记', author: '杨红樱', tags: ['儿童文学', '童年'], price: 1500, pub_year: null },
]
const B_BOOKS = [
  { id: 'b1', title: '美丽心灵（第二版）', tags: ['传记'], price: 4000, pub_year: '2010-05' },
  { id: 'b2', title: '心灵捕手', author: '张三', tags: ['电影'], price: 2500 },
]

before(async () => {
  t = await startApp()
  seller = await newUser(t.app, 'seller')
  sa = await newStore(t.app, seller)
  sb = await newStore(t.app, seller)
  for (const b of A_BOOKS) await addBook(t.app, seller, sa, b, b.id === 'a2' ? 0 : 5)
  for (const b of B_BOOKS) await addBook(t.app, seller, sb, b, 3)
})
after(() => t.close())

describe('ranking', () => {
  test('title matches rank above tag matches above intro/content matches', async () => {
    const p = await search(t.app, { q: '心灵' })
    assert.equal(p.status, 200)
    assert.equal(p.total, 5)
    assert.deepEqual(new Set(ids(p).slice(0, 3)), new Set(['a1', 'b1', 'b2']))
    assert.deepEqual(ids(p).slice(3), ['a2', 'a3'])
    for (let i = 1; i < p.books.length; i++)
      assert.ok((p.books[i - 1] as { score: number }).score >= (p.books[i] as { score: number }).score)
    assert.ok(p.books.slice(0, 3).every((b) => b.score >= 2))
    assert.ok((p.books[3]?.score ?? 0) >= 1 && (p.books[3]?.score ?? 0) < 2)
    assert.ok((p.books[4]?.score ?? 0) < 1)
  })

  test('several words rank by tier, then by how many are in the title or else author/tags, then newest', async (ctx) => {
    // A catalogue of its own, so that the site-wide listings of the other tests stay as they are.
    const own = await startApp()
    ctx.after(() => own.close())
    const owner = await newUser(own.app, 'seller')
    const store = await newStore(own.app, owner)
    const book = (id: string, fields: Record<string, unknown>) =>
      addBook(own.app, owner, store, { id, title: '无关', price: 1000, ...fields })
    await book('both-title', { title: '潜水艇与灯塔' }) // tier 2, levels 2 + 2
    await book('tags-old', { tags: ['潜水艇', '灯塔'] }) // tier 1, levels 1 + 1
    await book('title-and-tag', { title: '潜水艇日记', tags: ['灯塔'] }) // tier 0, levels 2 + 1
    await book('title-and-content', { title: '灯塔往事', content: '潜水艇' }) // tier 0, levels 2 + 0
    await book('intro', { book_intro: '潜水艇和灯塔' }) // tier 0, levels 0 + 0
    await book('tags-new', { tags: ['灯塔', '潜水艇'] }) // as tags-old, added later
    const expected = ['both-title', 'tags-new', 'tags-old', 'title-and-tag', 'title-and-content', 'intro']
    const scores = [2 + 4 / 5, 1 + 2 / 5, 1 + 2 / 5, 3 / 5, 2 / 5, 0]
    // Site-wide without filters the bitmaps answer; a price filter or a store sends the same query to
    // the tsvector statement.
    const ways: Record<string, string | number>[] = [{}, { min_price: 0 }, { store_id: store }]
    for (const extra of ways) {
      const p = await search(own.app, { q: '潜水艇 灯塔', ...extra })
      assert.deepEqual(ids(p), expected, JSON.stringify(extra))
      assert.deepEqual(
        p.books.map((b) => b.score),
        scores,
      )
    }
    // In the tag scope only tags count: every match is in tier 1 with both words at level 1.
    const tagged = await search(own.app, { q: '潜水艇 灯塔', scope: 'tags' })
    assert.deepEqual(ids(tagged), ['tags-new', 'tags-old'])
    assert.deepEqual(
      tagged.books.map((b) => b.score),
      [1 + 2 / 5, 1 + 2 / 5],
    )
  })

  test('a hit carries the listing fields of the contract', async () => {
    const p = await search(t.app, { q: 'cookbook' })
    assert.deepEqual(p.books, [
      {
        store_id: sa,
        book_id: 'a4',
        title: 'Python Cookbook',
        author: 'David Beazley',
        publisher: null,
        pub_year: '2015-5',
        price: 8900,
        stock_level: 5,
        tags: ['编程', 'Python'],
        score: p.books[0]?.score,
        rating_average: null,
        rating_count: 0,
        highlights: { title: [[7, 15]], snippet: null },
      },
    ])
    assert.equal(p.page, 1)
    assert.equal(p.page_size, 20)
  })
})

describe('site and store', () => {
  test('store_id limits the search to one store', async () => {
    const p = await search(t.app, { q: '心灵', store_id: sb })
    assert.deepEqual(new Set(ids(p)), new Set(['b1', 'b2']))
    assert.equal(p.total, 2)
    assert.ok(p.books.every((b) => b.store_id === sb))
  })

  test('an unknown store is 513', async () => {
    const p = await search(t.app, { q: '心灵', store_id: 'no-such-store' })
    assert.equal(p.status, 513)
  })

  test('without q and filters the whole store is listed, newest first', async () => {
    const p = await search(t.app, { store_id: sa })
    assert.equal(p.total, A_BOOKS.length)
    assert.deepEqual(ids(p), A_BOOKS.map((b) => b.id).reverse())
    assert.ok(p.books.every((b) => b.score === 0))
  })
})

describe('scope', () => {
  const cases: [string, string, string[]][] = [
    ['title', '心灵', ['a1', 'b1', 'b2']],
    ['tags', '心灵', ['a2']],
    ['book_intro', '心灵', ['a3']],
    ['content', '心灵', ['a3']],
    ['book_intro,content', '心灵', ['a3']],
    ['title,tags', '心灵', ['a1', 'a2', 'b1', 'b2']],
    ['author', '杨红樱', ['a6']],
    ['tags', '杨红樱', []],
    ['author', '数学', []],
    ['tags', '数学', ['a1', 'a3']],
    ['author,book_intro', '数学', ['a1']],
    ['author', 'beazley', ['a4']],
    [' title , author ', 'python', ['a4']],
  ]
  for (const [scope, q, expected] of cases)
    test(`scope=${scope} q=${q}`, async () => {
      const p = await search(t.app, { q, scope })
      assert.equal(p.status, 200, p.message)
      assert.deepEqual(new Set(ids(p)), new Set(expected))
      assert.equal(p.total, expected.length)
    })

  test('an unknown scope name is 400 naming scope', async () => {
    const p = await search(t.app, { q: '心灵', scope: 'title,isbn' })
    assert.equal(p.status, 400)
    assert.match(p.message, /scope/)
  })
})

describe('segmentation', () => {
  const cases: [string, string[]][] = [
    ['python', ['a4']],
    ['PYTHON', ['a4']],
    ['Ｐｙｔｈｏｎ', ['a4']],
    ['人民共和国', ['a5']],
    ['中华人民共和国', ['a5']],
    // 生日 is a dictionary word but not one of 女生日记's words: short queries match inside titles.
    ['生日', ['a6']],
    ['捕', ['b2']],
    ['灵捕', ['b2']],
    ['美丽 心灵', ['a1', 'b1']],
    ['美丽心灵', ['a1', 'b1']],
    ['美丽 编程', []],
    ['纳什', ['a1']],
    ['不存在的书名', []],
  ]
  for (const [q, expected] of cases)
    test(`q=${q}`, async () => {
      const p = await search(t.app, { q })
      assert.equal(p.status, 200, p.message)
      assert.deepEqual(new Set(ids(p)), new Set(expected))
    })

  test('query syntax characters are plain text, never an error', async () => {
    for (const q of ["'", '\\', "'&|!():*<->", 'a & b', '!python', '(((', '！！', '   ', '心灵:*', "it's"]) {
      const p = await search(t.app, { q })
      assert.equal(p.status, 200, `${q}: ${p.message}`)
    }
    assert.deepEqual(ids(await search(t.app, { q: '!python' })), ['a4'])
    assert.equal((await search(t.app, { q: '！！' })).total, 0)
  })

  test('a blank q browses like no q', async () => {
    const p = await search(t.app, { q: '  ', store_id: sb })
    assert.equal(p.total, 2)
  })
})

describe('filters', () => {
  test('tag is exact and repeatable (all must be present)', async () => {
    assert.deepEqual(new Set(ids(await search(t.app, { tag: '数学' }))), new Set(['a1', 'a3']))
    assert.deepEqual(ids(await search(t.app, { tag: ['数学', '计算机'] })), ['a3'])
    assert.deepEqual(ids(await search(t.app, { tag: '数' })), [])
    assert.deepEqual(ids(await search(t.app, { tag: ['数学', '电影'] })), [])
  })

  test('author matches a part of the author, in any case', async () => {
    assert.deepEqual(ids(await search(t.app, { author: 'BEAZ' })), ['a4'])
    assert.deepEqual(ids(await search(t.app, { author: '红樱' })), ['a6'])
  })

  test('price range and in_stock', async () => {
    const p = await search(t.app, { min_price: 2500, max_price: 4500, sort: 'price_asc' })
    assert.deepEqual(ids(p), ['b2', 'a1', 'b1', 'a3'])
    const s = await search(t.app, { q: '心理学', in_stock: true })
    assert.deepEqual(ids(s), [])
    const all = await search(t.app, { q: '心理学', in_stock: false })
    assert.deepEqual(ids(all), ['a2'])
  })

  test('filters combine with keywords and apply before paging', async () => {
    const p = await search(t.app, { q: '心灵', tag: '传记', page_size: 1 })
    assert.equal(p.total, 2)
    assert.equal(p.books.length, 1)
    const p2 = await search(t.app, { q: '心灵', tag: '传记', page_size: 1, page: 2 })
    assert.deepEqual(new Set([...ids(p), ...ids(p2)]), new Set(['a1', 'b1']))
  })
})

describe('sorting', () => {
  test('price ascending and descending', async () => {
    const up = await search(t.app, { sort: 'price_asc' })
    const prices = up.books.map((b) => b.price)
    assert.deepEqual(
      prices,
      [...prices].sort((x, y) => x - y),
    )
    const down = await search(t.app, { sort: 'price_desc' })
    assert.deepEqual(
      down.books.map((b) => b.price),
      [...prices].reverse(),
    )
  })

  test('pub_year_desc reads free-text years; books without one come last', async () => {
    const p = await search(t.app, { sort: 'pub_year_desc' })
    assert.deepEqual(ids(p), ['a4', 'a3', 'b1', 'a2', 'a1', 'a5', 'a6', 'b2'].slice(0, p.total))
  })

  test('sales_desc follows orders', async () => {
    const buyer = await newUser(t.app, 'buyer')
    const o = await post(
      t.app,
      '/buyer/new_order',
      { user_id: buyer.userId, store_id: sa, books: [{ id: 'a5', count: 2 }] },
      buyer.token,
    )
    assert.equal(o.status, 200)
    const p = await search(t.app, { sort: 'sales_desc', store_id: sa })
    assert.equal(ids(p)[0], 'a5')
  })

  test('an unknown sort is 400 naming sort', async () => {
    const p = await search(t.app, { sort: 'cheapest' })
    assert.equal(p.status, 400)
    assert.match(p.message, /sort/)
  })
})

describe('freshness', () => {
  test('a book is searchable as soon as add_book returns', async () => {
    assert.equal((await search(t.app, { q: '量子纠缠' })).total, 0)
    await addBook(t.app, seller, sb, { id: 'fresh', title: '量子纠缠入门', price: 100, tags: ['物理'] }, 0)
    assert.deepEqual(ids(await search(t.app, { q: '量子纠缠' })), ['fresh'])
    assert.deepEqual(ids(await search(t.app, { q: '量子纠缠', in_stock: true })), [])
  })

  test('stock changes show at once', async () => {
    const r = await post(
      t.app,
      '/seller/add_stock_level',
      { user_id: seller.userId, store_id: sb, book_id: 'fresh', add_stock_level: 4 },
      seller.token,
    )
    assert.equal(r.status, 200)
    const p = await search(t.app, { q: '量子纠缠', in_stock: true })
    assert.deepEqual(ids(p), ['fresh'])
    assert.equal(p.books[0]?.stock_level, 4)
  })
})

describe('bad parameters', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ page: '0' }, /page/],
    [{ page: 'x' }, /page/],
    [{ page_size: '0' }, /page_size/],
    [{ page_size: '101' }, /page_size/],
    [{ min_price: '-1' }, /min_price/],
    [{ max_price: '1.5' }, /max_price/],
    [{ min_price: '10', max_price: '5' }, /max_price/],
    [{ in_stock: 'perhaps' }, /in_stock/],
    [{ q: 'x'.repeat(257) }, /q/],
    [{ store_id: '' }, /store_id/],
  ]
  for (const [params, field] of cases)
    test(`${JSON.stringify(params).slice(0, 60)} is 400`, async () => {
      const p = await search(t.app, params)
      assert.equal(p.status, 400)
      assert.match(p.message, field)
    })

  test('no match is 200 with an empty list; a page past the end too', async () => {
    const none = await search(t.app, { q: '没有这本书' })
    assert.equal(none.status, 200)
    assert.deepEqual(none.books, [])
    assert.equal(none.total, 0)
    const past = await search(t.app, { q: '心灵', page: 50 })
    assert.equal(past.status, 200)
    assert.deepEqual(past.books, [])
    assert.equal(past.total, 5)
  })
})

describe('unusual text', () => {
  test('quotes and backslashes in a book are stored and found literally', async () => {
    await addBook(t.app, seller, sb, {
      id: 'odd',
      title: "O'Reilly\\Backslash 手册",
      author: "D'Arcy",
      tags: ["it's"],
      price: 1,
    })
    assert.deepEqual(ids(await search(t.app, { q: "o'reilly" })), ['odd'])
    assert.deepEqual(ids(await search(t.app, { q: 'backslash' })), ['odd'])
    assert.deepEqual(ids(await search(t.app, { q: "d'arcy", scope: 'author' })), ['odd'])
    assert.deepEqual(ids(await search(t.app, { tag: "it's" })), ['odd'])
  })

  test('a very long content is indexed within the size limits', async () => {
    const words = Array.from({ length: 30_000 }, (_, i) => `w${i}`).join(' ')
    await addBook(t.app, seller, sb, { id: 'long', title: '长书', content: `${words} 结尾词`, price: 1 })
    assert.deepEqual(ids(await search(t.app, { q: 'w123', scope: 'content' })), ['long'])
  })
})
