/**
 * The server's copy of the listings' columns the facets count by: store, price and tags, by doc. A
 * listing's are fixed from its insert on (no request changes them, and a doc is never reused), so a
 * copy read once stays true; only stock changes, and it is not copied. A doc is read the first time a
 * match holds it: its whole block when the block was never read, else the missing docs alone (listings
 * added since, or committed after the block was read).
 */
import type { Queryable } from '../db/db.ts'
import { query, sql } from '../db/sql.ts'
import { BITMAP_BLOCK } from '../search/encoding.ts'
import { PRICE_BUCKETS } from '../search/facets.ts'
import { offsetsOf, putBit } from './search/bitmaps.ts'

/** One block's columns, by offset in the block. */
export interface Block {
  /** The store's number (1…), 0 while the doc has not been read. */
  store: Int32Array
  price: Float64Array
  /** The price's bucket, an index of PRICE_BUCKETS. */
  bucket: Uint8Array
  /** Where the doc's tag numbers start in `tags`, and how many (each tag once). */
  tagAt: Int32Array
  tagCount: Uint16Array
  tags: Int32Array
  tagsUsed: number
  /** The docs read: a bit each, in bitmapBytes' layout, and how many. */
  present: Uint8Array
  presentCount: number
  /**
   * The facets of every doc read, by store number, PRICE_BUCKETS index and tag number (grown as
   * numbers are given): a match holding most of the block is counted as these less the docs it lacks.
   */
  all: { stores: Int32Array; price: Int32Array; tags: Int32Array }
}

/** A listing as read: [doc, store_id, price, tags]. */
type Row = [number, string, number, string[] | null]

/** A block read or being read: by whom, and the block once read. */
interface BlockRead {
  reader: Queryable
  reading: Promise<Block>
  read?: Block
}

export class FacetColumns {
  /** Blocks read or being read: searches and the read-ahead share a block's read (see `block`). */
  private readonly blocks = new Map<number, BlockRead>()
  private readonly storeNumbers = new Map<string, number>()
  private readonly tagNumbers = new Map<string, number>()
  /** Store ids and tags by number (number 0 unused). */
  readonly storeIds: string[] = ['']
  readonly tagValues: string[] = ['']

  /** The block's columns, with every doc whose bit `bits` sets read (bitmapBytes' layout). */
  async block(q: Queryable, block: number, bits: Uint8Array | null): Promise<Block> {
    const first = block * BITMAP_BLOCK
    const known = this.blocks.get(block)
    let b: Block
    if (known?.read) b = known.read
    else if (known && (known.reader === q || !('inTransaction' in q))) b = await known.reading
    else if (known) {
      // Another's read still under way: a transaction does not wait for it. That read may need the
      // connection this transaction holds: PGlite has one (the read-ahead's statement waits for the
      // open transaction, which would wait for it forever), and a pool can run out. It reads its own.
      b = await this.readBlock(q, first)
      if (!this.blocks.get(block)?.read)
        this.blocks.set(block, { reader: q, reading: Promise.resolve(b), read: b })
    } else {
      const read: BlockRead = { reader: q, reading: this.readBlock(q, first) }
      this.blocks.set(block, read)
      read.reading.then(
        (done) => {
          read.read = done
        },
        // A failed read is forgotten, so that the next search reads the block again.
        () => {
          if (this.blocks.get(block) === read) this.blocks.delete(block)
        },
      )
      b = await read.reading
    }
    // Docs the block's read did not see (added since, or committed after it) are read here, in the
    // search's own transaction, which sees them.
    const missing: number[] = []
    if (bits) {
      const { offsets, n } = offsetsOf(bits, b.present)
      for (let i = 0; i < n; i++) missing.push(first + (offsets[i] as number))
    }
    if (missing.length > 0) this.fill(b, await this.read(q, sql`l.doc = ANY(${missing}::bigint[])`))
    return b
  }

  private async readBlock(q: Queryable, first: number): Promise<Block> {
    const b: Block = {
      store: new Int32Array(BITMAP_BLOCK),
      price: new Float64Array(BITMAP_BLOCK),
      bucket: new Uint8Array(BITMAP_BLOCK),
      tagAt: new Int32Array(BITMAP_BLOCK),
      tagCount: new Uint16Array(BITMAP_BLOCK),
      tags: new Int32Array(4 * BITMAP_BLOCK),
      tagsUsed: 0,
      present: new Uint8Array(BITMAP_BLOCK / 8),
      presentCount: 0,
      all: {
        stores: new Int32Array(0),
        price: new Int32Array(PRICE_BUCKETS.length),
        tags: new Int32Array(0),
      },
    }
    this.fill(b, await this.read(q, sql`l.doc >= ${first} AND l.doc < ${first + BITMAP_BLOCK}`))
    return b
  }

  /**
   * Reads every block not read yet, newest first, a statement each, until all are or `stop()` says
   * so; returns how many it read. The server runs it once at start, so that the first searches do
   * not each wait for the blocks they touch (at 1 000 000 listings about 60 ms a block, 4 s in all).
   */
  async warm(q: Queryable, stop: () => boolean): Promise<number> {
    const r = await query<{ last: number | null }>(q, sql`SELECT max(doc)::float8 AS last FROM listings`)
    const last = r.rows[0]?.last
    let read = 0
    if (last === null || last === undefined) return read
    for (let block = Math.floor(last / BITMAP_BLOCK); block >= 0 && !stop(); block--)
      if (!this.blocks.has(block)) {
        await this.block(q, block, null)
        read++
      }
    return read
  }

  private async read(q: Queryable, where: ReturnType<typeof sql>): Promise<Row[]> {
    // One JSON value rather than a row per listing: parsed at once, a tenth of the time.
    const r = await query<{ rows: Row[] }>(
      q,
      sql`SELECT coalesce(json_agg(json_build_array(l.doc, l.store_id, l.price, l.tags)), '[]') AS rows
            FROM listings l WHERE ${where}`,
    )
    return r.rows[0]?.rows ?? []
  }

  private fill(b: Block, rows: Row[]) {
    const { all } = b
    for (const [doc, storeId, price, tags] of rows) {
      const at = doc % BITMAP_BLOCK
      // Two searches may read the same missing doc at once: it is added once.
      if (b.store[at] !== 0) continue
      const store = number(this.storeNumbers, this.storeIds, storeId)
      b.store[at] = store
      b.price[at] = price
      const bucket = bucketOf(price)
      b.bucket[at] = bucket
      putBit(b.present, at, true)
      b.presentCount++
      all.stores = counted(all.stores, store)
      all.price[bucket] = (all.price[bucket] as number) + 1
      // A listing may repeat a tag; it counts once.
      const distinct = [...new Set(tags ?? [])]
      if (b.tagsUsed + distinct.length > b.tags.length) {
        const grown = new Int32Array(Math.max(2 * b.tags.length, b.tagsUsed + distinct.length))
        grown.set(b.tags.subarray(0, b.tagsUsed))
        b.tags = grown
      }
      b.tagAt[at] = b.tagsUsed
      b.tagCount[at] = distinct.length
      for (const tag of distinct) {
        const n = number(this.tagNumbers, this.tagValues, tag)
        b.tags[b.tagsUsed++] = n
        all.tags = counted(all.tags, n)
      }
    }
  }
}

/** `counts` with one more at index i, grown (to the next power of two) when too short for it. */
function counted(counts: Int32Array, i: number): Int32Array {
  let out = counts
  if (i >= counts.length) {
    out = new Int32Array(2 ** Math.ceil(Math.log2(i + 1)))
    out.set(counts)
  }
  out[i] = (out[i] as number) + 1
  return out
}

/** The lower bounds of the price buckets after the first. */
const BUCKET_STARTS = PRICE_BUCKETS.slice(1).map((b) => b.min)

/** The price bucket (an index of PRICE_BUCKETS) of a price. */
function bucketOf(price: number): number {
  let i = 0
  while (i < BUCKET_STARTS.length && price >= (BUCKET_STARTS[i] as number)) i++
  return i
}

/** The number of a store or tag, given on first sight. */
function number(numbers: Map<string, number>, values: string[], value: string): number {
  let n = numbers.get(value)
  if (n === undefined) {
    n = values.length
    values.push(value)
    numbers.set(value, n)
  }
  return n
}
