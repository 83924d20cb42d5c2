/**
 * Writes a course catalogue file shaped like the course's book_lx.db (the SQLite `book` table of
 * ../shared/data/book.db), for measuring and testing the import:
 * `npm run bookstore -- gen-course-db --n 40000 --out /tmp/book_lx.db`.
 *
 * Each book has about 60 KB of picture bytes (incompressible, JPEG header: like a cover photo) and
 * about 3 KB of Chinese and Latin text (intros and a table of contents), from the synthetic catalogue
 * of the search benchmark. Like a real catalogue it repeats itself: some covers are shared by several
 * books (a series, a placeholder), some books come again under another id (another edition), a few
 * rows repeat an id already in the file, some books have no picture. Deterministic for a seed.
 */
import { existsSync, rmSync } from 'node:fs'
import sqlite from 'node-sqlite3-wasm'
import { Progress } from '../../src/cli/progress.ts'
import { Rng, syntheticListing } from './synthetic.ts'

export interface GenCourseDbOptions {
  /** Rows of the `book` table. */
  books: number
  out: string
  seed: number
  /** Mean picture size in bytes. */
  pictureBytes?: number
}

/** The course file's table, column for column as in book.db. */
const BOOK_TABLE = `CREATE TABLE book (id TEXT, title TEXT, author TEXT, publisher TEXT, original_title TEXT,
  translator TEXT, pub_year TEXT, pages INT, price INT, currency_unit TEXT, binding TEXT, isbn TEXT,
  author_intro TEXT, book_intro TEXT, content TEXT, tags TEXT, picture BLOB)`

/** Out of 100 rows: how many show a cover already used, repeat an earlier book, an earlier id, or have none. */
const SHARED_COVER = 12
const OTHER_EDITION = 4
const REPEATED_ID = 1
const NO_PICTURE = 5

const LATIN_WORDS =
  'the history of modern china reading notes on language science design data city river mountain'.split(' ')

/** A cover: a JPEG header then seeded noise (as incompressible as a real photo). */
function picture(seed: number, bytes: number): Buffer {
  const r = new Rng(seed)
  const size = Math.round(bytes * (0.6 + 0.8 * r.next()))
  const out = Buffer.allocUnsafe(size)
  let s = (seed * 0x9e3779b1) >>> 0 || 1
  for (let i = 0; i + 4 <= size; i += 4) {
    // xorshift32: fast enough for gigabytes
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    out.writeUInt32LE(s >>> 0, i)
  }
  out.fill(0, size - (size % 4))
  Buffer.from('ffd8ffe000104a46494600', 'hex').copy(out, 0)
  return out
}

/** About `chars` characters of Chinese prose with Latin words mixed in, from the book's own intro. */
function longText(r: Rng, seedText: string, chars: number): string {
  const parts: string[] = []
  let n = 0
  while (n < chars) {
    const piece =
      r.int(4) === 0
        ? ` ${r.pick(LATIN_WORDS)} ${r.pick(LATIN_WORDS)} `
        : seedText.slice(r.int(seedText.length))
    parts.push(piece)
    n += piece.length
  }
  return parts.join('').slice(0, chars)
}

export async function genCourseDb(o: GenCourseDbOptions): Promise<void> {
  if (existsSync(o.out)) rmSync(o.out)
  const pictureBytes = o.pictureBytes ?? 60_000
  const db = new sqlite.Database(o.out)
  const bar = new Progress('gen-course-db', o.books)
  try {
    db.run('PRAGMA journal_mode = OFF')
    db.run(BOOK_TABLE)
    const ins = db.prepare('INSERT INTO book VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)')
    const storeIds = ['course']
    const r = new Rng(o.seed)
    let covers = 0
    let bytes = 0
    db.run('BEGIN')
    for (let i = 0; i < o.books; i++) {
      const roll = r.int(100)
      // another edition of an earlier book, or a row repeating an earlier id (the import skips it)
      const source = i > 0 && roll < OTHER_EDITION + REPEATED_ID ? r.int(i) : i
      const l = syntheticListing(source, { seed: o.seed, storeIds, idPrefix: '' })
      const id = roll < REPEATED_ID && i > 0 ? String(1_000_000 + source) : String(1_000_000 + i)
      const text = `${l.bookIntro ?? ''}${l.title}${l.author ?? ''}`
      const pic = r.int(100)
      const cover =
        pic < NO_PICTURE
          ? null
          : pic < NO_PICTURE + SHARED_COVER && covers > 0
            ? picture(o.seed * 7919 + r.int(covers), pictureBytes)
            : picture(o.seed * 7919 + covers++, pictureBytes)
      const row = [
        id,
        l.title,
        l.author,
        l.publisher,
        r.int(5) === 0 ? `The ${r.pick(LATIN_WORDS)} of ${r.pick(LATIN_WORDS)}` : null,
        r.int(5) === 0 ? '佚名' : null,
        l.pubYear,
        l.pages,
        l.price,
        '元',
        l.binding,
        l.isbn,
        longText(r, text, 280),
        longText(r, text, 560),
        longText(r, text, 280),
        l.tags.join('\n'),
        cover,
      ]
      ins.run(row as sqlite.BindValues)
      bytes += (cover?.length ?? 0) + 3000
      if (i % 500 === 499) {
        db.run('COMMIT')
        db.run('BEGIN')
      }
      bar.update(i + 1, `${(bytes / 1024 ** 2).toFixed(0)} MB`)
    }
    db.run('COMMIT')
    ins.finalize()
    bar.done(o.books, `${(bytes / 1024 ** 2).toFixed(0)} MB`)
  } finally {
    db.close()
  }
  console.log(`wrote ${o.books} books to ${o.out}`)
}
