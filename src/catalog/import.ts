import type { Db, Tx } from '../db/db.ts'
import type { NewListing } from '../repositories/listings.ts'
import * as listings from '../repositories/listings.ts'
import { attachManyPictures } from '../repositories/pictures.ts'
import { mergeAllQueued } from '../repositories/search/pending.ts'
import * as stores from '../repositories/stores.ts'
import * as users from '../repositories/users.ts'
import { type SearchColumns, searchColumns } from '../search/lexemes.ts'
import { segmenter } from '../search/segmenter.ts'
import type { PasswordHasher } from '../security/passwords.ts'
import { toNewListing } from './book-info.ts'
import type { CourseBook, CourseDb, RejectedRow } from './course-db.ts'

/** A row that was not listed, and why (the file's or the database's reason). */
export interface ImportFailure {
  row: number | null
  id: string | null
  reason: string
}

/** The failures kept for the report: enough to find a pattern, bounded for a file of millions of rows. */
export const MAX_FAILURES_KEPT = 100

export interface ImportOptions {
  storeId: string
  sellerId: string
  /** Creates the seller's account with this password when it does not exist yet. */
  sellerPassword?: string
  /** Copies in stock of every imported book. */
  stock: number
  batchSize?: number
  /** Stop after this many books (for trying out a large file). */
  limit?: number
  onProgress?: (p: ImportProgress) => void
  /** Aborting stops the import after the batch being written (committed) — nothing half-done. */
  signal?: AbortSignal
}

/** An import of `total` books that has not started yet. */
export const emptyProgress = (total = 0): ImportProgress => ({
  total,
  seen: 0,
  added: 0,
  skipped: 0,
  invalid: 0,
  failed: 0,
  failures: [],
})

export interface ImportProgress {
  total: number
  seen: number
  added: number
  /** Already listed in the store. */
  skipped: number
  /** Rows without an id or a title. */
  invalid: number
  /** Books the database refused (each tried on its own after its batch failed). */
  failed: number
  /** The first MAX_FAILURES_KEPT invalid or failed rows with their reasons. */
  failures: ImportFailure[]
}

export class ImportError extends Error {
  override name = 'ImportError'
}

/**
 * Lists the books of a course catalogue in one store, a batch per transaction. Books the store
 * already lists are skipped, so an interrupted import can simply be run again.
 */
export async function importCatalog(
  db: Db,
  hasher: PasswordHasher,
  source: CourseDb,
  opts: ImportOptions,
): Promise<ImportProgress> {
  const seller = await users.findUser(db, opts.sellerId)
  if (!seller || seller.closed_at) {
    if (seller?.closed_at) throw new ImportError(`seller ${opts.sellerId} has closed their account`)
    if (opts.sellerPassword === undefined)
      throw new ImportError(
        `seller ${opts.sellerId} does not exist: register it first, or give a password to create it`,
      )
    await users.insertUser(db, opts.sellerId, await hasher.hash(opts.sellerPassword))
  }
  const store = await stores.findStore(db, opts.storeId)
  if (store && store.owner_id !== opts.sellerId)
    throw new ImportError(`store ${opts.storeId} belongs to ${store.owner_id}, not ${opts.sellerId}`)
  if (!store) await stores.insertStore(db, opts.storeId, opts.sellerId)

  const total = Math.min(source.count(), opts.limit ?? Number.POSITIVE_INFINITY)
  const progress = emptyProgress(total)
  const report = () => opts.onProgress?.({ ...progress, failures: [...progress.failures] })
  const fail = (f: ImportFailure) => {
    if (progress.failures.length < MAX_FAILURES_KEPT) progress.failures.push(f)
  }
  /**
   * Lists the books in one transaction, in a few statements whatever their number: the listings in
   * one multi-row insert (so the search structures' statement triggers run once per batch, not once
   * per book), then the pictures. Counts are kept only once it has committed.
   */
  const listAll = (books: readonly PreparedBook[]) =>
    db.transaction((tx) => listBatch(tx, opts.storeId, books))
  const batches = source.batches(opts.batchSize ?? 200)
  report()
  try {
    let next = prepare(batches.next(), opts)
    while (!opts.signal?.aborted) {
      const batch = await next
      if (!batch) break
      const room = total - progress.seen
      const books = batch.books.slice(0, room)
      const written = listAll(books)
      // While the database writes this batch (in its own thread or server), the next one is read and
      // segmented here: a book at a time, so that this batch's statements are sent without waiting.
      next = room > batch.read ? prepare(batches.next(), opts) : Promise.resolve(undefined)
      next.catch(() => {}) // awaited below; a failure is reported there, not as unhandled meanwhile
      try {
        const added = await written
        progress.added += added
        progress.skipped += books.length - added
      } catch {
        // One bad book must not sink its batch: each is tried alone, and the refused ones are reported.
        for (const b of books)
          try {
            if ((await listAll([b])) > 0) progress.added++
            else progress.skipped++
          } catch (err) {
            progress.failed++
            fail({ row: null, id: b.book.id, reason: err instanceof Error ? err.message : String(err) })
          }
      }
      // The batch's listings were queued for the search index: merged now, in as few transactions as
      // the queue takes, so an import leaves nothing behind for the server to merge.
      await mergeAllQueued(db)
      const read = Math.min(batch.read, room)
      const rejected = batch.rejected.slice(0, Math.max(0, read - books.length))
      progress.invalid += Math.max(0, read - books.length)
      for (const r of rejected) fail(r)
      progress.seen += read
      report()
      // A server importing keeps answering: the next batch waits for the requests that came meanwhile.
      await new Promise((r) => setImmediate(r))
      if (progress.seen >= total) break
    }
    await next // a batch prepared but not written (stopped): nothing to undo, its work is dropped
  } finally {
    batches.return(undefined) // closes the file's statement
  }
  return progress
}

/** A book of the file with its listing and search columns, computed before its batch is written. */
interface PreparedBook {
  book: CourseBook
  listing: NewListing
  columns: SearchColumns
}

interface PreparedBatch {
  books: PreparedBook[]
  /** Rows read from the file, malformed ones included. */
  read: number
  rejected: RejectedRow[]
}

/** Books segmented between two turns of the event loop while the previous batch is written. */
const BOOKS_PER_TURN = 5

/** The file's next batch, with each book's listing and search columns; undefined after the last. */
async function prepare(
  read: IteratorResult<{ books: CourseBook[]; read: number; rejected: RejectedRow[] }>,
  opts: ImportOptions,
): Promise<PreparedBatch | undefined> {
  if (read.done) return undefined
  const seg = segmenter()
  const books: PreparedBook[] = []
  for (const book of read.value.books) {
    if (books.length % BOOKS_PER_TURN === BOOKS_PER_TURN - 1) await new Promise((r) => setImmediate(r))
    const listing = listingOf(opts.storeId, opts.stock, book)
    books.push({ book, listing, columns: searchColumns(seg, listing) })
  }
  return { books, read: read.value.read, rejected: read.value.rejected }
}

/** A row's listing, its extra fields (the course data's currency_unit) kept as book_info keeps them. */
function listingOf(storeId: string, stock: number, b: CourseBook): NewListing {
  const { pictures: _pictures, currency_unit, ...fields } = b
  return toNewListing(storeId, currency_unit === null ? fields : { ...fields, currency_unit }, stock)
}

/**
 * Lists the books the store does not list yet, with their pictures, and returns how many. A book
 * repeated within the batch is listed once (its first row), as one by one would. The rows already
 * listed are found first, so that the insert adds exactly the others and their pictures follow: should
 * another writer list one of them meanwhile, the insert adds fewer and the batch is given up (rolled
 * back), to be tried book by book.
 */
async function listBatch(tx: Tx, storeId: string, books: readonly PreparedBook[]) {
  const listed = await tx.query<{ book_id: string }>(
    'SELECT book_id FROM listings WHERE store_id = $1 AND book_id = ANY($2::text[])',
    [storeId, books.map((b) => b.book.id)],
  )
  const taken = new Set(listed.rows.map((r) => r.book_id))
  const fresh: PreparedBook[] = []
  for (const b of books)
    if (!taken.has(b.book.id)) {
      taken.add(b.book.id)
      fresh.push(b)
    }
  if (fresh.length === 0) return 0
  const added = await listings.insertListings(
    tx,
    fresh.map((b) => b.listing),
    fresh.map((b) => b.columns),
  )
  if (added !== fresh.length) throw new Error('books were listed by another writer during the batch')
  await attachManyPictures(
    tx,
    storeId,
    fresh.map((b) => ({ bookId: b.book.id, pictures: b.book.pictures })),
  )
  return added
}
