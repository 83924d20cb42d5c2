import type { Queryable } from '../db/db.ts'
import { type Bound, query, type Sql, sql } from '../db/sql.ts'

/**
 * The rule of a live session, written once: the token's hash is a row of sessions, not past its
 * expiry, and (when a user is named) that user's. Every statement that accepts a token uses it:
 * sessionUser (who is calling), deleteSession (logout) and placeOrder (the session check inside the
 * order statement). A fragment of the statement rather than an SQL function, so that the planner sees
 * the conditions and looks the token up in the primary key, and no migration is needed to change it.
 * Expired rows stay until the sweep deletes them (deleteExpiredSessions); they are dead already.
 */
export const liveSession = (tokenHash: Buffer | Bound, userId?: string | Bound): Sql =>
  sql`token_hash = ${tokenHash}${userId === undefined ? sql.empty : sql` AND user_id = ${userId}`} AND expires_at > now()`

/** Starts a session, replacing the one the same terminal had. */
export async function upsertSession(
  q: Queryable,
  userId: string,
  terminal: string,
  tokenHash: Buffer,
  ttlS: number,
): Promise<void> {
  await q.query(
    `INSERT INTO sessions (token_hash, user_id, terminal, expires_at)
     VALUES ($1, $2, $3, now() + make_interval(secs => $4))
     ON CONFLICT (user_id, terminal) DO UPDATE
       SET token_hash = EXCLUDED.token_hash, created_at = now(), expires_at = EXCLUDED.expires_at`,
    [tokenHash, userId, terminal, ttlS],
  )
}

/** The user a live token belongs to. */
export async function sessionUser(q: Queryable, tokenHash: Buffer): Promise<string | undefined> {
  const r = await query<{ user_id: string }>(
    q,
    sql`SELECT user_id FROM sessions WHERE ${liveSession(tokenHash)}`,
    { name: 'session_user' },
  )
  return r.rows[0]?.user_id
}

export async function deleteSession(q: Queryable, tokenHash: Buffer, userId: string): Promise<boolean> {
  const r = await query(q, sql`DELETE FROM sessions WHERE ${liveSession(tokenHash, userId)}`)
  return r.rowCount === 1
}

export async function deleteUserSessions(q: Queryable, userId: string): Promise<void> {
  await q.query('DELETE FROM sessions WHERE user_id = $1', [userId])
}

/** Housekeeping: expired sessions (not live, see liveSession) are dead already; this only frees the rows. */
export async function deleteExpiredSessions(q: Queryable, limit: number): Promise<number> {
  const r = await q.query(
    `DELETE FROM sessions WHERE token_hash IN (
       SELECT token_hash FROM sessions WHERE expires_at <= now() LIMIT $1)`,
    [limit],
  )
  return r.rowCount
}
