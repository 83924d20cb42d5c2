/**
 * How bytea crosses PGlite's protocol as text: parameters and results as PostgreSQL's hex text
 * (bytea_output's default), written and read by Node's hex codec. PGlite's own writes one JavaScript
 * string per byte and reads with parseInt once a byte: about 10 ms for a 60 KB picture
 * (docs/decisions/2026-12-06-import-speed.md).
 */

export const BYTEA_OID = 17

/** PostgreSQL's hex text of bytes, written by Node's hex encoder. */
export function byteaText(value: Uint8Array): string {
  return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`
}

/**
 * A bytea result, from PostgreSQL's hex text (`\x` then two digits a byte), decoded by Node's hex
 * decoder into bytes of their own. PGlite's own parser calls parseInt once a byte: 1–2 ms for the 56 KB
 * of bitmaps a search with facets reads, and more for a picture.
 */
export function byteaFromHex(text: string): Uint8Array {
  if (!text.startsWith('\\x')) throw new Error('a bytea result must be hex text (bytea_output = hex)')
  return new Uint8Array(Buffer.from(text.slice(2), 'hex'))
}
