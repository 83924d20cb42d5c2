/** Argument parsers for the commander options of the `bookstore` command and its tools. */
import { InvalidArgumentError } from 'commander'

/** A whole number ≥ 0, digits only. */
export function wholeNumber(raw: string): number {
  if (!/^\d+$/.test(raw)) throw new InvalidArgumentError('expected a whole number')
  return Number(raw)
}

/** A whole number > 0. */
export function positiveNumber(raw: string): number {
  const n = wholeNumber(raw)
  if (n === 0) throw new InvalidArgumentError('expected a whole number above 0')
  return n
}

/** A positive number, fractions allowed (seconds). */
export function positiveDecimal(raw: string): number {
  const n = Number(raw)
  if (!/^\d+(\.\d+)?$/.test(raw) || n <= 0) throw new InvalidArgumentError('expected a number above 0')
  return n
}

/** A large count, readable: 100000, 100_000, 100k or 1m. */
export function quantity(raw: string): number {
  const m = /^(\d[\d_]*)([km]?)$/i.exec(raw)
  if (!m?.[1]) throw new InvalidArgumentError('expected a whole number (100000, 100_000, 100k or 1m)')
  const unit = m[2]?.toLowerCase()
  return Number(m[1].replaceAll('_', '')) * (unit === 'k' ? 1000 : unit === 'm' ? 1_000_000 : 1)
}
