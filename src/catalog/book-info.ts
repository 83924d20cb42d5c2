import type { NewListing } from '../repositories/listings.ts'

/** A book's fields as the course API's book_info carries them: known ones, plus any others. */
export interface BookFields {
  id: string
  title: string
  price: number
  author?: string | null
  publisher?: string | null
  original_title?: string | null
  translator?: string | null
  pub_year?: string | number | null
  pages?: number | null
  binding?: string | null
  isbn?: string | null
  author_intro?: string | null
  book_intro?: string | null
  content?: string | null
  tags?: string[] | null
  [extra: string]: unknown
}

/** book_info of add_book: the fields, and the pictures as base64. */
export interface BookInfo extends BookFields {
  pictures?: string[] | null
}

const KNOWN = new Set([
  'id',
  'title',
  'price',
  'author',
  'publisher',
  'original_title',
  'translator',
  'pub_year',
  'pages',
  'binding',
  'isbn',
  'author_intro',
  'book_intro',
  'content',
  'tags',
  'pictures',
])

/**
 * The listing of a book in a store: known fields become columns, any other field (e.g. the course
 * data's currency_unit) is kept in `extra`. Pictures are stored separately by the caller.
 */
export function toNewListing(storeId: string, info: BookFields, stockLevel: number): NewListing {
  const extra: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(info)) if (!KNOWN.has(k) && v !== undefined) extra[k] = v
  return {
    storeId,
    bookId: info.id,
    title: info.title,
    author: info.author ?? null,
    publisher: info.publisher ?? null,
    originalTitle: info.original_title ?? null,
    translator: info.translator ?? null,
    pubYear: info.pub_year == null ? null : String(info.pub_year),
    pages: info.pages ?? null,
    price: info.price,
    binding: info.binding ?? null,
    isbn: info.isbn ?? null,
    authorIntro: info.author_intro ?? null,
    bookIntro: info.book_intro ?? null,
    content: info.content ?? null,
    tags: info.tags ?? [],
    extra,
    stockLevel,
  }
}
