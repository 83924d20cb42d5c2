/**
 * `npm run bookstore -- explain-history` (DATABASE_URL set): prints the PostgreSQL query plans of the order-history queries on a large data set:
 * one buyer with 100 000 orders (and 400 000 orders of other buyers), one seller with five stores.
 * Runs the repository functions themselves, with every statement sent as EXPLAIN (ANALYZE, BUFFERS).
 * Works in a scratch schema that it drops at the end.
 */
import { randomBytes } from 'node:crypto'
import type { Queryable } from '../src/db/db.ts'
import { migrate } from '../src/db/migrate.ts'
import { openPostgres } from '../src/db/postgres.ts'
import * as orders from '../src/repositories/orders.ts'

export async function explainHistory(url: string): Promise<void> {
  const schema = `explain_${randomBytes(4).toString('hex')}`
  const admin = await openPostgres(url, { max: 1 })
  await admin.exec(`CREATE SCHEMA ${schema}`)
  const db = await openPostgres(url, { schema, max: 2 })
  try {
    await migrate(db)
    console.log('loading 500 000 orders …')
    await db.exec(`
    INSERT INTO users (user_id, password_hash) SELECT 'u' || g, 'x' FROM generate_series(0, 999) g;
    INSERT INTO stores (store_id, owner_id) SELECT 'st' || g, 'u' || (g % 50) FROM generate_series(0, 199) g;
    -- u0 owns st0, st50, st100, st150 (four stores).
    INSERT INTO orders (order_id, buyer_id, store_id, status, cancel_reason, total_price, created_at, expires_at,
                        paid_at, shipped_at, received_at, cancelled_at)
    SELECT 'o' || g,
           CASE WHEN g < 100000 THEN 'u1' ELSE 'u' || (2 + g % 998) END,
           'st' || (g % 200),
           s.status,
           CASE WHEN s.status = 'cancelled' THEN 'buyer' END,
           100,
           t, t + interval '30 minutes',
           CASE WHEN s.status IN ('paid', 'shipped', 'received') THEN t END,
           CASE WHEN s.status IN ('shipped', 'received') THEN t END,
           CASE WHEN s.status = 'received' THEN t END,
           CASE WHEN s.status = 'cancelled' THEN t END
      FROM generate_series(0, 499999) g,
           LATERAL (SELECT (ARRAY['unpaid', 'paid', 'shipped', 'received', 'received', 'received', 'cancelled'])[1 + ((g::bigint * 7919) % 7)::int] AS status,
                           now() - (g || ' minutes')::interval AS t) s;
    INSERT INTO order_items (order_id, book_id, title, count, price)
    SELECT order_id, 'b' || (abs(hashtext(order_id)) % 1000), 'a title', 1, 100 FROM orders;
  `)
    // Steady state: autovacuum has set the visibility map and the statistics are fresh.
    for (const table of ['users', 'stores', 'orders', 'order_items']) await db.exec(`VACUUM ANALYZE ${table}`)
    const explaining: Queryable = {
      async query<T>(text: string, params?: readonly unknown[]) {
        const plan = await db.query<{ 'QUERY PLAN': string }>(
          `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${text}`,
          params,
        )
        console.log(`\n${text.replace(/\s+/g, ' ').trim()}\n  params: ${JSON.stringify(params)}`)
        for (const r of plan.rows) console.log(`  ${r['QUERY PLAN']}`)
        return { rows: [] as T[], rowCount: 0 }
      },
      exec: (script) => db.exec(script),
    }
    const page = (status: orders.OrderStatus | undefined, n: number) => ({
      status,
      limit: 20,
      offset: (n - 1) * 20,
    })
    console.log('\n=== buyer u1 (100 000 orders), page 1, no filter')
    await orders.listBuyerOrders(explaining, 'u1', page(undefined, 1))
    console.log('\n=== buyer u1, status paid, page 50')
    await orders.listBuyerOrders(explaining, 'u1', page('paid', 50))
    console.log('\n=== seller u0 (4 stores, 10 000 orders), page 1, no filter')
    await orders.listSellerOrders(explaining, 'u0', undefined, page(undefined, 1))
    console.log('\n=== seller u0, one store, status shipped, page 3')
    await orders.listSellerOrders(explaining, 'u0', 'st50', page('shipped', 3))
    console.log('\n=== items of a page of 20 orders')
    await orders.itemsOf(
      explaining,
      Array.from({ length: 20 }, (_, i) => `o${i}`),
    )
    console.log('\n=== sweeps: claim expired unpaid orders, claim shipped orders due for auto-receive')
    const asTx = { ...explaining, inTransaction: true as const }
    await orders.claimDueOrders(asTx, { kind: 'expired' }, 200)
    await orders.claimDueOrders(asTx, { kind: 'auto_receive', afterS: 14 * 24 * 3600 }, 200)
  } finally {
    await db.close()
    await admin.exec(`DROP SCHEMA ${schema} CASCADE`)
    await admin.close()
  }
}
