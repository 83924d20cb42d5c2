/**
 * Property-based tests over every route: random and hostile bodies, query strings, headers,
 * content types and methods. Whatever arrives, the server answers (a 4xx, or one of the API's
 * business result codes 511–525, never another 5xx) with a JSON body with a string `message`; a refused request (any status but 200) writes nothing; and
 * the money and stock invariants hold after every run. A second property mixes valid requests,
 * checked against a small model of balances, stock and orders, with hostile ones.
 *
 * Reproduce a failure with the seed it prints: FUZZ_SEED=<seed> npm run test:only -- test/api/fuzz.test.ts
 * FUZZ_RUNS=<n> overrides the number of runs of every property (more runs: a longer, deeper search).
 */
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { after, before, describe, test } from 'node:test'
import fc from 'fast-check'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { RESULT_CODES } from '../../src/routes/schemas.ts'
import {
  applyMutation,
  type Fixture,
  GET_PATHS,
  type GeneratedRequest,
  hostileValue,
  QUERY_STRINGS,
  type RouteCase,
  render,
  requestArb,
  routeCases,
  type TokenChoice,
} from '../support/fuzz-generators.ts'
import {
  assertMoneyInvariants,
  assertOrderInvariants,
  newShop,
  newUser,
  post,
  snapshotState,
  startApp,
  type TestApp,
  type User,
} from '../support/helpers.ts'

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() ^ (process.pid << 8)
const RUNS = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : undefined
const params = (numRuns: number): fc.Parameters<unknown> => ({
  numRuns: RUNS ?? numRuns,
  seed: SEED,
  endOnFailure: true,
  includeErrorInReport: true,
})

let t: TestApp
let app: FastifyInstance

let fx: Fixture

before(async () => {
  // Failed-attempt limits are tested on their own (protection.test.ts); here hostile requests with
  // wrong passwords would otherwise lock the modelled buyers out.
  t = await startApp({ rateLimitFailuresPerUser: 0, rateLimitFailuresPerIp: 0 })
  app = t.app
  const shop = await newShop(app, 3, 1000)
  const otherShop = await newShop(app, 1, 5)
  const buyer = await newUser(app, 'buyer')
  await post(app, '/buyer/add_funds', { user_id: buyer.userId, password: buyer.password, add_value: 100_000 })
  const order = async () => {
    const r = await post(
      app,
      '/buyer/new_order',
      { user_id: buyer.userId, store_id: shop.storeId, books: [{ id: shop.bookIds[0], count: 1 }] },
      buyer.token,
    )
    assert.equal(r.status, 200)
    return r.body.order_id as string
  }
  const unpaidOrder = await order()
  const paidOrder = await order()
  const p = await post(app, '/buyer/payment', {
    user_id: buyer.userId,
    password: buyer.password,
    order_id: paidOrder,
  })
  assert.equal(p.status, 200)
  fx = { shop, otherShop, buyer, unpaidOrder, paidOrder }
})
after(() => t?.close())

/** A throwaway user for routes that would spoil the fixture when they succeed. */
async function throwaway(): Promise<User> {
  return newUser(app, 'victim')
}

async function buildRequest(g: GeneratedRequest): Promise<{ options: InjectOptions; label: string }> {
  const routes = routeCases(fx)
  const route = routes[g.route % routes.length] as RouteCase
  const actor = route.destructive ? await throwaway() : route.seller ? fx.shop.seller : fx.buyer
  let body: unknown = route.valid(actor)
  for (const m of g.mutations) body = applyMutation(body, m, fx)
  const tokens: Record<TokenChoice, Record<string, string>> = {
    own: { token: actor.token },
    none: {},
    other: { token: route.seller ? fx.otherShop.seller.token : fx.shop.seller.token },
    bearer: { authorization: `Bearer ${actor.token}` },
    both: { token: g.token.garble || 'x', authorization: `Bearer ${actor.token}` },
    garbled: { token: g.token.garble || 'x' },
    huge: { token: 'A'.repeat(16_000) },
    empty: { token: '', authorization: 'Bearer ' },
    seller: { token: fx.shop.seller.token },
  }
  const headers: Record<string, string> = { ...tokens[g.token.choice] }
  if (g.contentType !== undefined) headers['content-type'] = g.contentType
  let payload: string | Buffer
  const text = render(body)
  switch (g.encoding.kind) {
    case 'json':
      payload = text
      break
    case 'truncate':
      payload = text.slice(0, g.encoding.at % (text.length + 1))
      break
    case 'text':
      payload = g.encoding.text
      break
    case 'bytes':
      payload = Buffer.from(g.encoding.bytes)
      break
    case 'big':
      payload = JSON.stringify({ user_id: actor.userId, password: 'x'.repeat(2 * 1024 * 1024) })
      break
  }
  const label = `POST ${route.url}${g.query} ${JSON.stringify(headers).slice(0, 200)} ${String(payload).slice(0, 300)}`
  return { options: { method: 'POST', url: `${route.url}${g.query}`, headers, payload }, label }
}

/**
 * The status is an answer, not a failure: a 4xx, or one of the course API's business result codes
 * (511–525, listed in the OpenAPI description); any other 5xx is a server error.
 */
const isAnswer = (status: number) => status < 500 || (status in RESULT_CODES && status > 510)

/** The response is an answer, with a JSON body carrying a string message. */
function assertAnswered(res: { statusCode: number; body: string }, label: string) {
  assert.ok(isAnswer(res.statusCode), `${res.statusCode} ${res.body.slice(0, 300)} for ${label}`)
  let parsed: unknown
  try {
    parsed = JSON.parse(res.body)
  } catch {
    assert.fail(`not JSON (${res.statusCode}): ${res.body.slice(0, 200)} for ${label}`)
  }
  assert.equal(
    typeof (parsed as { message?: unknown })?.message,
    'string',
    `no message: ${res.body} for ${label}`,
  )
}

async function assertInvariants() {
  await assertMoneyInvariants(t.db)
  await assertOrderInvariants(t.db)
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype was polluted')
}

/** Sends one generated request and checks the answer and, when it was refused, that nothing changed. */
async function sendChecked(options: InjectOptions, label: string) {
  const before = await snapshotState(t.db)
  const res = await app.inject(options)
  assertAnswered(res, label)
  if (res.statusCode !== 200)
    assert.deepEqual(await snapshotState(t.db), before, `state changed by ${res.statusCode}: ${label}`)
  return res
}

describe(`property-based tests (seed ${SEED})`, () => {
  test('hostile requests to every route: never a 5xx, always a JSON message, refused ones write nothing', async () => {
    const statuses = new Map<number, number>()
    await fc.assert(
      fc.asyncProperty(requestArb, async (g) => {
        const { options, label } = await buildRequest(g)
        const res = await sendChecked(options, label)
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
        await assertInvariants()
      }),
      params(250),
    )
    // The generator reaches past validation into the services, not only the schema checks.
    assert.ok(statuses.has(400), JSON.stringify([...statuses]))
    assert.ok(
      [...statuses.keys()].some((s) => s === 200 || s > 400),
      JSON.stringify([...statuses]),
    )
  })

  test('methods, paths and query strings: never a 5xx, JSON errors', async () => {
    const paths = [
      ...routeCases(fx).map((r) => r.url),
      ...GET_PATHS,
      '/health',
      '/ready',
      '/nope',
      '/auth/register/extra',
      '/auth//register',
      '/%',
      '/%E0%A4%A',
      '/auth/register%00',
      `/${'x'.repeat(10_000)}`,
      '/../../etc/passwd',
      '/__proto__',
      '/constructor/prototype',
    ]
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS') as fc.Arbitrary<
          InjectOptions['method']
        >,
        fc.constantFrom(...paths),
        fc.constantFrom(...QUERY_STRINGS),
        fc.option(hostileValue),
        async (method, path, query, value) => {
          const options: InjectOptions = { method, url: `${path}${query}` }
          if (value !== null && method !== 'GET') {
            options.payload = render(value)
            options.headers = { 'content-type': 'application/json' }
          }
          await sendChecked(options, `${method} ${path}${query}`)
        },
      ),
      params(150),
    )
    await assertInvariants()
  })

  test('the documentation and metrics routes answer whatever the query string', async () => {
    for (const path of ['/openapi.json', '/docs', '/docs/', '/metrics'])
      for (const query of QUERY_STRINGS) {
        const res = await app.inject({ method: 'GET', url: `${path}${query}` })
        assert.ok(isAnswer(res.statusCode), `${res.statusCode} for ${path}${query}`)
      }
  })
})

// ---------------------------------------------------------------------------------------------
// Model-based: valid requests with known outcomes, hostile ones in between

interface Model {
  balances: Record<string, number>
  stock: Record<string, number>
  orders: Record<string, { buyer: string; total: number; status: string }>
}

/** The balances, stock and orders of the given users and store, as stored. */
async function readModel(userIds: string[], storeId: string): Promise<Model> {
  const users = await t.db.query<{ user_id: string; balance: number }>(
    'SELECT user_id, balance FROM users WHERE user_id = ANY ($1::text[])',
    [userIds],
  )
  const listings = await t.db.query<{ store_id: string; book_id: string; stock_level: number }>(
    'SELECT store_id, book_id, stock_level FROM listings WHERE store_id = $1',
    [storeId],
  )
  const orders = await t.db.query<{
    order_id: string
    buyer_id: string
    total_price: number
    status: string
  }>('SELECT order_id, buyer_id, total_price, status FROM orders WHERE buyer_id = ANY ($1::text[])', [
    userIds,
  ])
  const sorted = <V>(entries: [string, V][]) =>
    Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  return {
    balances: sorted(users.rows.map((r) => [r.user_id, r.balance])),
    stock: sorted(listings.rows.map((r) => [`${r.store_id}/${r.book_id}`, r.stock_level])),
    orders: sorted(
      orders.rows.map((r) => [r.order_id, { buyer: r.buyer_id, total: r.total_price, status: r.status }]),
    ),
  }
}

type Op =
  | { kind: 'funds'; buyer: number; amount: number }
  | { kind: 'order'; buyer: number; lines: { book: number; count: number }[] }
  | { kind: 'pay'; buyer: number; order: number }
  | { kind: 'stock'; book: number; amount: number }
  | { kind: 'hostile'; request: GeneratedRequest }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('funds' as const),
      buyer: fc.nat({ max: 1 }),
      amount: fc.integer({ min: -3000, max: 5000 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('order' as const),
      buyer: fc.nat({ max: 1 }),
      lines: fc.array(fc.record({ book: fc.nat({ max: 2 }), count: fc.integer({ min: 1, max: 400 }) }), {
        minLength: 1,
        maxLength: 4,
      }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('pay' as const), buyer: fc.nat({ max: 1 }), order: fc.nat() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('stock' as const),
      book: fc.nat({ max: 2 }),
      amount: fc.nat({ max: 300 }),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('hostile' as const), request: requestArb }) },
)

describe(`model-based sequences (seed ${SEED})`, () => {
  test('valid requests between hostile ones have exactly the modelled effects', async () => {
    const buyers = [fx.buyer, await newUser(app, 'buyer2')]
    const prices = new Map<string, number>()
    const listing = await t.db.query<{ book_id: string; price: number }>(
      'SELECT book_id, price FROM listings WHERE store_id = $1',
      [fx.shop.storeId],
    )
    for (const r of listing.rows) prices.set(r.book_id, r.price)
    const key = (book: string) => `${fx.shop.storeId}/${book}`

    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 12 }), async (ops) => {
        const modelled = () =>
          readModel([...buyers.map((b) => b.userId), fx.shop.seller.userId], fx.shop.storeId)
        let model = await modelled()
        const myOrders = () =>
          Object.keys(model.orders)
            .filter((id) => buyers.some((b) => b.userId === model.orders[id]?.buyer))
            .sort()
        for (const op of ops) {
          if (op.kind === 'hostile') {
            const { options, label } = await buildRequest(op.request)
            const res = await sendChecked(options, label)
            if (res.statusCode === 200) model = await modelled()
            continue
          }
          const buyer = buyers[op.kind === 'stock' ? 0 : op.buyer] as User
          const balance = model.balances[buyer.userId] ?? 0
          if (op.kind === 'funds') {
            const r = await post(app, '/buyer/add_funds', {
              user_id: buyer.userId,
              password: buyer.password,
              add_value: op.amount,
            })
            if (balance + op.amount < 0) assert.equal(r.status, 519, JSON.stringify(r.body))
            else {
              assert.equal(r.status, 200, JSON.stringify(r.body))
              assert.equal(r.body.balance, balance + op.amount)
              model.balances[buyer.userId] = balance + op.amount
            }
          } else if (op.kind === 'order') {
            const wanted = new Map<string, number>()
            for (const l of op.lines) {
              const id = fx.shop.bookIds[l.book] as string
              wanted.set(id, (wanted.get(id) ?? 0) + l.count)
            }
            const r = await post(
              app,
              '/buyer/new_order',
              {
                user_id: buyer.userId,
                store_id: fx.shop.storeId,
                books: op.lines.map((l) => ({ id: fx.shop.bookIds[l.book], count: l.count })),
              },
              buyer.token,
            )
            const short = [...wanted].some(([id, n]) => (model.stock[key(id)] ?? 0) < n)
            if (short) assert.equal(r.status, 517, JSON.stringify(r.body))
            else {
              assert.equal(r.status, 200, JSON.stringify(r.body))
              let total = 0
              for (const [id, n] of wanted) {
                model.stock[key(id)] = (model.stock[key(id)] ?? 0) - n
                total += (prices.get(id) ?? 0) * n
              }
              model.orders[r.body.order_id as string] = { buyer: buyer.userId, total, status: 'unpaid' }
            }
          } else if (op.kind === 'pay') {
            const ids = myOrders()
            const orderId = ids[op.order % Math.max(ids.length, 1)] ?? 'no-such-order'
            const order = model.orders[orderId]
            const r = await post(app, '/buyer/payment', {
              user_id: buyer.userId,
              password: buyer.password,
              order_id: orderId,
            })
            const expected = !order
              ? 518
              : order.buyer !== buyer.userId
                ? 401
                : order.status !== 'unpaid'
                  ? 525
                  : balance < order.total
                    ? 519
                    : 200
            assert.equal(
              r.status,
              expected,
              `${JSON.stringify(r.body)} paying ${JSON.stringify(order)} from ${balance}`,
            )
            if (expected === 200 && order) {
              model.balances[buyer.userId] = balance - order.total
              order.status = 'paid'
            }
          } else {
            const id = fx.shop.bookIds[op.book] as string
            const r = await post(
              app,
              '/seller/add_stock_level',
              {
                user_id: fx.shop.seller.userId,
                store_id: fx.shop.storeId,
                book_id: id,
                add_stock_level: op.amount,
              },
              fx.shop.seller.token,
            )
            assert.equal(r.status, 200, JSON.stringify(r.body))
            model.stock[key(id)] = (model.stock[key(id)] ?? 0) + op.amount
            assert.equal(r.body.stock_level, model.stock[key(id)])
          }
        }
        assert.deepEqual(await modelled(), model)
        await assertInvariants()
      }),
      params(100),
    )
  })
})

// ---------------------------------------------------------------------------------------------
// Over a real socket: the connection is answered, never dropped, even for broken HTTP

/** Sends raw bytes, then ends the sending side, and reads the answer until the server closes. */
function rawExchange(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let got = ''
    socket.on('data', (d) => {
      got += d.toString('latin1')
    })
    socket.on('close', () => resolve(got))
    socket.on('error', reject)
    socket.end(bytes)
  })
}

const funds = '{"user_id":"a","password":"b","add_value":1e99999}'

describe(`over a real socket (seed ${SEED})`, () => {
  let port = 0
  before(async () => {
    await app.listen({ port: 0, host: '127.0.0.1' })
    const address = app.server.address()
    port = typeof address === 'object' && address ? address.port : 0
  })

  test('generated hostile requests sent with fetch are all answered', async () => {
    await fc.assert(
      fc.asyncProperty(requestArb, async (g) => {
        const { options, label } = await buildRequest(g)
        const res = await fetch(`http://127.0.0.1:${port}${options.url}`, {
          method: 'POST',
          headers: options.headers as Record<string, string>,
          body: options.payload as string | Buffer,
        })
        const body = await res.text()
        assertAnswered({ statusCode: res.status, body }, label)
      }),
      params(60),
    )
  })

  test('broken HTTP gets an HTTP answer, with a JSON message when it is a request at all', async () => {
    const cases: (string | Buffer)[] = [
      'GARBAGE\r\n\r\n',
      'POST /auth/register HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}',
      'POST /auth/register HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n',
      `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      'POST /auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{',
      Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, 0x0d, 0x0a, 0x0d, 0x0a]),
      'GET /%%% HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      `POST /buyer/add_funds HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${funds.length}\r\n\r\n${funds}`,
    ]
    for (const c of cases) {
      const answer = await rawExchange(port, c)
      const label = JSON.stringify(String(c).slice(0, 80))
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1])
      assert.ok(status >= 400 && isAnswer(status), `${status} for ${label}: ${answer.slice(0, 300)}`)
      const body = answer.slice(answer.indexOf('\r\n\r\n') + 4)
      if (body) assert.equal(typeof JSON.parse(body).message, 'string', `${label}: ${body}`)
    }
    await assertInvariants()
  })
})
