import { existsSync } from 'node:fs'
import sqlite from 'node-sqlite3-wasm'

/** One book of the course catalogue (`book` table of book.db / book_lx.db), ready to list. */
export interface CourseBook {
  id: string
  title: string
  author: string | null
  publisher: string | null
  original_title: string | null
  translator: string | null
  pub_year: string | null
  pages: number | null
  price: number
  currency_unit: string | null
  binding: string | null
  isbn: string | null
  author_intro: string | null
  book_intro: string | null
  content: string | null
  tags: string[]
  /** The picture bytes (the course data has one per book, or none). */
  pictures: Buffer[]
}

interface Row {
  rid: number
  id: string | null
  title: string | null
  author: string | null
  publisher: string | null
  original_title: string | null
  translator: string | null
  pub_year: string | number | null
  pages: number | null
  price: number | null
  currency_unit: string | null
  binding: string | null
  isbn: string | null
  author_intro: string | null
  book_intro: string | null
  content: string | null
  tags: string | null
  picture: Uint8Array | null
}

/** A row of the file that cannot be listed, and why. */
export interface RejectedRow {
  /** The row's place in the `book` table (SQLite rowid). */
  row: number
  id: string | null
  reason: 'no id' | 'no title'
}

const str = (v: unknown): string | null => (v === null || v === undefined || v === '' ? null : String(v))

function toBook(r: Row): CourseBook | undefined {
  if (!r.id || !r.title) return undefined
  return {
    id: String(r.id),
    title: String(r.title),
    author: str(r.author),
    publisher: str(r.publisher),
    original_title: str(r.original_title),
    translator: str(r.translator),
    pub_year: str(r.pub_year),
    pages: typeof r.pages === 'number' && Number.isInteger(r.pages) && r.pages >= 0 ? r.pages : null,
    price: typeof r.price === 'number' && Number.isInteger(r.price) && r.price >= 0 ? r.price : 0,
    currency_unit: str(r.currency_unit),
    binding: str(r.binding),
    isbn: str(r.isbn),
    author_intro: str(r.author_intro),
    book_intro: str(r.book_intro),
    content: str(r.content),
    tags: (r.tags ?? '')
      .split('\n')
      .map((t) => t.trim())
      .filter((t) => t !== ''),
    pictures: r.picture && r.picture.length > 0 ? [Buffer.from(r.picture)] : [],
  }
}

/** The file named is missing, not SQLite, or SQLite without the course's `book` table. */
export class NotACatalogue extends Error {
  override name = 'NotACatalogue'
  constructor(
    message: string,
    /** What the file is instead: what a page tells the person who sent it. */
    readonly why: 'missing' | 'not_sqlite' | 'no_book_table' | 'wrong_columns',
  ) {
    super(message)
  }
}

const BATCH_SQL = `SELECT rowid AS rid, id, title, author, publisher, original_title, translator, pub_year, pages, price,
        currency_unit, binding, isbn, author_intro, book_intro, content, tags, picture
   FROM book WHERE rowid > ? ORDER BY rowid LIMIT ?`

/**
 * Reads the course's SQLite catalogue through SQLite compiled to WebAssembly, which reads the file
 * page by page: a multi-GB book_lx.db is streamed in batches, never loaded whole.
 */
export class CourseDb {
  private readonly db: sqlite.Database

  /** Opens the file and checks it is a course catalogue, before anything else is touched. */
  constructor(path: string) {
    if (!existsSync(path)) throw new NotACatalogue(`no such file: ${path}`, 'missing')
    this.db = new sqlite.Database(path, { readOnly: true, fileMustExist: true })
    let hasBookTable: boolean
    try {
      // SQLite reads the file's header only now: this is where a file of another kind is found out
      hasBookTable =
        this.db.get("SELECT 1 AS one FROM sqlite_master WHERE type = 'table' AND name = 'book'") !== null
    } catch (err) {
      this.db.close()
      throw new NotACatalogue(
        `${path} is not a SQLite database (${err instanceof Error ? err.message : err})`,
        'not_sqlite',
      )
    }
    if (!hasBookTable) {
      this.db.close()
      throw new NotACatalogue(
        `${path} is a SQLite database without a "book" table: not a course catalogue`,
        'no_book_table',
      )
    }
    try {
      this.db.prepare(BATCH_SQL).finalize()
    } catch (err) {
      this.db.close()
      throw new NotACatalogue(
        `${path} has a "book" table without the course's columns (${err instanceof Error ? err.message : err})`,
        'wrong_columns',
      )
    }
  }

  count(): number {
    const r = this.db.get('SELECT count(*) AS n FROM book') as { n: number } | null
    return r?.n ?? 0
  }

  /**
   * Batches of books in storage order (keyset paging on rowid: each batch is one index range read).
   * `read` counts the rows read, including malformed ones (no id or title), which are left out and
   * named in `rejected`.
   */
  *batches(size = 200): Generator<{ books: CourseBook[]; read: number; rejected: RejectedRow[] }> {
    const stmt = this.db.prepare(BATCH_SQL)
    try {
      let after = -1
      for (;;) {
        const rows = stmt.all([after, size]) as unknown as Row[]
        if (rows.length === 0) return
        after = (rows[rows.length - 1] as Row).rid
        const books: CourseBook[] = []
        const rejected: RejectedRow[] = []
        for (const r of rows) {
          const book = toBook(r)
          if (book) books.push(book)
          else rejected.push({ row: r.rid, id: str(r.id), reason: r.id ? 'no title' : 'no id' })
        }
        yield { books, read: rows.length, rejected }
      }
    } finally {
      stmt.finalize()
    }
  }

  close(): void {
    this.db.close()
  }
}
