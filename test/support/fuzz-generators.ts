/**
 * The generators of the property-based tests (fuzz.test.ts): hostile values, a valid request per
 * route and the mutations that spoil it, tokens, content types, encodings, paths and query strings.
 */
import fc from 'fast-check'
import { bookInfo, type Shop, type User, uid } from './helpers.ts'

/** Entities the generated requests refer to, so that many of them get past validation. */
export interface Fixture {
  shop: Shop
  otherShop: Shop
  buyer: User
  unpaidOrder: string
  paidOrder: string
}

// Hostile values

/** Marks text to be put into the JSON body as it is (numbers JSON can carry but JavaScript cannot). */
const raw = (text: string) => `@@raw:${text}@@`
const RAW_TOKENS = [
  '1e400',
  '-1e400',
  '1e-400',
  '123456789012345678901234567890',
  '-0',
  '1.0',
  '1E2',
  '0.1e1',
  '9007199254740993',
  // Not JSON at all: the whole body must be refused as malformed.
  'NaN',
  'Infinity',
  '-Infinity',
  'undefined',
  '01',
  '0x10',
  "'single'",
  // Escapes that decode to what PostgreSQL text cannot hold.
  '"\\u0000"',
  '"a\\u0000b"',
  '"\\ud800"',
  '"\\udfff\\ud800"',
  // Prototype pollution, written as JSON text so the keys really arrive as own keys.
  '{"__proto__":{"polluted":"yes"}}',
  '{"constructor":{"prototype":{"polluted":"yes"}}}',
  '{"a":1,"a":2}',
]
export function render(value: unknown): string {
  return JSON.stringify(value).replace(/"@@raw:((?:[^@]|@(?!@))*)@@"/g, (_m, text: string) =>
    JSON.parse(`"${text}"`),
  )
}

const SPECIAL_STRINGS = [
  '',
  ' ',
  '0',
  '-1',
  'null',
  'true',
  '[]',
  '{}',
  "' OR '1'='1",
  "'; DROP TABLE users; --",
  'x"); DELETE FROM orders; --',
  '$1',
  '\\',
  '"}]},{"user_id":"admin',
  '%00',
  '%s%s%n',
  '$' + '{process.exit()}',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'a\u0000b',
  '\u0000',
  '\ud800',
  'x\udc00',
  '\u202eevil',
  '\ufeffbom',
  '😀🎉👩‍👩‍👧',
  '书店 北京',
  '𝕏'.repeat(300),
  'é'.repeat(256),
  'x'.repeat(255),
  'x'.repeat(256),
  'x'.repeat(1025),
]
const BIG_STRINGS = ['x'.repeat(100_000), '😀'.repeat(25_000), `${'\u0000'}${'y'.repeat(100_000)}`]

const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...SPECIAL_STRINGS) },
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 300 }) },
  { weight: 1, arbitrary: fc.constantFrom(...BIG_STRINGS) },
)

const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    1,
    -1,
    1.5,
    2 ** 31,
    2 ** 31 - 1,
    -(2 ** 31),
    2 ** 53,
    -(2 ** 53),
    1e15,
    1e21,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
  ),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
)

const KEYS = [
  'user_id',
  'password',
  'store_id',
  'book_id',
  'order_id',
  'books',
  'book_info',
  'id',
  'count',
  'title',
  'price',
  'add_value',
  'stock_level',
  'add_stock_level',
  'terminal',
  'oldPassword',
  'newPassword',
  'tags',
  'pictures',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '',
  '😀',
  'a\u0000b',
]
const hostileKey = fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 10 }))

function nest(leaf: unknown, levels: number, asArray: boolean): unknown {
  let v = leaf
  for (let i = 0; i < levels; i++) v = asArray ? [v] : { k: v }
  return v
}

export const hostileValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 4, arbitrary: hostileString },
    { weight: 3, arbitrary: hostileNumber },
    { weight: 2, arbitrary: fc.constantFrom(null, true, false) },
    { weight: 2, arbitrary: fc.constantFrom(...RAW_TOKENS).map(raw) },
    { weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 4 }) },
    { weight: 1, arbitrary: fc.dictionary(hostileKey, tie('value'), { maxKeys: 4 }) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.oneof(hostileString, fc.constant(raw('"\\u0000"'))),
          fc.integer({ min: 1, max: 80 }),
          fc.boolean(),
        )
        .map(([leaf, levels, asArray]) => nest(leaf, levels, asArray)),
    },
  ),
})).value

// ---------------------------------------------------------------------------------------------
// Requests: a valid template per route, then hostile mutations of body, headers and URL

type Body = Record<string, unknown>
export interface RouteCase {
  url: string
  /** The body a well-behaved client would send, for the given actor. */
  valid: (actor: User) => Body
  /** Whether a successful call would spoil the shared fixture (then a throwaway user acts). */
  destructive?: boolean
  seller?: boolean
}

/** A valid template per route, for the entities of the fixture. */
export const routeCases = (fx: Fixture): RouteCase[] => [
  { url: '/auth/register', valid: () => ({ user_id: uid('fuzz'), password: 'pw' }) },
  { url: '/auth/login', valid: (u) => ({ user_id: u.userId, password: u.password, terminal: 'fuzz' }) },
  { url: '/auth/unregister', destructive: true, valid: (u) => ({ user_id: u.userId, password: u.password }) },
  {
    url: '/auth/password',
    destructive: true,
    valid: (u) => ({ user_id: u.userId, oldPassword: u.password, newPassword: 'new' }),
  },
  { url: '/auth/logout', destructive: true, valid: (u) => ({ user_id: u.userId }) },
  {
    url: '/buyer/add_funds',
    valid: (u) => ({ user_id: u.userId, password: u.password, add_value: 100 }),
  },
  {
    url: '/buyer/new_order',
    valid: (u) => ({
      user_id: u.userId,
      store_id: fx.shop.storeId,
      books: [
        { id: fx.shop.bookIds[0], count: 1 },
        { id: fx.shop.bookIds[1], count: 2 },
      ],
    }),
  },
  {
    url: '/buyer/payment',
    valid: (u) => ({ user_id: u.userId, order_id: fx.unpaidOrder, password: u.password }),
  },
  {
    url: '/seller/create_store',
    seller: true,
    valid: (u) => ({ user_id: u.userId, store_id: uid('fuzz_store') }),
  },
  {
    url: '/seller/add_book',
    seller: true,
    valid: (u) => ({
      user_id: u.userId,
      store_id: fx.shop.storeId,
      book_info: bookInfo(uid('fuzz_book'), 500, {
        author: 'someone',
        tags: ['a', 'b'],
        pictures: ['iVBORw0KGgo='],
        currency_unit: '元',
      }),
      stock_level: 3,
    }),
  },
  {
    url: '/seller/add_stock_level',
    seller: true,
    valid: (u) => ({
      user_id: u.userId,
      store_id: fx.shop.storeId,
      book_id: fx.shop.bookIds[2],
      add_stock_level: 1,
    }),
  },
]

/** Read-only routes, fuzzed through their paths and query strings. */
export const GET_PATHS = [
  '/buyer/orders',
  '/seller/orders',
  '/orders/some-order',
  '/buyer/balance',
  '/search/books',
  '/stores/some-store/books/some-book',
  '/stores/some-store/books/some-book/pictures/0',
  '/stores/some-store/books/some-book/pictures/-1',
  '/stores/%00/books/%FF',
]

/** A change to a JSON value at a path of keys (created when missing). */
type Mutation =
  | { kind: 'set'; path: string[]; value: unknown }
  | { kind: 'delete'; path: string[] }
  | { kind: 'replace'; value: unknown }
  | { kind: 'books'; books: unknown }

const PATHS: string[][] = [
  ['user_id'],
  ['password'],
  ['store_id'],
  ['order_id'],
  ['book_id'],
  ['terminal'],
  ['add_value'],
  ['stock_level'],
  ['add_stock_level'],
  ['oldPassword'],
  ['newPassword'],
  ['books'],
  ['books', '0'],
  ['books', '0', 'id'],
  ['books', '0', 'count'],
  ['book_info'],
  ['book_info', 'id'],
  ['book_info', 'title'],
  ['book_info', 'price'],
  ['book_info', 'tags'],
  ['book_info', 'tags', '0'],
  ['book_info', 'pictures'],
  ['book_info', 'pictures', '0'],
  ['book_info', 'pub_year'],
  ['book_info', 'pages'],
  ['book_info', 'extra_field'],
  ['extra_field'],
]
const pathArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...PATHS) },
  { weight: 1, arbitrary: fc.array(hostileKey, { minLength: 1, maxLength: 3 }) },
)

const lineArb = fc.record(
  {
    id: fc.oneof(fc.constantFrom('@book0', '@book1', '@book2', '@other'), hostileString),
    count: fc.oneof(
      fc.integer({ min: -3, max: 2000 }),
      hostileNumber,
      fc.constantFrom(raw('1e400'), raw('-1e400')),
    ),
  },
  { requiredKeys: [] },
)
const booksArb = fc.oneof(
  fc.array(lineArb, { maxLength: 6 }),
  // The same book many times in one order: merged, and its total count still bounded.
  fc
    .tuple(
      fc.constantFrom('@book0', '@book1'),
      fc.integer({ min: 1, max: 1000 }),
      fc.integer({ min: 1, max: 1_000_000 }),
    )
    .map(([id, n, count]) => Array.from({ length: n }, () => ({ id, count }))),
  fc.constant(Array.from({ length: 1001 }, (_, i) => ({ id: `b${i}`, count: 1 }))),
  hostileValue,
)

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ kind: fc.constant('set' as const), path: pathArb, value: hostileValue }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), path: pathArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('replace' as const), value: hostileValue }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('books' as const), books: booksArb }) },
)

/** Fixture references in generated values (e.g. "@book0") become the real ids. */
function resolveRefs(value: unknown, fx: Fixture): unknown {
  if (typeof value === 'string' && value.startsWith('@')) {
    const refs: Record<string, string | undefined> = {
      '@book0': fx.shop.bookIds[0],
      '@book1': fx.shop.bookIds[1],
      '@book2': fx.shop.bookIds[2],
      '@other': fx.otherShop.bookIds[0],
    }
    return refs[value] ?? value
  }
  if (Array.isArray(value)) return value.map((v) => resolveRefs(v, fx))
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveRefs(v, fx)]))
  return value
}

export function applyMutation(body: unknown, m: Mutation, fx: Fixture): unknown {
  if (m.kind === 'replace') return m.value
  if (m.kind === 'books') {
    if (body && typeof body === 'object' && !Array.isArray(body))
      return { ...body, books: resolveRefs(m.books, fx) }
    return body
  }
  const root = structuredClone(body)
  let node: unknown = root
  for (const key of m.path.slice(0, -1)) {
    if (!node || typeof node !== 'object') return root
    const rec = node as Record<string, unknown>
    if (!Object.hasOwn(rec, key) || rec[key] === null || typeof rec[key] !== 'object')
      Object.defineProperty(rec, key, { value: {}, enumerable: true, writable: true, configurable: true })
    node = rec[key]
  }
  const last = m.path[m.path.length - 1]
  if (last === undefined || !node || typeof node !== 'object') return root
  const rec = node as Record<string, unknown>
  if (m.kind === 'delete') delete rec[last]
  else
    Object.defineProperty(rec, last, { value: m.value, enumerable: true, writable: true, configurable: true })
  return root
}

export type TokenChoice =
  | 'own'
  | 'none'
  | 'other'
  | 'bearer'
  | 'both'
  | 'garbled'
  | 'huge'
  | 'empty'
  | 'seller'
const tokenArb = fc.record({
  choice: fc.constantFrom<TokenChoice>(
    'own',
    'own',
    'own',
    'none',
    'other',
    'bearer',
    'both',
    'garbled',
    'huge',
    'empty',
    'seller',
  ),
  garble: fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    maxLength: 60,
  }),
})

const CONTENT_TYPES = [
  'application/json',
  'application/json',
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'APPLICATION/JSON',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/jsonx',
  '',
  undefined,
] as const

/** How the body travels: as JSON text of the value, or garbled text. */
const encodingArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant({ kind: 'json' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('text' as const), text: hostileString }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      { kind: 'text' as const, text: '' },
      { kind: 'text' as const, text: 'null' },
      { kind: 'text' as const, text: '\ufeff{}' },
      { kind: 'text' as const, text: '{"user_id":"a","user_id":"b","password":"p"}' },
      { kind: 'text' as const, text: '{"__proto__":{"polluted":"yes"},"user_id":"a","password":"p"}' },
      { kind: 'text' as const, text: '{"constructor":{"prototype":{"polluted":"yes"}}}' },
      { kind: 'text' as const, text: `${'['.repeat(50_000)}${']'.repeat(50_000)}` },
      { kind: 'text' as const, text: `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}` },
      { kind: 'bytes' as const, bytes: [0xff, 0xfe, 0x7b, 0x7d] },
      { kind: 'bytes' as const, bytes: [0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d] },
      { kind: 'big' as const },
    ),
  },
)

export const QUERY_STRINGS = [
  '',
  '',
  '',
  '?user_id=x',
  '?user_id=%00',
  '?a=%E0%A4%A',
  '?a=%ED%A0%80',
  '?__proto__[polluted]=yes',
  '?constructor[prototype][polluted]=yes',
  '?a=1&a=2&a=3',
  `?q=${'x'.repeat(5000)}`,
  '?%',
  '?&&&=&=',
]

export const requestArb = fc.record({
  /** Which of the routeCases, modulo their number. */
  route: fc.nat(),
  mutations: fc.array(mutationArb, { maxLength: 3 }),
  token: tokenArb,
  contentType: fc.constantFrom(...CONTENT_TYPES),
  encoding: encodingArb,
  query: fc.constantFrom(...QUERY_STRINGS),
})
export type GeneratedRequest = typeof requestArb extends fc.Arbitrary<infer R> ? R : never
