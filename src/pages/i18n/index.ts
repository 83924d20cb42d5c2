import type { ErrorKind } from '../../errors.ts'
import { en } from './en.ts'
import { zh } from './zh.ts'

/** Every page string has a key in each language's catalogue; English is the reference set of keys. */
export type MessageKey = keyof typeof en
export type Catalogue = Record<MessageKey, string>
export type Lang = 'zh' | 'en'
export const LANGS: readonly Lang[] = ['zh', 'en']
export const CATALOGUES: Record<Lang, Catalogue> = { zh, en }

/** The shop's own language when a visitor states no preference. */
export const DEFAULT_LANG: Lang = 'zh'

export type Translate = (key: MessageKey, values?: Record<string, string | number>) => string

export function translator(lang: Lang): Translate {
  const strings = CATALOGUES[lang]
  return (key, values) => {
    const text = strings[key]
    return values ? text.replace(/\{(\w+)\}/g, (m, name: string) => String(values[name] ?? m)) : text
  }
}

/** zh-CN, zh-TW, en-GB, … → the page language; undefined for any other. */
function langOf(tag: string): Lang | undefined {
  const primary = tag.trim().toLowerCase().split('-')[0]
  return primary === 'zh' ? 'zh' : primary === 'en' ? 'en' : undefined
}

/** The language a visitor asked for: the switch (?lang=), then the cookie, then Accept-Language. */
export function chooseLang(query: unknown, cookie: unknown, acceptLanguage: string | undefined): Lang {
  for (const v of [query, cookie])
    if (typeof v === 'string' && (LANGS as string[]).includes(v)) return v as Lang
  let best: { lang: Lang; q: number } | undefined
  for (const part of (acceptLanguage ?? '').split(',').slice(0, 20)) {
    const [tag = '', ...params] = part.split(';')
    const lang = langOf(tag)
    if (!lang) continue
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    const q = qParam ? Number(qParam.slice(2)) : 1
    if (Number.isFinite(q) && q > 0 && (!best || q > best.q)) best = { lang, q }
  }
  return best?.lang ?? DEFAULT_LANG
}

/** What a shopper is told when a service refuses: one sentence per kind of domain error. */
export function errorText(t: Translate, info: ErrorKind): string {
  switch (info.kind) {
    case 'unauthorized':
      return t('error.unauthorized')
    case 'bad_request':
      return t('error.bad_request', { field: info.field })
    case 'rate_limited':
      return t('error.rate_limited', { s: info.retryAfterS })
    case 'not_found':
      return t(`error.not_found.${info.entity}`)
    case 'exists':
      return t(`error.exists.${info.entity}`)
    case 'stock_low':
      return t('error.stock_low')
    case 'funds_low':
      return t('error.funds_low')
    case 'order_state':
      return t(`error.order_state.${info.state}`)
  }
}
