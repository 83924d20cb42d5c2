import { Exists, Unauthorized } from '../errors.ts'
import * as sessions from '../repositories/sessions.ts'
import * as users from '../repositories/users.ts'
import { newToken, tokenHash } from '../security/tokens.ts'
import { VerifiedCache } from '../security/verified-cache.ts'
import type { Deps } from './context.ts'
import { settleOpenOrders } from './orders.ts'

/** The two ways a token route refuses its caller (also used where the check is folded into SQL). */
export const MissingToken = () => Unauthorized('missing token')
export const InvalidToken = () => Unauthorized('invalid token')

export class AuthService {
  /** Recently verified passwords, for the routes that send one with every call. */
  private readonly verified: VerifiedCache

  constructor(private readonly deps: Deps) {
    this.verified = new VerifiedCache(deps.config.passwordCacheTtlS * 1000, 10_000)
  }

  async register(userId: string, password: string): Promise<void> {
    const hash = await this.deps.hasher.hash(password)
    if (!(await users.insertUser(this.deps.db, userId, hash))) throw Exists('user', userId)
  }

  /**
   * The user's password, checked; unknown users, closed accounts and wrong passwords all fail the
   * same way and take the same time. With `remembered`, a password verified a moment ago is
   * accepted without hashing again (payment and add_funds send it with every call); a wrong one
   * always costs a full verification.
   */
  async checkPassword(userId: string, password: string, remembered = false): Promise<users.UserRow> {
    const user = await users.findUser(this.deps.db, userId)
    const stored = user?.password_hash
    if (remembered && user && stored && this.verified.has(userId, stored, password)) return user
    const ok = await this.deps.hasher.verify(stored, password)
    if (!user || !stored || !ok) throw Unauthorized()
    if (remembered) this.verified.add(userId, stored, password)
    return user
  }

  /** The stored hash this password was verified against a moment ago (see VerifiedCache), if any. */
  rememberedHash(userId: string, password: string): string | undefined {
    return this.verified.storedHash(userId, password)
  }

  async login(userId: string, password: string, terminal: string): Promise<string> {
    await this.checkPassword(userId, password)
    const token = newToken()
    await sessions.upsertSession(this.deps.db, userId, terminal, tokenHash(token), this.deps.config.tokenTtlS)
    return token
  }

  async logout(userId: string, token: string | undefined): Promise<void> {
    if (!token || !(await sessions.deleteSession(this.deps.db, tokenHash(token), userId)))
      throw Unauthorized()
  }

  async changePassword(userId: string, oldPassword: string, newPassword: string): Promise<void> {
    await this.checkPassword(userId, oldPassword)
    const hash = await this.deps.hasher.hash(newPassword)
    await this.deps.db.transaction(async (tx) => {
      if (!(await users.setPasswordHash(tx, userId, hash))) throw Unauthorized()
      await sessions.deleteUserSessions(tx, userId)
    })
  }

  /**
   * Closes the account: its open orders (as buyer and in its stores) are cancelled with refunds,
   * sessions end, credentials are wiped, the id stays reserved for its history.
   */
  async unregister(userId: string, password: string): Promise<void> {
    await this.checkPassword(userId, password)
    await this.deps.db.transaction(async (tx) => {
      await settleOpenOrders(tx, userId)
      if (!(await users.closeUser(tx, userId))) throw Unauthorized()
      await sessions.deleteUserSessions(tx, userId)
    })
  }

  /** The user a live token belongs to (the web shop's cookie carries the same tokens). */
  async sessionOwner(token: string): Promise<string | undefined> {
    return sessions.sessionUser(this.deps.db, tokenHash(token))
  }

  /** The token must be live and belong to userId. */
  async authenticate(token: string | undefined, userId: string): Promise<void> {
    if (!token) throw MissingToken()
    const owner = await sessions.sessionUser(this.deps.db, tokenHash(token))
    if (owner !== userId) throw InvalidToken()
  }
}
