import { LIMITS } from '../limits.ts'

/** Cents as money: 3879 → "¥38.79" (integer arithmetic, so no rounding surprises). */
export function money(cents: number): string {
  const sign = cents < 0 ? '-' : ''
  const abs = Math.abs(cents)
  const yuan = Math.floor(abs / 100).toLocaleString('en-US')
  return `${sign}¥${yuan}.${String(abs % 100).padStart(2, '0')}`
}

/**
 * An amount typed in yuan ("38.79", "100", "-5.5") as cents, or undefined when it is not one:
 * at most two decimals, within the limits of a balance change.
 */
export function parseYuan(
  text: string | undefined,
  opts: { allowNegative?: boolean } = {},
): number | undefined {
  const m = /^\s*(-)?(\d{1,13})(?:[.,](\d{1,2}))?\s*$/.exec(text ?? '')
  if (!m) return undefined
  if (m[1] && !opts.allowNegative) return undefined
  const cents = Number(m[2]) * 100 + Number((m[3] ?? '').padEnd(2, '0'))
  if (cents > LIMITS.maxMoney) return undefined
  return m[1] ? -cents : cents
}

/** A whole number typed into a form, within [min, max]. */
export function parseCount(text: string | undefined, min: number, max: number): number | undefined {
  if (!/^\s*\d{1,10}\s*$/.test(text ?? '')) return undefined
  const n = Number(text)
  return n >= min && n <= max ? n : undefined
}

/** A date and time as the shopper reads it, in the shop's time zone (China, UTC+8). */
export function when(iso: string | null, lang: 'zh' | 'en'): string {
  if (!iso) return ''
  const d = new Date(iso)
  return d.toLocaleString(lang === 'zh' ? 'zh-CN' : 'en-GB', {
    timeZone: 'Asia/Shanghai',
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  })
}
