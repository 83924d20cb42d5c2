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

/** Stores a listing's pictures in order; identical bytes are kept once. */
export async function attachPictures(tx: Tx, storeId: string, bookId: string, pictures: readonly Buffer[]) {
  if (pictures.length === 0) return
  const hashes = pictures.map((p) => createHash('sha256').update(p).digest())
  await tx.query(
    `INSERT INTO pictures (sha256, mime, data)
     SELECT * FROM unnest($1::bytea[], $2::text[], $3::bytea[]) ON CONFLICT (sha256) DO NOTHING`,
    [hashes, pictures.map(sniffMime), pictures],
  )
  await tx.query(
    `INSERT INTO listing_pictures (store_id, book_id, idx, sha256)
     SELECT $1, $2, i - 1, h FROM unnest($3::bytea[]) WITH ORDINALITY AS p(h, i)`,
    [storeId, bookId, hashes],
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
