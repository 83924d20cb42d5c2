/**
 * What partial requests cost the server: starts `bookstore serve` (embedded, or on DATABASE_URL in a
 * scratch schema), opens many connections that each send the headers of a large POST and only part
 * of its body, then holds them, and prints the server's resident memory (RSS) before and after, and
 * how the server answered them.
 *
 *   node --import tsx tools/half-requests.ts [--clients 1000] [--declared 4194304] [--sent 2097152]
 *       [--route /seller/add_book] [--hold 5]
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { Command } from 'commander'
import { positiveNumber } from '../src/cli/options.ts'
import { openPostgres } from '../src/db/postgres.ts'
import { benchServer } from './bench/orders-command.ts'

const o = new Command()
  .option('--clients <n>', 'clients holding a half-sent upload', positiveNumber, 1000)
  .option('--declared <bytes>', 'Content-Length each declares', positiveNumber, 4 * 1024 * 1024)
  .option('--sent <bytes>', 'bytes each sends (default: half of --declared)', positiveNumber)
  .option('--route <path>', 'the route posted to', '/seller/add_book')
  .option('--hold <s>', 'seconds to hold the uploads', positiveNumber, 5)
  .parse(process.argv)
  .opts()
const CLIENTS: number = o.clients
const DECLARED: number = o.declared
const SENT: number = o.sent ?? Math.floor(DECLARED / 2)
const ROUTE: string = o.route
const HOLD_S: number = o.hold

const rssMiB = (pid: number) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : Number.NaN
}

const env: Record<string, string | undefined> = { ...process.env }
let dropSchema: (() => Promise<void>) | undefined
if (env.DATABASE_URL) {
  const schema = `half_requests_${randomBytes(4).toString('hex')}`
  const admin = await openPostgres(env.DATABASE_URL, { max: 1 })
  await admin.exec(`CREATE SCHEMA ${schema}`)
  const scoped = new URL(env.DATABASE_URL)
  scoped.searchParams.set('options', `-c search_path=${schema}`)
  env.DATABASE_URL = scoped.toString()
  dropSchema = async () => {
    await admin.exec(`DROP SCHEMA ${schema} CASCADE`)
    await admin.close()
  }
}

const server = await benchServer(env, 1)
const { port } = new URL(server.url)
const engine = env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'
await new Promise((r) => setTimeout(r, 1000))
const before = rssMiB(server.pid)

// A JSON body that would be valid if it were finished: an add_book with a long base64 picture.
const prefix =
  '{"user_id":"u","store_id":"s","stock_level":1,"book_info":{"id":"b","title":"t","price":1,"pictures":["'
const part = Buffer.alloc(SENT, 'A')
part.write(prefix)
const answers = new Map<string, number>()
const sockets: Socket[] = []
let flushed = 0
await Promise.all(
  Array.from(
    { length: CLIENTS },
    () =>
      new Promise<void>((resolve) => {
        const s = connect(Number(port), '127.0.0.1', () => {
          s.write(
            `POST ${ROUTE} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${DECLARED}\r\n\r\n`,
          )
          s.write(part, () => {
            flushed++
            resolve()
          })
        })
        sockets.push(s)
        let head = ''
        s.setEncoding('latin1')
        s.on('data', (d: string) => {
          if (head === '') {
            head = d.split('\r\n')[0] ?? '?'
            const status = head.split(' ')[1] ?? '?'
            answers.set(status, (answers.get(status) ?? 0) + 1)
          }
        })
        s.on('error', () => resolve())
        s.on('close', () => resolve())
      }),
  ),
)
let peak = rssMiB(server.pid)
for (let i = 0; i < HOLD_S * 4; i++) {
  await new Promise((r) => setTimeout(r, 250))
  peak = Math.max(peak, rssMiB(server.pid))
}
for (const s of sockets) s.destroy()
await new Promise((r) => setTimeout(r, 500))
const afterClose = rssMiB(server.pid)
const ready = await fetch(`${server.url}/ready`).then((r) => r.status)
await server.stop()
await dropSchema?.()

const answered = [...answers].map(([status, n]) => `${n} × ${status}`).join(', ') || 'none'
console.log(
  [
    `half-requests: ${engine}, ${CLIENTS} clients, POST ${ROUTE} declaring ${DECLARED} bytes, sending ${SENT} (${flushed} sent in full)`,
    `server RSS: ${before.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB while held (+${(peak - before).toFixed(0)}), ${afterClose.toFixed(0)} MiB after closing them`,
    `answered while held: ${answered}; /ready afterwards: ${ready}`,
  ].join('\n'),
)
