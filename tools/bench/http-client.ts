/**
 * A lean HTTP/1.1 client for the load generator. The load generator shares the machine with the
 * server it measures, so every microsecond it spends is taken from the server: node:http's client
 * costs about as much CPU per request as the server's own handling. This one writes a request as
 * one buffer and reads just what it needs (status, Content-Length or chunked body), on keep-alive
 * connections, one request at a time per connection. It still speaks to servers that close the
 * connection after each answer (HTTP/1.0-style, e.g. a Python development server).
 */
import { connect, type Socket } from 'node:net'

export interface Reply {
  status: number
  body: Buffer
}

const CRLF2 = Buffer.from('\r\n\r\n')

class Connection {
  private buf: Buffer = Buffer.alloc(0)
  private waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void } | undefined
  private ended = false
  /** false once the server said it closes the connection, or it did */
  reusable = true

  constructor(private readonly socket: Socket) {
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
      this.tryFinish()
    })
    socket.on('end', () => {
      this.ended = true
      this.reusable = false
      this.tryFinish()
    })
    socket.on('close', () => {
      this.reusable = false
      this.fail(new Error('connection closed before the response was complete'))
    })
    socket.on('error', (err) => {
      this.reusable = false
      this.fail(err)
    })
  }

  send(head: string, body: Buffer): Promise<Reply> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject }
      this.socket.write(body.length > 0 ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : head)
    })
  }

  destroy() {
    this.reusable = false
    this.socket.destroy()
  }

  private fail(err: Error) {
    const w = this.waiting
    this.waiting = undefined
    w?.reject(err)
  }

  private tryFinish() {
    if (!this.waiting) return
    const headEnd = this.buf.indexOf(CRLF2)
    if (headEnd < 0) return
    const lines = this.buf.toString('latin1', 0, headEnd).split('\r\n')
    const statusLine = lines[0] ?? ''
    const status = Number(statusLine.split(' ')[1])
    let length: number | undefined
    let chunked = false
    let close = statusLine.startsWith('HTTP/1.0')
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string
      const colon = line.indexOf(':')
      const name = line.slice(0, colon).trim().toLowerCase()
      const value = line
        .slice(colon + 1)
        .trim()
        .toLowerCase()
      if (name === 'content-length') length = Number(value)
      else if (name === 'transfer-encoding') chunked = value.includes('chunked')
      else if (name === 'connection')
        close = value.includes('close') || (close && !value.includes('keep-alive'))
    }
    const start = headEnd + 4
    let body: Buffer
    let rest: Buffer
    if (chunked) {
      const parsed = dechunk(this.buf, start)
      if (!parsed) return
      ;[body, rest] = parsed
    } else if (length !== undefined) {
      if (this.buf.length < start + length) return
      body = this.buf.subarray(start, start + length)
      rest = this.buf.subarray(start + length)
    } else {
      // no length: the body runs until the server closes the connection
      if (!this.ended) return
      body = this.buf.subarray(start)
      rest = Buffer.alloc(0)
      close = true
    }
    this.buf = rest
    if (close) this.reusable = false
    const w = this.waiting
    this.waiting = undefined
    w.resolve({ status, body })
  }
}

/** The body of a chunked message starting at `at`, and what follows it; undefined until complete. */
function dechunk(buf: Buffer, at: number): [Buffer, Buffer] | undefined {
  const parts: Buffer[] = []
  let pos = at
  for (;;) {
    const eol = buf.indexOf('\r\n', pos)
    if (eol < 0) return undefined
    const size = Number.parseInt(buf.toString('latin1', pos, eol), 16)
    if (Number.isNaN(size)) throw new Error('bad chunk size')
    if (size === 0) {
      // last chunk, no trailers expected: "0\r\n\r\n"
      const end = buf.indexOf(CRLF2, eol - 2)
      if (end < 0) return undefined
      return [Buffer.concat(parts), buf.subarray(end + 4)]
    }
    if (buf.length < eol + 2 + size + 2) return undefined
    parts.push(buf.subarray(eol + 2, eol + 2 + size))
    pos = eol + 2 + size + 2
  }
}

export class HttpClient {
  private readonly idle: Connection[] = []
  private readonly all = new Set<Connection>()
  private readonly host: string
  private readonly port: number
  private readonly prefix: string

  constructor(baseUrl: string) {
    const url = new URL(baseUrl)
    if (url.protocol !== 'http:') throw new Error(`only http:// URLs are supported, not ${url.protocol}`)
    this.host = url.hostname.replace(/^\[|\]$/g, '')
    this.port = Number(url.port || 80)
    this.prefix = url.pathname.replace(/\/$/, '')
  }

  async post(path: string, json: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const body = Buffer.from(JSON.stringify(json))
    let head = `POST ${this.prefix}${path} HTTP/1.1\r\nhost: ${this.host}:${this.port}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n`
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`
    head += '\r\n'
    return this.exchange(head, body)
  }

  async get(path: string, headers: Record<string, string> = {}): Promise<Reply> {
    let head = `GET ${this.prefix}${path} HTTP/1.1\r\nhost: ${this.host}:${this.port}\r\n`
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`
    head += '\r\n'
    return this.exchange(head, Buffer.alloc(0))
  }

  private async exchange(head: string, body: Buffer): Promise<Reply> {
    let conn = this.idle.pop()
    while (conn && !conn.reusable) {
      this.drop(conn)
      conn = this.idle.pop()
    }
    conn ??= await this.open()
    try {
      const reply = await conn.send(head, body)
      if (conn.reusable) this.idle.push(conn)
      else this.drop(conn)
      return reply
    } catch (err) {
      this.drop(conn)
      throw err
    }
  }

  close() {
    for (const c of this.all) c.destroy()
    this.all.clear()
    this.idle.length = 0
  }

  private drop(conn: Connection) {
    conn.destroy()
    this.all.delete(conn)
  }

  private open(): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: this.host, port: this.port })
      socket.once('connect', () => {
        socket.off('error', reject)
        const conn = new Connection(socket)
        this.all.add(conn)
        resolve(conn)
      })
      socket.once('error', reject)
    })
  }
}
