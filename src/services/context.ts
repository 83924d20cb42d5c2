import type { Config } from '../config.ts'
import type { Db } from '../db/db.ts'
import type { Metrics } from '../metrics.ts'
import type { PasswordHasher } from '../security/passwords.ts'

/** What every service needs; built once per app, never a module-level singleton. */
export interface Deps {
  db: Db
  config: Config
  hasher: PasswordHasher
  metrics: Metrics
}
