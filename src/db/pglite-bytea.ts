/**
 * How bytea crosses PGlite's protocol: parameters as their bytes where it allows, else as hex text;
 * results as hex text (bytea_output's default), decoded by Node.
 */

export const BYTEA_OID = 17
export const BYTEA_ARRAY_OID = 1001

/**
 * A bytea parameter is sent as its bytes (the protocol's binary format, which PGlite uses for any
 * byte array a serializer returns). PGlite's own serializer writes hex text one JavaScript string per
 * byte, and then counts and encodes the text again: about 10 ms for a 60 KB picture, most of a
 * catalogue import's time before this (docs/decisions/2026-12-06-import-speed.md).
 */
export function byteaBinary(value: unknown): string {
  if (!(value instanceof Uint8Array)) throw new Error('a bytea parameter must be a Uint8Array')
  return value as unknown as string // PGlite's serializer type says string; bytes pass through as binary
}

/** PostgreSQL's hex text of bytes, written by Node's hex encoder. */
export function byteaText(value: unknown): string {
  if (!(value instanceof Uint8Array)) throw new Error('a bytea parameter must be a Uint8Array')
  return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`
}

/** A bytea[] parameter as an array literal of hex texts (quoted, their backslash escaped). */
export function byteaArrayText(value: unknown): string {
  if (!Array.isArray(value)) throw new Error('a bytea[] parameter must be an array')
  return `{${value.map((v) => (v === null || v === undefined ? 'NULL' : `"\\${byteaText(v)}"`)).join(',')}}`
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
