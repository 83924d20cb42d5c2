/**
 * `npm run demo -- --books 3000 --orders 400 --buyers 12 --seed 7` (tools/cli.ts parses them): fills
 * the database the server uses (DATA_DIR's embedded one, or DATABASE_URL) with the demo shop, with
 * progress on stderr.
 */
import { openDatabase } from '../../src/app.ts'
import { Progress } from '../../src/cli/progress.ts'
import { loadConfig } from '../../src/config.ts'
import { DEMO_PASSWORD, DEMO_SELLERS, fillDemoShop } from './shop.ts'

export async function demo(
  o: { books: number; orders: number; buyers: number; seed: number },
  env: Record<string, string | undefined>,
): Promise<void> {
  const config = loadConfig(env)
  const db = await openDatabase(config)
  const bars = new Map<string, Progress>()
  try {
    const r = await fillDemoShop(db, config, {
      ...o,
      progress: (what, done, total) => {
        const bar = bars.get(what) ?? new Progress(what.padEnd(6), total)
        bars.set(what, bar)
        if (done === total) bar.done(done)
        else bar.update(done)
      },
    })
    console.log(
      r.created
        ? `demo shop ready: ${r.books} books, ${r.orders} orders. Start the server (npm start) and sign in as ${DEMO_SELLERS[0]} (seller) or demo-buyer-1, password "${DEMO_PASSWORD}".`
        : 'the demo shop is already there; nothing changed.',
    )
  } finally {
    await db.close()
  }
}
