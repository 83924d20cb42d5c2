/**
 * Configuration: read from the environment exactly once, at start, and validated.
 * Nothing else in the code base reads process.env.
 */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface Config {
  port: number
  host: string
  dataDir: string
  /** postgres://… to use a PostgreSQL server; undefined = embedded PGlite under dataDir */
  databaseUrl: string | undefined
  tokenTtlS: number
  orderPaymentTimeoutS: number
  orderAutoReceiveS: number
  sweepIntervalS: number
  logLevel: LogLevel
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
  tokenTtlS: 3600,
  orderPaymentTimeoutS: 1800,
  orderAutoReceiveS: 14 * 24 * 3600,
  sweepIntervalS: 5,
  logLevel: 'info',
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

/** Builds the configuration from an environment (process.env in server.ts). Throws ConfigError naming the variable. */
export function loadConfig(env: Env): Config {
  const host = env.HOST?.trim() || DEFAULTS.host
  if (/\s/.test(host)) throw new ConfigError(`HOST must be a host name or address, got "${host}"`)
  const databaseUrl = env.DATABASE_URL?.trim() || undefined
  if (databaseUrl !== undefined) {
    let url: URL
    try {
      url = new URL(databaseUrl)
    } catch {
      throw new ConfigError('DATABASE_URL must be a postgres:// or postgresql:// URL')
    }
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
      throw new ConfigError('DATABASE_URL must be a postgres:// or postgresql:// URL')
  }
  const logLevel = (env.LOG_LEVEL?.trim() || DEFAULTS.logLevel) as LogLevel
  if (!LOG_LEVELS.includes(logLevel))
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${env.LOG_LEVEL}"`)
  return {
    port: integer(env, 'PORT', 0, 65535, DEFAULTS.port),
    host,
    dataDir: env.DATA_DIR?.trim() || DEFAULTS.dataDir,
    databaseUrl,
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
    passwordMemoryKiB: DEFAULTS.passwordMemoryKiB,
    sweeper: DEFAULTS.sweeper,
  }
}
