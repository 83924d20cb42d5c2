import { createHmac, randomBytes } from 'node:crypto'

/**
 * Remembers, for a short time, that a password was verified against a stored hash, so that routes
 * which send the password on every call (payment, add_funds) do not pay a memory-hard hash each
 * time.
 *
 * An entry is an HMAC-SHA256, under a random key that lives only in this process's memory, of
 * (user id, stored hash, password): never the password or anything derived without the key.
 * Because the stored hash is part of the key, changing the password or closing the account
 * (which clears the hash) makes every earlier entry unreachable, in this process and in every other
 * one: nothing has to be told to forget. Entries expire after ttlMs and the cache holds at most
 * maxEntries (the oldest go first).
 *
 * The trade-off: someone who can read this process's memory could test password guesses for cached
 * users at HMAC speed instead of argon2 speed, for as long as the entry lives.
 */
export class VerifiedCache {
  private readonly key = randomBytes(32)
  private readonly entries = new Map<string, number>()

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  private id(userId: string, storedHash: string, password: string): string {
    return createHmac('sha256', this.key)
      .update(userId)
      .update('\0')
      .update(storedHash)
      .update('\0')
      .update(password)
      .digest('base64')
  }

  has(userId: string, storedHash: string, password: string): boolean {
    if (this.ttlMs <= 0) return false
    const id = this.id(userId, storedHash, password)
    const expires = this.entries.get(id)
    if (expires === undefined) return false
    if (expires <= this.now()) {
      this.entries.delete(id)
      return false
    }
    return true
  }

  add(userId: string, storedHash: string, password: string): void {
    if (this.ttlMs <= 0) return
    const id = this.id(userId, storedHash, password)
    this.entries.delete(id)
    this.entries.set(id, this.now() + this.ttlMs)
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
