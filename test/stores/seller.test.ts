import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import {
  bookInfo,
  countRows,
  newShop,
  newUser,
  post,
  rowsOf,
  startApp,
  stockOf,
  type TestApp,
  type User,
  uid,
} from '../support/helpers.ts'

let t: TestApp
before(async () => {
  t = await startApp()
})
after(() => t.close())

async function openStore(seller: User): Promise<string> {
  const storeId = uid('store')
  const r = await post(
    t.app,
    '/seller/create_store',
    { user_id: seller.userId, store_id: storeId },
    seller.token,
  )
  assert.equal(r.status, 200)
  return storeId
}

const addBook = (seller: User, storeId: string, info: Record<string, unknown>, stockLevel: unknown = 5) =>
  post(
    t.app,
    '/seller/add_book',
    { user_id: seller.userId, store_id: storeId, book_info: info, stock_level: stockLevel },
    seller.token,
  )

const addStock = (seller: User, storeId: string, bookId: string, n: unknown) =>
  post(
    t.app,
    '/seller/add_stock_level',
    { user_id: seller.userId, store_id: storeId, book_id: bookId, add_stock_level: n },
    seller.token,
  )

/** Picture-like bytes: a JPEG or PNG signature followed by random data. */
function picture(bytes: number, kind: 'jpeg' | 'png' = 'jpeg'): Buffer {
  const head =
    kind === 'jpeg' ? Buffer.from([0xff, 0xd8, 0xff, 0xe0]) : Buffer.from('89504e470d0a1a0a', 'hex')
  return Buffer.concat([head, randomBytes(bytes - head.length)])
}

function listing(storeId: string, bookId: string) {
  return rowsOf<Record<string, unknown>>(
    t.db,
    'SELECT * FROM listings WHERE store_id = $1 AND book_id = $2',
    [storeId, bookId],
  ).then((r) => r[0])
}

function picturesOf(storeId: string, bookId: string) {
  return rowsOf<{ idx: number; mime: string; data: Buffer }>(
    t.db,
    `SELECT lp.idx, p.mime, p.data FROM listing_pictures lp JOIN pictures p ON p.sha256 = lp.sha256
      WHERE lp.store_id = $1 AND lp.book_id = $2 ORDER BY lp.idx`,
    [storeId, bookId],
  )
}

describe('create_store', () => {
  test('ok → the store is owned by the user', async () => {
    const seller = await newUser(t.app, 'seller')
    const storeId = await openStore(seller)
    const r = await rowsOf<{ owner_id: string }>(t.db, 'SELECT owner_id FROM stores WHERE store_id = $1', [
      storeId,
    ])
    assert.deepEqual(r, [{ owner_id: seller.userId }])
  })

  test('an existing store id → 514 and the owner stays', async () => {
    const a = await newUser(t.app, 'seller')
    const b = await newUser(t.app, 'seller')
    const storeId = await openStore(a)
    const same = await post(t.app, '/seller/create_store', { user_id: a.userId, store_id: storeId }, a.token)
    assert.equal(same.status, 514)
    const other = await post(t.app, '/seller/create_store', { user_id: b.userId, store_id: storeId }, b.token)
    assert.equal(other.status, 514)
    const r = await rowsOf<{ owner_id: string }>(t.db, 'SELECT owner_id FROM stores WHERE store_id = $1', [
      storeId,
    ])
    assert.deepEqual(r, [{ owner_id: a.userId }])
  })

  test('bad token → 401; bad ids → 400; nothing created', async () => {
    const a = await newUser(t.app, 'seller')
    const stores = await countRows(t.db, 'stores')
    const storeId = uid('store')
    assert.equal(
      (await post(t.app, '/seller/create_store', { user_id: a.userId, store_id: storeId }, 'bad-token'))
        .status,
      401,
    )
    for (const body of [
      { user_id: a.userId },
      { user_id: a.userId, store_id: '' },
      { user_id: a.userId, store_id: 'x'.repeat(256) },
      { user_id: a.userId, store_id: 12 },
    ]) {
      const r = await post(t.app, '/seller/create_store', body, a.token)
      assert.equal(r.status, 400)
      assert.match(r.body.message, /store_id/)
    }
    const ok = await post(
      t.app,
      '/seller/create_store',
      { user_id: a.userId, store_id: 's'.repeat(255) },
      a.token,
    )
    assert.equal(ok.status, 200)
    assert.equal(await countRows(t.db, 'stores'), stores + 1)
  })
})

describe('add_book', () => {
  test('only id, title and price, every optional field null', async () => {
    const seller = await newUser(t.app, 'seller')
    const storeId = await openStore(seller)
    const id = uid('book')
    const info = {
      id,
      title: '只有书名',
      price: 4200,
      author: null,
      publisher: null,
      original_title: null,
      translator: null,
      pub_year: null,
      pages: null,
      binding: null,
      isbn: null,
      author_intro: null,
      book_intro: null,
      content: null,
      tags: null,
      pictures: null,
    }
    const r = await addBook(seller, storeId, info, 7)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    const row = await listing(storeId, id)
    assert.ok(row)
    assert.equal(row.title, '只有书名')
    assert.equal(row.price, 4200)
    assert.equal(row.stock_level, 7)
    for (const col of ['author', 'publisher', 'pub_year', 'pages', 'isbn', 'book_intro', 'content'])
      assert.equal(row[col], null, col)
    assert.deepEqual(row.tags, [])
    assert.deepEqual(row.extra, {})
    assert.deepEqual(await picturesOf(storeId, id), [])
    // The same with the optional fields simply absent.
    const id2 = uid('book')
    assert.equal((await addBook(seller, storeId, { id: id2, title: 't', price: 1 }, 0)).status, 200)
    assert.equal(await stockOf(t.db, storeId, id2), 0)
  })

  test('every known field is stored; unknown extra fields are kept', async () => {
    const seller = await newUser(t.app, 'seller')
    const storeId = await openStore(seller)
    const id = uid('book')
    const info = {
      id,
      title: '美丽心灵',
      author: '西尔维娅·娜萨',
      publisher: '上海科技教育出版社',
      original_title: 'A Beautiful Mind',
      translator: '王尔山',
      pub_year: '2002-1',
      pages: 594,
      price: 3879,
      currency_unit: '元',
      binding: '平装',
      isbn: '9787542824809',
      author_intro: 'intro of the author',
      book_intro: 'intro of the book',
      content: 'chapters',
      tags: ['传记', '数学'],
      shelf: { row: 3, labels: ['a', 'b'] },
    }
    assert.equal((await addBook(seller, storeId, info, 9)).status, 200)
    const row = await listing(storeId, id)
    assert.ok(row)
    assert.equal(row.author, '西尔维娅·娜萨')
    assert.equal(row.original_title, 'A Beautiful Mind')
    assert.equal(row.pub_year, '2002-1')
    assert.equal(row.pages, 594)
    assert.equal(row.isbn, '9787542824809')
    assert.equal(row.binding, '平装')
    assert.deepEqual(row.tags, ['传记', '数学'])
    assert.deepEqual(row.extra, { currency_unit: '元', shelf: { row: 3, labels: ['a', 'b'] } })
    // pub_year may also be a number
    const id2 = uid('book')
    assert.equal((await addBook(seller, storeId, bookInfo(id2, 10, { pub_year: 1999 }))).status, 200)
    assert.equal((await listing(storeId, id2))?.pub_year, '1999')
  })

  test('pictures are stored in order, each distinct content once', async () => {
    const seller = await newUser(t.app, 'seller')
    const storeId = await openStore(seller)
    const cover = picture(2000, 'jpeg')
    const back = picture(1500, 'png')
    const before = await countRows(t.db, 'pictures')
    const a = uid('book')
    const b = uid('book')
    const pics = [cover.toString('base64'), back.toString('base64')]
    assert.equal((await addBook(seller, storeId, bookInfo(a, 100, { pictures: pics }))).status, 200)
    assert.equal((await addBook(seller, storeId, bookInfo(b, 100, { pictures: [pics[0]] }))).status, 200)
    assert.equal(await countRows(t.db, 'pictures'), before + 2)
    const pa = await picturesOf(storeId, a)
    assert.deepEqual(
      pa.map((p) => [p.idx, p.mime]),
      [
        [0, 'image/jpeg'],
        [1, 'image/png'],
      ],
    )
    assert.ok(Buffer.from(pa[0]?.data as Buffer).equals(cover))
    assert.ok(Buffer.from(pa[1]?.data as Buffer).equals(back))
    const pb = await picturesOf(storeId, b)
    assert.equal(pb.length, 1)
    assert.ok(Buffer.from(pb[0]?.data as Buffer).equals(cover))
    // Not base64 → 400.
    const c = uid('book')
    const bad = await addBook(seller, storeId, bookInfo(c, 100, { pictures: ['not base64!'] }))
    assert.equal(bad.status, 400)
    assert.match(bad.body.message, /pictures/)
    assert.equal(await listing(storeId, c), undefined)
  })

  test('a body of several MB (9 pictures of ~200 KB) is accepted', async () => {
    const seller = await newUser(t.app, 'seller')
    const storeId = await openStore(seller)
    const id = uid('book')
    const pics = Array.from({ length: 9 }, () => picture(200 * 1024).toString('base64'))
    const info = bookInfo(id, 5000, { pictures: pics, book_intro: '很长的简介'.repeat(2000) })
    assert.ok(JSON.stringify(info).length > 2 * 1024 * 1024)
    const r = await addBook(seller, storeId, info)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    const stored = await picturesOf(storeId, id)
    assert.equal(stored.length, 9)
    assert.equal(stored[8]?.data.length, 200 * 1024)
  })

  test('unknown store → 513; existing book → 516; bad token → 401; nothing changes', async () => {
    const seller = await newUser(t.app, 'seller')
    const storeId = await openStore(seller)
    const id = uid('book')
    assert.equal((await addBook(seller, storeId, bookInfo(id, 100), 3)).status, 200)
    const noStore = await addBook(seller, uid('nostore'), bookInfo(uid('book')))
    assert.equal(noStore.status, 513)
    const dup = await addBook(seller, storeId, bookInfo(id, 999, { author: 'someone' }), 50)
    assert.equal(dup.status, 516)
    const row = await listing(storeId, id)
    assert.equal(row?.price, 100)
    assert.equal(row?.stock_level, 3)
    assert.equal(row?.author, null)
    // The same book id in another store is a different listing.
    const store2 = await openStore(seller)
    assert.equal((await addBook(seller, store2, bookInfo(id, 200))).status, 200)
    const noToken = await post(t.app, '/seller/add_book', {
      user_id: seller.userId,
      store_id: storeId,
      book_info: bookInfo(uid('book')),
      stock_level: 1,
    })
    assert.equal(noToken.status, 401)
  })

  test('another seller’s store → 401, an unknown store → 513, with or without pictures: nothing is written', async () => {
    const owner = await newUser(t.app, 'seller')
    const other = await newUser(t.app, 'seller')
    const storeId = await openStore(owner)
    const tables = [
      'listings',
      'listing_sales',
      'listing_ratings',
      'listing_counts',
      'suggestion_texts',
      'suggestion_keys',
      'pictures',
    ]
    const counts = async () => Promise.all(tables.map((table) => countRows(t.db, table)))
    const before = await counts()
    const picture = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]).toString('base64')
    for (const pictures of [null, [picture]]) {
      // A title, author and tag nobody else has: no suggestion text or key may appear for them.
      const info = bookInfo(uid('book'), 100, {
        title: '无主之书',
        author: '无名氏',
        tags: ['无主'],
        pictures,
      })
      const foreign = await addBook(other, storeId, info)
      assert.equal(foreign.status, 401, JSON.stringify(foreign.body))
      const nowhere = await addBook(owner, uid('nostore'), info)
      assert.equal(nowhere.status, 513)
      assert.equal(await listing(storeId, info.id as string), undefined)
    }
    assert.deepEqual(await counts(), before)
    // The owner may: the same book is listed, with its suggestion texts.
    const info = bookInfo(uid('book'), 100, { title: '无主之书', author: '无名氏', tags: ['无主'] })
    assert.equal((await addBook(owner, storeId, info)).status, 200)
    const texts = await rowsOf<{ text: string }>(
      t.db,
      `SELECT text FROM suggestion_texts WHERE text IN ('无主之书', '无名氏', '无主') ORDER BY text`,
    )
    assert.deepEqual(
      texts.map((x) => x.text),
      ['无主', '无主之书', '无名氏'],
    )
  })

  test('malformed book_info or stock_level → 400 naming the field', async () => {
    const seller = await newUser(t.app, 'seller')
    const storeId = await openStore(seller)
    const listings = await countRows(t.db, 'listings')
    const id = uid('book')
    const cases: [Record<string, unknown>, unknown, RegExp][] = [
      [{ title: 't', price: 1 }, 1, /id/],
      [{ id, price: 1 }, 1, /title/],
      [{ id, title: 't' }, 1, /price/],
      [{ id, title: 't', price: -1 }, 1, /price/],
      [{ id, title: 't', price: 9.99 }, 1, /price/],
      [{ id, title: 't', price: '100' }, 1, /price/],
      [{ id, title: 't', price: 1, pages: 'many' }, 1, /pages/],
      [{ id, title: 't', price: 1, pages: -3 }, 1, /pages/],
      [{ id, title: 't', price: 1, tags: 'a,b' }, 1, /tags/],
      [{ id, title: 't', price: 1, tags: [1, 2] }, 1, /tags/],
      [{ id, title: 't', price: 1, author: 5 }, 1, /author/],
      [{ id, title: 't', price: 1, pictures: 'abc' }, 1, /pictures/],
      [{ id: 'x'.repeat(256), title: 't', price: 1 }, 1, /id/],
      [{ id, title: 't', price: 1 }, -1, /stock_level/],
      [{ id, title: 't', price: 1 }, 1.5, /stock_level/],
      [{ id, title: 't', price: 1 }, '3', /stock_level/],
    ]
    for (const [info, stock, field] of cases) {
      const r = await addBook(seller, storeId, info, stock)
      assert.equal(r.status, 400, JSON.stringify([info, stock]))
      assert.match(r.body.message, field, JSON.stringify(r.body))
    }
    const noStock = await post(
      t.app,
      '/seller/add_book',
      { user_id: seller.userId, store_id: storeId, book_info: { id, title: 't', price: 1 } },
      seller.token,
    )
    assert.equal(noStock.status, 400)
    assert.match(noStock.body.message, /stock_level/)
    const noInfo = await post(
      t.app,
      '/seller/add_book',
      { user_id: seller.userId, store_id: storeId, stock_level: 1 },
      seller.token,
    )
    assert.equal(noInfo.status, 400)
    assert.match(noInfo.body.message, /book_info/)
    assert.equal(await countRows(t.db, 'listings'), listings)
  })
})

describe('add_stock_level', () => {
  test('adds copies to the listing', async () => {
    const shop = await newShop(t.app, 1, 4)
    const b = shop.bookIds[0] as string
    const r = await addStock(shop.seller, shop.storeId, b, 6)
    assert.equal(r.status, 200)
    assert.equal(await stockOf(t.db, shop.storeId, b), 10)
    assert.equal((await addStock(shop.seller, shop.storeId, b, 0)).status, 200)
    assert.equal(await stockOf(t.db, shop.storeId, b), 10)
  })

  test('unknown book → 515, unknown store → 513, bad token → 401, negative → 400; stock unchanged', async () => {
    const shop = await newShop(t.app, 1, 4)
    const b = shop.bookIds[0] as string
    assert.equal((await addStock(shop.seller, shop.storeId, uid('nobook'), 1)).status, 515)
    assert.equal((await addStock(shop.seller, uid('nostore'), b, 1)).status, 513)
    const bad = await post(
      t.app,
      '/seller/add_stock_level',
      { user_id: shop.seller.userId, store_id: shop.storeId, book_id: b, add_stock_level: 1 },
      'not-a-token',
    )
    assert.equal(bad.status, 401)
    for (const n of [-1, 1.5, '2', null]) {
      const r = await addStock(shop.seller, shop.storeId, b, n)
      assert.equal(r.status, 400, JSON.stringify(n))
      assert.match(r.body.message, /add_stock_level/)
    }
    assert.equal(await stockOf(t.db, shop.storeId, b), 4)
  })

  test('stock can not be pushed past what the column holds', async () => {
    const shop = await newShop(t.app, 1, 2_000_000_000)
    const b = shop.bookIds[0] as string
    const r = await addStock(shop.seller, shop.storeId, b, 200_000_000)
    assert.equal(r.status, 400)
    assert.match(r.body.message, /add_stock_level/)
    assert.equal(await stockOf(t.db, shop.storeId, b), 2_000_000_000)
    assert.equal((await addStock(shop.seller, shop.storeId, b, 147_483_647)).status, 200)
    assert.equal(await stockOf(t.db, shop.storeId, b), 2_147_483_647)
  })
})

describe('tags', () => {
  test('a tag may hold any character, unit separators included, and is stored as one tag', async () => {
    const seller = await newUser(t.app, 'seller')
    const storeId = uid('store')
    await post(t.app, '/seller/create_store', { user_id: seller.userId, store_id: storeId }, seller.token)
    const tags = ['a\u001fb', 'c,d', '{e}', '"f"']
    const r = await post(
      t.app,
      '/seller/add_book',
      {
        user_id: seller.userId,
        store_id: storeId,
        book_info: bookInfo('tagged', 100, { tags }),
        stock_level: 1,
      },
      seller.token,
    )
    assert.equal(r.status, 200)
    const row = await t.db.query<{ tags: string[] }>('SELECT tags FROM listings WHERE store_id = $1', [
      storeId,
    ])
    assert.deepEqual(row.rows[0]?.tags, tags)
  })
})
