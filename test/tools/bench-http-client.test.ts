/**
 * The load generator's HTTP client against servers that answer in each way HTTP/1.1 allows:
 * Content-Length on a kept-alive connection, chunked bodies, HTTP/1.0 answers that end when the
 * connection closes, and connections that break mid-answer.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createServer as createTcpServer } from 'node:net'
import { after, describe, test } from 'node:test'
import { HttpClient } from '../../tools/bench/http-client.ts'

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe('bench HTTP client', () => {
  const servers: { close(): unknown }[] = []
  after(() => {
    for (const s of servers) s.close()
  })

  test('posts JSON with its headers and reuses one kept-alive connection', async () => {
    const seen: { url: string; token: string | undefined; type: string | undefined; body: string }[] = []
    const sockets = new Set<unknown>()
    const server = createServer((req, res) => {
      sockets.add(req.socket)
      let body = ''
      req.on('data', (c) => {
        body += c
      })
      req.on('end', () => {
        seen.push({
          url: req.url ?? '',
          token: req.headers.token as string | undefined,
          type: req.headers['content-type'],
          body,
        })
        res.writeHead(req.url === '/api/missing' ? 404 : 200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ echo: JSON.parse(body), n: seen.length }))
      })
    })
    servers.push(server)
    const client = new HttpClient(`${await listen(server)}/api/`)
    const a = await client.post('/one', { x: '书 1' }, { token: 'abc' })
    const b = await client.post('/missing', { y: 2 })
    client.close()
    assert.equal(a.status, 200)
    assert.deepEqual(JSON.parse(a.body.toString()), { echo: { x: '书 1' }, n: 1 })
    assert.equal(b.status, 404)
    assert.deepEqual(JSON.parse(b.body.toString()), { echo: { y: 2 }, n: 2 })
    assert.deepEqual(seen, [
      { url: '/api/one', token: 'abc', type: 'application/json', body: '{"x":"书 1"}' },
      { url: '/api/missing', token: undefined, type: 'application/json', body: '{"y":2}' },
    ])
    assert.equal(sockets.size, 1)
  })

  test('reads chunked bodies, however the chunks arrive', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"parts":')
      setTimeout(() => {
        res.write('["a",')
        setTimeout(() => res.end('"b"]}'), 5)
      }, 5)
    })
    servers.push(server)
    const client = new HttpClient(await listen(server))
    for (let i = 0; i < 3; i++) {
      const r = await client.post('/', {})
      assert.equal(r.status, 200)
      assert.deepEqual(JSON.parse(r.body.toString()), { parts: ['a', 'b'] })
    }
    client.close()
  })

  test('HTTP/1.0 answers without a length end with the connection; the next request opens another', async () => {
    let connections = 0
    const server = createTcpServer((socket) => {
      connections += 1
      socket.once('data', () => {
        socket.end(
          `HTTP/1.0 201 CREATED\r\nContent-Type: application/json\r\n\r\n{"connection":${connections}}`,
        )
      })
    })
    servers.push(server)
    const client = new HttpClient(await listen(server))
    const first = await client.post('/', {})
    const second = await client.post('/', {})
    client.close()
    assert.equal(first.status, 201)
    assert.deepEqual(JSON.parse(first.body.toString()), { connection: 1 })
    assert.deepEqual(JSON.parse(second.body.toString()), { connection: 2 })
    assert.equal(connections, 2)
  })

  test('Connection: close with a length is read by length and not reused', async () => {
    let connections = 0
    const server = createTcpServer((socket) => {
      connections += 1
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}')
        // the server is slow to close: the answer is complete without waiting for it
        setTimeout(() => socket.end(), 50)
      })
    })
    servers.push(server)
    const client = new HttpClient(await listen(server))
    assert.equal((await client.post('/', {})).status, 200)
    assert.equal((await client.post('/', {})).status, 200)
    client.close()
    assert.equal(connections, 2)
  })

  test('a connection that breaks mid-answer rejects that request only', async () => {
    let n = 0
    const server = createTcpServer((socket) => {
      socket.once('data', () => {
        n += 1
        if (n === 1) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"cut')
        else socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}')
      })
    })
    servers.push(server)
    const client = new HttpClient(await listen(server))
    await assert.rejects(client.post('/', {}), /closed before the response was complete/)
    assert.equal((await client.post('/', {})).status, 200)
    client.close()
  })

  test('refuses https:// and says so', () => {
    assert.throws(() => new HttpClient('https://example.org'), /only http:\/\//)
  })
})
