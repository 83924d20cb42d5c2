import type { Queryable } from '../db/db.ts'
import { type Bound, query, type Sql, sql } from '../db/sql.ts'

export interface StoreRow {
  store_id: string
  owner_id: string
  /** The owner closed their account: the store takes no new orders. */
  owner_closed: boolean
}

export async function insertStore(q: Queryable, storeId: string, ownerId: string): Promise<boolean> {
  const r = await q.query(
    'INSERT INTO stores (store_id, owner_id) VALUES ($1, $2) ON CONFLICT (store_id) DO NOTHING',
    [storeId, ownerId],
  )
  return r.rowCount === 1
}

/** Whether a user may manage a store: as storeOwnership and add_book's statement read it. */
export interface StoreOwnership {
  /** The user exists and is open; null when there is no such user. */
  user_open: boolean | null
  /** The store's owner; null when there is no such store. */
  owner_id: string | null
}

/** The columns of StoreOwnership for a user and a store. */
export const ownershipSql = (user: Bound | string, store: Bound | string): Sql =>
  sql`(SELECT u.closed_at IS NULL FROM users u WHERE u.user_id = ${user}) AS user_open,
      (SELECT s.owner_id FROM stores s WHERE s.store_id = ${store}) AS owner_id`

/** What a seller's request checks before it touches a store, read in one statement. */
export async function storeOwnership(q: Queryable, userId: string, storeId: string): Promise<StoreOwnership> {
  const r = await query<StoreOwnership>(q, sql`SELECT ${ownershipSql(userId, storeId)}`, {
    name: 'store_ownership',
  })
  return r.rows[0] ?? { user_open: null, owner_id: null }
}

export async function findStore(q: Queryable, storeId: string): Promise<StoreRow | undefined> {
  const r = await q.query<StoreRow>(
    `SELECT s.store_id, s.owner_id, u.closed_at IS NOT NULL AS owner_closed
       FROM stores s JOIN users u ON u.user_id = s.owner_id WHERE s.store_id = $1`,
    [storeId],
    { name: 'find_store' },
  )
  return r.rows[0]
}

/** The stores a seller owns, by name. */
export async function storesOf(q: Queryable, ownerId: string): Promise<string[]> {
  const r = await q.query<{ store_id: string }>(
    'SELECT store_id FROM stores WHERE owner_id = $1 ORDER BY store_id',
    [ownerId],
  )
  return r.rows.map((row) => row.store_id)
}
