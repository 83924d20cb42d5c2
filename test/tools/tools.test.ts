/**
 * The parts the tools share with the tests: the invariant queries find each kind of damage they
 * name (and none in a database the API wrote), the server-process helper reports a server that
 * cannot start, and the CLI's argument parsers refuse what they do not take.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { InvalidArgumentError } from 'commander'
import { positiveDecimal, positiveNumber, quantity, wholeNumber } from '../../src/cli/options.ts'
import { brokenInvariants, stockAndHeld } from '../../tools/shared/invariants.ts'
import { startServer } from '../../tools/shared/server-process.ts'
import { addFunds, newShop, newUser, pay, placeOrder, startApp, type TestApp } from '../support/helpers.ts'

describe('invariants', () => {
  let t: TestApp
  let orderId: string
  let shop: Awaited<ReturnType<typeof newShop>>
  before(async () => {
    t = await startApp()
    shop = await newShop(t.app, 2, 10)
    const buyer = await newUser(t.app, 'buyer')
    await addFunds(t.app, buyer, 10_000)
    orderId = await placeOrder(t.app, buyer, shop, [
      [0, 2],
      [1, 1],
    ])
    assert.equal((await pay(t.app, buyer, orderId)).status, 200)
    await placeOrder(t.app, buyer, shop, [[0, 3]])
  })
  after(() => t.close())

  test('when the API wrote the data, then every invariant holds and held copies are counted', async () => {
    assert.deepEqual(await brokenInvariants(t.db), [])
    const stock = await stockAndHeld(t.db)
    const [first, second] = shop.bookIds
    assert.deepEqual(
      stock.map((s) => [s.book_id, s.stock_level, s.held]),
      [
        [first, 5, 5],
        [second, 9, 1],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    )
  })

  /** Damages the data inside a transaction that is rolled back; answers what the check found. */
  async function foundAfter(damage: string): Promise<string[]> {
    let found: string[] = []
    await assert.rejects(
      t.db.transaction(async (tx) => {
        await tx.query(damage, [orderId])
        found = await brokenInvariants(tx)
        throw new Error('roll back')
      }),
      /roll back/,
    )
    return found
  }

  test('when a balance changes without a ledger row, then money is not conserved', async () => {
    const found = await foundAfter(
      'UPDATE users SET balance = balance + 7 WHERE user_id = (SELECT buyer_id FROM orders WHERE order_id = $1)',
    )
    assert.deepEqual(found, ['balances_not_their_ledger = 1', 'money_created = 7'])
  })

  test("when an order's total or lines are wrong, then the order invariants say which", async () => {
    assert.deepEqual(
      await foundAfter('UPDATE orders SET total_price = total_price + 1 WHERE order_id = $1'),
      ['orders_with_wrong_total = 1', 'orders_with_wrong_payments = 1', 'money_created = 1'],
    )
    assert.deepEqual(await foundAfter('DELETE FROM order_items WHERE order_id = $1'), [
      'orders_without_lines = 1',
      'orders_with_wrong_total = 1',
    ])
    assert.deepEqual(await foundAfter("UPDATE orders SET status = 'unpaid' WHERE order_id = $1"), [
      'orders_with_wrong_payments = 1',
      'money_created = -400',
    ])
  })
})

describe('server process', () => {
  test('when the server cannot start, then startServer rejects with what it said', async () => {
    await assert.rejects(
      startServer({ env: { ...process.env, LOG_LEVEL: 'loud' } }),
      /server exited with 2 while starting: .*invalid configuration: LOG_LEVEL/s,
    )
  })
})

describe('CLI argument parsers', () => {
  test('whole and positive numbers, decimals and readable quantities', () => {
    assert.equal(wholeNumber('0'), 0)
    assert.equal(positiveNumber('16'), 16)
    assert.equal(positiveDecimal('0.5'), 0.5)
    assert.equal(quantity('100_000'), 100_000)
    assert.equal(quantity('100k'), 100_000)
    assert.equal(quantity('1M'), 1_000_000)
    for (const [parse, raw] of [
      [wholeNumber, '-1'],
      [wholeNumber, '1.5'],
      [positiveNumber, '0'],
      [positiveDecimal, '0'],
      [positiveDecimal, 'abc'],
      [quantity, '1g'],
      [quantity, ''],
    ] as const)
      assert.throws(() => parse(raw), InvalidArgumentError, `${parse.name}(${raw})`)
  })
})
