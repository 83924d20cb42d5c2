import { createHmac, randomBytes } from 'node:crypto'

/**
 * Remembers, for a short time, that a password was verified against a stored hash, so that routes
 * which send the password on every call (payment, add_funds) do not pay a memory-hard hash each
 * time.
 *
 * An entry is found by an HMAC-SHA256, under a random key that lives only in this process's memory,
 * of (user id, password) — never the password or anything derived from it without the key — and
 * holds the stored hash the password was verified against. It counts only while that is still the
 * user's stored hash: changing the password or closing the account (which clears the hash) makes
 * every earlier entry void, in this process and in every other one, with nothing told to forget.
 * Payment uses this in its own statement (the debit happens only if the stored hash is still the
 * remembered one), so a remembered password costs no extra database round trip.
 * Entries expire after ttlMs and the cache holds at most maxEntries (the oldest go first).
 *
 * The trade-off: someone who can read this process's memory could test password guesses for cached
 * users at HMAC speed instead of argon2 speed, for as long as the entry lives.
 */
export class VerifiedCache {
  private readonly key = randomBytes(32)
  private readonly entries = new Map<string, { storedHash: string; expires: number }>()

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  private id(userId: string, password: string): string {
    return createHmac('sha256', this.key).update(userId).update('\0').update(password).digest('base64')
  }

  /** The stored hash this password was verified against a moment ago, if any. */
  storedHash(userId: string, password: string): string | undefined {
    if (this.ttlMs <= 0) return undefined
    const id = this.id(userId, password)
    const e = this.entries.get(id)
    if (e === undefined) return undefined
    if (e.expires <= this.now()) {
      this.entries.delete(id)
      return undefined
    }
    return e.storedHash
  }

  has(userId: string, storedHash: string, password: string): boolean {
    return this.storedHash(userId, password) === storedHash
  }

  add(userId: string, storedHash: string, password: string): void {
    if (this.ttlMs <= 0) return
    const id = this.id(userId, password)
    this.entries.delete(id)
    this.entries.set(id, { storedHash, expires: this.now() + this.ttlMs })
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value
      if (oldest === undefined) break
      this.entries.delete(oldest)
    }
  }

  get size(): number {
    return this.entries.size
  }
}
