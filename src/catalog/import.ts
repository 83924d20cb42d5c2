import type { Db } from '../db/db.ts'
import * as listings from '../repositories/listings.ts'
import { attachPictures } from '../repositories/pictures.ts'
import * as stores from '../repositories/stores.ts'
import * as users from '../repositories/users.ts'
import type { PasswordHasher } from '../security/passwords.ts'
import { toNewListing } from './book-info.ts'
import type { CourseDb } from './course-db.ts'

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
}

export interface ImportProgress {
  total: number
  seen: number
  added: number
  /** Already listed in the store. */
  skipped: number
  /** Rows without an id or a title. */
  invalid: number
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
  const progress: ImportProgress = { total, seen: 0, added: 0, skipped: 0, invalid: 0 }
  opts.onProgress?.({ ...progress })
  for (const batch of source.batches(opts.batchSize ?? 200)) {
    const room = total - progress.seen
    const books = batch.books.slice(0, room)
    await db.transaction(async (tx) => {
      for (const b of books) {
        const { pictures, currency_unit, ...fields } = b
        const info = currency_unit === null ? fields : { ...fields, currency_unit }
        const inserted = await listings.insertListing(tx, toNewListing(opts.storeId, info, opts.stock))
        if (inserted) {
          await attachPictures(tx, opts.storeId, b.id, pictures)
          progress.added++
        } else progress.skipped++
      }
    })
    const read = Math.min(batch.read, room)
    progress.invalid += Math.max(0, read - books.length)
    progress.seen += read
    opts.onProgress?.({ ...progress })
    if (progress.seen >= total) break
  }
  return progress
}
