import type { Queryable, Tx } from '../db/db.ts'
import { LIMITS } from '../limits.ts'

export interface UserRow {
  user_id: string
  password_hash: string | null
  balance: number
  closed_at: Date | null
}

/** false when the id is taken (also by a closed account). */
export async function insertUser(q: Queryable, userId: string, passwordHash: string): Promise<boolean> {
  const r = await q.query(
    'INSERT INTO users (user_id, password_hash) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING',
    [userId, passwordHash],
  )
  return r.rowCount === 1
}

export async function findUser(q: Queryable, userId: string): Promise<UserRow | undefined> {
  const r = await q.query<UserRow>(
    'SELECT user_id, password_hash, balance, closed_at FROM users WHERE user_id = $1',
    [userId],
    { name: 'find_user' },
  )
  return r.rows[0]
}

export async function setPasswordHash(q: Queryable, userId: string, passwordHash: string): Promise<boolean> {
  const r = await q.query('UPDATE users SET password_hash = $2 WHERE user_id = $1 AND closed_at IS NULL', [
    userId,
    passwordHash,
  ])
  return r.rowCount === 1
}

/** Closes the account: the id stays taken (orders and stores keep pointing at it), no one can sign in. */
export async function closeUser(q: Queryable, userId: string): Promise<boolean> {
  const r = await q.query(
    'UPDATE users SET password_hash = NULL, closed_at = now() WHERE user_id = $1 AND closed_at IS NULL',
    [userId],
  )
  return r.rowCount === 1
}

export type BalanceChange =
  | { ok: true; balance: number }
  | { ok: false; reason: 'insufficient' | 'limit' | 'no_user' }

/**
 * Adds delta (negative: withdrawal) to an open account's balance and records it in the ledger, in
 * one guarded statement: the balance never goes below 0 or above the limit.
 */
export async function depositOrWithdraw(tx: Tx, userId: string, delta: number): Promise<BalanceChange> {
  const r = await tx.query<{ balance: number }>(
    `WITH u AS (
       UPDATE users SET balance = balance + $2::bigint
        WHERE user_id = $1 AND closed_at IS NULL AND balance + $2::bigint BETWEEN 0 AND $3::bigint
       RETURNING balance
     ), l AS (
       INSERT INTO ledger (user_id, kind, amount)
       SELECT $1, CASE WHEN $2::bigint > 0 THEN 'deposit' ELSE 'withdrawal' END, $2::bigint FROM u WHERE $2::bigint <> 0
     )
     SELECT balance FROM u`,
    [userId, delta, LIMITS.maxMoney],
  )
  const row = r.rows[0]
  if (row) return { ok: true, balance: row.balance }
  const user = await findUser(tx, userId)
  if (!user || user.closed_at) return { ok: false, reason: 'no_user' }
  // Decided by the sign, not by the balance read now: a concurrent change may have committed since
  // the guarded update, and only a withdrawal can go below 0, only a deposit above the limit.
  return { ok: false, reason: delta < 0 ? 'insufficient' : 'limit' }
}
