import type { Queryable } from '../db/db.ts'

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
  const r = await q.query<{ user_id: string }>(
    'SELECT user_id FROM sessions WHERE token_hash = $1 AND expires_at > now()',
    [tokenHash],
    { name: 'session_user' },
  )
  return r.rows[0]?.user_id
}

export async function deleteSession(q: Queryable, tokenHash: Buffer, userId: string): Promise<boolean> {
  const r = await q.query(
    'DELETE FROM sessions WHERE token_hash = $1 AND user_id = $2 AND expires_at > now()',
    [tokenHash, userId],
  )
  return r.rowCount === 1
}

export async function deleteUserSessions(q: Queryable, userId: string): Promise<void> {
  await q.query('DELETE FROM sessions WHERE user_id = $1', [userId])
}

/** Housekeeping: expired sessions are dead already; this only frees the rows. */
export async function deleteExpiredSessions(q: Queryable, limit: number): Promise<number> {
  const r = await q.query(
    `DELETE FROM sessions WHERE token_hash IN (
       SELECT token_hash FROM sessions WHERE expires_at <= now() LIMIT $1)`,
    [limit],
  )
  return r.rowCount
}
