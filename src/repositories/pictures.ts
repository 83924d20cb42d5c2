import { createHash } from 'node:crypto'
import type { Queryable, Tx } from '../db/db.ts'

/** The image type from the first bytes; pictures of unknown type are served as octet-stream. */
export function sniffMime(data: Uint8Array): string {
  const b = data
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg'
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png'
  if (b.length >= 6 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x38) return 'image/gif'
  if (
    b.length >= 12 &&
    Buffer.from(b.subarray(0, 4)).toString('latin1') === 'RIFF' &&
    Buffer.from(b.subarray(8, 12)).toString('latin1') === 'WEBP'
  )
    return 'image/webp'
  return 'application/octet-stream'
}

/** Pictures sent in one statement: well below PostgreSQL's 65 535 parameters. */
const PICTURES_PER_STATEMENT = 1000

/** Stores a listing's pictures in order; identical bytes are kept once. */
export async function attachPictures(tx: Tx, storeId: string, bookId: string, pictures: readonly Buffer[]) {
  await attachManyPictures(tx, storeId, [{ bookId, pictures }])
}

/**
 * Stores the pictures of several listings of a store in order, in a few statements whatever their
 * number; identical bytes are kept once.
 */
export async function attachManyPictures(
  tx: Tx,
  storeId: string,
  listings: readonly { bookId: string; pictures: readonly Buffer[] }[],
) {
  const rows = listings.flatMap((l) =>
    l.pictures.map((data, idx) => ({
      bookId: l.bookId,
      idx,
      data,
      sha256: createHash('sha256').update(data).digest(),
    })),
  )
  if (rows.length === 0) return
  const distinct = new Map(rows.map((r) => [r.sha256.toString('hex'), r]))
  // For a batch of listings (an import) the contents already stored are looked up first, so that
  // shared covers are not sent again; for one listing (add_book) that round trip would cost more.
  if (listings.length > 1) {
    const stored = await tx.query<{ sha256: Buffer }>(
      'SELECT sha256 FROM pictures WHERE sha256 = ANY($1::bytea[])',
      [[...distinct.values()].map((r) => r.sha256)],
    )
    for (const r of stored.rows) distinct.delete(Buffer.from(r.sha256).toString('hex'))
  }
  const missing = [...distinct.values()]
  // Each picture its own parameter rather than one bytea[]: the server then reads no array literal
  // of megabytes, which on PGlite made the statement twice as slow.
  for (let at = 0; at < missing.length; at += PICTURES_PER_STATEMENT) {
    const chunk = missing.slice(at, at + PICTURES_PER_STATEMENT)
    await tx.query(
      `INSERT INTO pictures (sha256, mime, data)
       VALUES ${chunk.map((_, i) => `($${3 * i + 1}::bytea, $${3 * i + 2}::text, $${3 * i + 3}::bytea)`).join(', ')}
       ON CONFLICT (sha256) DO NOTHING`,
      chunk.flatMap((r) => [r.sha256, sniffMime(r.data), r.data]),
    )
  }
  await tx.query(
    `INSERT INTO listing_pictures (store_id, book_id, idx, sha256)
     SELECT $1, * FROM unnest($2::text[], $3::int[], $4::bytea[])`,
    [storeId, rows.map((r) => r.bookId), rows.map((r) => r.idx), rows.map((r) => r.sha256)],
  )
}

export interface PictureRow {
  sha256: Buffer
  mime: string
  data: Buffer
}

export async function findPicture(
  q: Queryable,
  storeId: string,
  bookId: string,
  idx: number,
): Promise<PictureRow | undefined> {
  const r = await q.query<PictureRow>(
    `SELECT p.sha256, p.mime, p.data FROM listing_pictures lp JOIN pictures p ON p.sha256 = lp.sha256
      WHERE lp.store_id = $1 AND lp.book_id = $2 AND lp.idx = $3`,
    [storeId, bookId, idx],
  )
  return r.rows[0]
}
