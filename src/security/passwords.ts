import { hash, verify } from '@node-rs/argon2'

/** Algorithm.Argon2id (a const enum, which cannot be imported under verbatimModuleSyntax). */
const ARGON2ID = 2

/**
 * Passwords are stored only as argon2id hashes (PHC strings carry their own parameters, so the
 * cost can be raised later without breaking stored hashes). Hashing runs on libuv's thread pool.
 */
export class PasswordHasher {
  /** A hash of a random secret, verified against when the user is unknown so both paths cost the same. */
  private decoy: Promise<string>

  constructor(private readonly memoryKiB: number) {
    this.decoy = this.hash(crypto.randomUUID())
  }

  hash(password: string): Promise<string> {
    return hash(password, { algorithm: ARGON2ID, memoryCost: this.memoryKiB, timeCost: 2, parallelism: 1 })
  }

  /** stored null/undefined (unknown or closed user) still spends the time of a real verification. */
  async verify(stored: string | null | undefined, password: string): Promise<boolean> {
    if (!stored) {
      await verify(await this.decoy, password).catch(() => false)
      return false
    }
    try {
      return await verify(stored, password)
    } catch {
      return false
    }
  }
}
