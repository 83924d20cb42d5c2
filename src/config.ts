/**
 * Configuration: read from the environment exactly once, at start, and validated.
 * Nothing else in the code base reads process.env.
 */
import { availableParallelism } from 'node:os'

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface Config {
  port: number
  host: string
  dataDir: string
  /** postgres://… to use a PostgreSQL server; undefined = embedded PGlite under dataDir */
  databaseUrl: string | undefined
  /** postgres://… read-only streaming replicas of databaseUrl, for reads that may lag (src/db/replicas.ts) */
  replicaUrls: string[]
  /** A replica further behind than this is skipped until it catches up. */
  replicaMaxLagS: number
  tokenTtlS: number
  orderPaymentTimeoutS: number
  orderAutoReceiveS: number
  sweepIntervalS: number
  logLevel: LogLevel
  /** Server processes (cluster mode); more than 1 needs DATABASE_URL. */
  workers: number
  /** Connections per process to a PostgreSQL server. */
  dbPoolSize: number
  /** How long a verified password is remembered for payment and add_funds (0: never). */
  passwordCacheTtlS: number
  /** Abuse limits on the password routes, per window (0: no limit). */
  rateLimitWindowS: number
  rateLimitFailuresPerUser: number
  rateLimitFailuresPerIp: number
  rateLimitRequestsPerIp: number
  /** Longest time to receive a whole request. */
  requestTimeoutS: number
  /** Take the client address from X-Forwarded-For (set it when a reverse proxy is in front). */
  trustProxy: boolean
  /** argon2id memory cost in KiB (not an environment variable: tests lower it to run fast) */
  passwordMemoryKiB: number
  /** Run the background order sweep in this process (not an environment variable: tests may drive it by hand) */
  sweeper: boolean
}

export const DEFAULTS: Config = {
  port: 5000,
  host: '127.0.0.1',
  dataDir: './data',
  databaseUrl: undefined,
  replicaUrls: [],
  replicaMaxLagS: 5,
  tokenTtlS: 3600,
  orderPaymentTimeoutS: 1800,
  orderAutoReceiveS: 14 * 24 * 3600,
  sweepIntervalS: 5,
  logLevel: 'info',
  workers: 1,
  // Two connections per core: more only queue inside PostgreSQL, where concurrent orders wait on
  // each other's row locks and the backends fight for the cores (measured in README, Performance).
  dbPoolSize: Math.max(4, 2 * availableParallelism()),
  passwordCacheTtlS: 300,
  rateLimitWindowS: 300,
  rateLimitFailuresPerUser: 10,
  rateLimitFailuresPerIp: 100,
  rateLimitRequestsPerIp: 0,
  requestTimeoutS: 30,
  trustProxy: false,
  passwordMemoryKiB: 19456,
  sweeper: true,
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export class ConfigError extends Error {
  override name = 'ConfigError'
}

type Env = Record<string, string | undefined>

function integer(env: Env, name: string, min: number, max: number, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`)
  const n = Number(raw)
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${raw}`)
  return n
}

function seconds(env: Env, name: string, min: number, max: number, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  if (!/^\d+(\.\d+)?$/.test(raw.trim()))
    throw new ConfigError(`${name} must be a number of seconds, got "${raw}"`)
  const n = Number(raw)
  if (n < min || n > max)
    throw new ConfigError(`${name} must be between ${min} and ${max} seconds, got ${raw}`)
  return n
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase()
  if (raw === undefined || raw === '') return fallback
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true
  if (['0', 'false', 'no', 'off'].includes(raw)) return false
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`)
}

function postgresUrl(name: string, raw: string): string {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new ConfigError(`${name} must be a postgres:// or postgresql:// URL`)
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw new ConfigError(`${name} must be a postgres:// or postgresql:// URL`)
  return raw
}

/** DATABASE_REPLICA_URLS: a comma-separated list of distinct postgres:// URLs (blank entries ignored). */
function replicaUrls(env: Env, databaseUrl: string | undefined): string[] {
  const name = 'DATABASE_REPLICA_URLS'
  const urls = (env[name] ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '')
  if (urls.length === 0) return []
  if (!databaseUrl)
    throw new ConfigError(`${name} needs DATABASE_URL: replicas are copies of a PostgreSQL server`)
  for (const u of urls) postgresUrl(name, u)
  if (new Set(urls).size !== urls.length) throw new ConfigError(`${name} lists the same URL twice`)
  if (urls.includes(databaseUrl)) throw new ConfigError(`${name} must not list DATABASE_URL itself`)
  return urls
}

/** Builds the configuration from an environment (process.env in server.ts). Throws ConfigError naming the variable. */
export function loadConfig(env: Env): Config {
  const host = env.HOST?.trim() || DEFAULTS.host
  if (/\s/.test(host)) throw new ConfigError(`HOST must be a host name or address, got "${host}"`)
  const databaseUrl = env.DATABASE_URL?.trim() || undefined
  if (databaseUrl !== undefined) postgresUrl('DATABASE_URL', databaseUrl)
  const logLevel = (env.LOG_LEVEL?.trim() || DEFAULTS.logLevel) as LogLevel
  if (!LOG_LEVELS.includes(logLevel))
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${env.LOG_LEVEL}"`)
  const workers = integer(env, 'WORKERS', 1, 64, DEFAULTS.workers)
  if (workers > 1 && !databaseUrl)
    throw new ConfigError('WORKERS above 1 needs DATABASE_URL: the embedded database belongs to one process')
  return {
    port: integer(env, 'PORT', 0, 65535, DEFAULTS.port),
    host,
    dataDir: env.DATA_DIR?.trim() || DEFAULTS.dataDir,
    databaseUrl,
    replicaUrls: replicaUrls(env, databaseUrl),
    replicaMaxLagS: seconds(env, 'REPLICA_MAX_LAG_S', 0.1, 86400, DEFAULTS.replicaMaxLagS),
    tokenTtlS: integer(env, 'TOKEN_TTL_S', 1, 10 * 365 * 24 * 3600, DEFAULTS.tokenTtlS),
    orderPaymentTimeoutS: seconds(
      env,
      'ORDER_PAYMENT_TIMEOUT_S',
      0.001,
      365 * 24 * 3600,
      DEFAULTS.orderPaymentTimeoutS,
    ),
    orderAutoReceiveS: seconds(
      env,
      'ORDER_AUTO_RECEIVE_S',
      0.001,
      10 * 365 * 24 * 3600,
      DEFAULTS.orderAutoReceiveS,
    ),
    sweepIntervalS: seconds(env, 'SWEEP_INTERVAL_S', 0.01, 3600, DEFAULTS.sweepIntervalS),
    logLevel,
    workers,
    dbPoolSize: integer(env, 'DB_POOL_SIZE', 1, 1000, DEFAULTS.dbPoolSize),
    passwordCacheTtlS: integer(env, 'PASSWORD_CACHE_TTL_S', 0, 86400, DEFAULTS.passwordCacheTtlS),
    rateLimitWindowS: integer(env, 'RATE_LIMIT_WINDOW_S', 1, 86400, DEFAULTS.rateLimitWindowS),
    rateLimitFailuresPerUser: integer(
      env,
      'RATE_LIMIT_FAILURES_PER_USER',
      0,
      1_000_000,
      DEFAULTS.rateLimitFailuresPerUser,
    ),
    rateLimitFailuresPerIp: integer(
      env,
      'RATE_LIMIT_FAILURES_PER_IP',
      0,
      1_000_000,
      DEFAULTS.rateLimitFailuresPerIp,
    ),
    rateLimitRequestsPerIp: integer(
      env,
      'RATE_LIMIT_REQUESTS_PER_IP',
      0,
      100_000_000,
      DEFAULTS.rateLimitRequestsPerIp,
    ),
    requestTimeoutS: integer(env, 'REQUEST_TIMEOUT_S', 1, 3600, DEFAULTS.requestTimeoutS),
    trustProxy: boolean(env, 'TRUST_PROXY', DEFAULTS.trustProxy),
    passwordMemoryKiB: DEFAULTS.passwordMemoryKiB,
    sweeper: DEFAULTS.sweeper,
  }
}
