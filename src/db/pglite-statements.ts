import type { PGlite } from '@electric-sql/pglite'
import type { QueryResult } from './db.ts'
import { BYTEA_OID, byteaText } from './pglite-bytea.ts'

/**
 * Every statement the adapter sends PGlite, through its wire-protocol entry point.
 *
 * Named (prepared) statements, which PGlite's query() does not offer: every query() call parses,
 * analyses and plans its text afresh, and for the order path's statements that is 60 % of the time
 * they take in WebAssembly. Here a named statement is parsed once (a Parse message with the name,
 * then Describe to learn its result columns); each later call is one Bind + Execute + Sync round
 * trip, which reuses the plan. (PostgreSQL refuses to change a prepared statement's result columns,
 * so they stay as described.) A statement without a name goes in one call too (runUnnamed), where
 * query() takes two. Either way parameters go as text, their types inferred by the server
 * (textParameter), as node-postgres sends them to PostgreSQL: one rule for both engines.
 *
 * The answer is read here from the raw bytes (execProtocolRawStream, BackendReader below): PGlite's
 * execProtocol copies the answer twice and parses it into a message object per row and a string per
 * cell, and that was a third of its thread's time for a search with facets, and garbage enough for a
 * full collection every few hundred milliseconds. bytea columns of prepared statements come back in
 * binary format, as their bytes, instead of hex text twice their size.
 *
 * The caller holds PGlite's locks (see openPglite): execProtocol itself takes none.
 *
 * PGlite documents execProtocol but not the shape of the messages it answers with (its copy of
 * pg-protocol's): the fields read when preparing (rowDescription.fields) are pinned, with the messages written here and the raw answer of
 * execProtocolRawStream, by test/db/pglite-contract.test.ts, so that an upgrade that changes them
 * fails there.
 */
export interface Column {
  name: string
  dataTypeID: number
  /** Its cells come as bytes (binary format, bytea only), not as text for a parser. */
  binary?: boolean
}

interface Prepared {
  text: string
  /** result columns; none for a statement that returns no rows */
  fields: Column[]
  /** Bind's result format per column: binary (1) for bytea, text (0) for the others. */
  formats: number[]
}

export class PgliteStatements {
  private readonly statements = new Map<string, Prepared>()

  constructor(private readonly pg: PGlite) {}

  async run<T>(name: string, text: string, params: readonly unknown[]): Promise<QueryResult<T>> {
    const statement = await this.prepared(name, text)
    const answer = new BackendReader()
    await this.pg.execProtocolRawStream(
      concat([bind(name, params.map(textParameter), statement.formats), execute(), sync()]),
      {
        syncToFs: false,
        onRawData: (chunk) => answer.push(chunk),
      },
    )
    return answer.result<T>(statement.fields, this.pg.parsers)
  }

  /**
   * A statement without a name, in one call: Parse, Bind, Describe (the portal: its columns), Execute
   * and Sync. PGlite's own query() takes two calls (Parse and Describe first, to learn the parameter
   * types) and parses the answer into messages: about 1 ms more for a browse's page.
   */
  async runUnnamed<T>(text: string, params: readonly unknown[]): Promise<QueryResult<T>> {
    const answer = new BackendReader()
    await this.pg.execProtocolRawStream(
      concat([parse('', text), bind('', params.map(textParameter)), describePortal(), execute(), sync()]),
      { syncToFs: false, onRawData: (chunk) => answer.push(chunk) },
    )
    return answer.result<T>(null, this.pg.parsers)
  }

  private async prepared(name: string, text: string) {
    const known = this.statements.get(name)
    if (known) {
      if (known.text !== text) throw new Error(`statement name ${name} is already used for another text`)
      return known
    }
    const { messages } = await this.pg.execProtocol(
      concat([parse(name, text), describeStatement(name), sync()]),
      { syncToFs: false },
    )
    const columns = messages.find((m) => m.name === 'rowDescription') as unknown as
      | { fields: Column[] }
      | undefined
    const fields = (columns?.fields ?? []).map(({ name, dataTypeID }) => ({
      name,
      dataTypeID,
      binary: dataTypeID === BYTEA_OID,
    }))
    const formats = fields.map((f) => (f.binary ? BINARY : TEXT))
    const statement = { text, fields, formats }
    this.statements.set(name, statement)
    return statement
  }
}

// Frontend messages of the PostgreSQL wire protocol (version 3): a type byte, then an int32
// length that counts itself and the body.

const encoder = new TextEncoder()

class Writer {
  private readonly parts: Uint8Array[] = []
  private size = 0

  cstring(s: string) {
    this.bytes(encoder.encode(s))
    return this.bytes(Uint8Array.of(0))
  }

  int16(n: number) {
    const b = new Uint8Array(2)
    new DataView(b.buffer).setInt16(0, n)
    return this.bytes(b)
  }

  int32(n: number) {
    const b = new Uint8Array(4)
    new DataView(b.buffer).setInt32(0, n)
    return this.bytes(b)
  }

  bytes(b: Uint8Array) {
    this.parts.push(b)
    this.size += b.length
    return this
  }

  message(type: string): Uint8Array {
    const out = new Uint8Array(5 + this.size)
    out[0] = type.charCodeAt(0)
    new DataView(out.buffer).setInt32(1, 4 + this.size)
    let at = 5
    for (const p of this.parts) {
      out.set(p, at)
      at += p.length
    }
    return out
  }
}

/** Parse: the statement's name and text; parameter types left for the server to infer. */
const parse = (name: string, text: string) => new Writer().cstring(name).cstring(text).int16(0).message('P')

/** Format codes of Bind. */
const TEXT = 0
const BINARY = 1

/**
 * Bind to the unnamed portal, every parameter in text format; result columns in the formats given
 * (none: all text).
 */
function bind(name: string, values: readonly (string | null)[], formats: readonly number[] = []) {
  const w = new Writer().cstring('').cstring(name).int16(0).int16(values.length)
  for (const v of values) {
    if (v === null) w.int32(-1)
    else {
      const b = encoder.encode(v)
      w.int32(b.length).bytes(b)
    }
  }
  w.int16(formats.length)
  for (const f of formats) w.int16(f)
  return w.message('B')
}

const describeStatement = (name: string) => new Writer().bytes(encoder.encode('S')).cstring(name).message('D')
const describePortal = () => new Writer().bytes(encoder.encode('P')).cstring('').message('D')
const execute = () => new Writer().cstring('').int32(0).message('E')
const sync = () => new Writer().message('S')

/** The messages as written here, for the contract test of PGlite's protocol entry point. */
export const frontend = { parse, bind, describeStatement, describePortal, execute, sync, concat }

function concat(messages: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(messages.reduce((n, m) => n + m.length, 0))
  let at = 0
  for (const m of messages) {
    out.set(m, at)
    at += m.length
  }
  return out
}

const decoder = new TextDecoder()

/**
 * A parameter's text, for a statement whose parameter types the server infers: bytes as hex, a date
 * as ISO 8601, an array as an array literal (every element quoted, which any element type reads), an
 * object as JSON, anything else as its string.
 */
export function textParameter(value: unknown): string | null {
  if (value === null || value === undefined) return null
  if (value instanceof Uint8Array) return byteaText(value)
  if (value instanceof Date) return value.toISOString()
  if (Array.isArray(value)) return arrayLiteral(value)
  if (typeof value === 'object') return JSON.stringify(value)
  return String(value)
}

function arrayLiteral(values: readonly unknown[]): string {
  const element = (v: unknown): string => {
    if (v === null || v === undefined) return 'NULL'
    if (Array.isArray(v)) return arrayLiteral(v)
    const text = textParameter(v) as string
    return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`
  }
  return `{${values.map(element).join(',')}}`
}

/**
 * Fields of an ErrorResponse, by their type byte, as node-postgres and PGlite name them on the error.
 * https://www.postgresql.org/docs/current/protocol-error-fields.html
 */
const ERROR_FIELDS: Record<string, string> = {
  S: 'severity',
  C: 'code',
  D: 'detail',
  H: 'hint',
  P: 'position',
  p: 'internalPosition',
  q: 'internalQuery',
  W: 'where',
  s: 'schema',
  t: 'table',
  c: 'column',
  d: 'dataType',
  n: 'constraint',
  F: 'file',
  L: 'line',
  R: 'routine',
}

/**
 * The answer to Bind + Execute + Sync, from the raw bytes PGlite writes: DataRow cells, the count of
 * CommandComplete and the fields of an ErrorResponse. Every other message (BindComplete, notices,
 * ReadyForQuery) is skipped.
 */
export class BackendReader {
  private readonly chunks: Uint8Array[] = []
  private size = 0

  /** A chunk as PGlite writes it: a view of its memory, copied before the next is written. */
  push(chunk: Uint8Array): void {
    this.chunks.push(chunk.slice())
    this.size += chunk.length
  }

  /** `known`: the statement's columns, or null to read them from the answer's RowDescription. */
  result<T>(
    known: readonly Column[] | null,
    parsers: Record<number, ((text: string, typeId: number) => unknown) | undefined>,
  ): QueryResult<T> {
    let fields = known ?? []
    const bytes = this.chunks.length === 1 ? (this.chunks[0] as Uint8Array) : joined(this.chunks, this.size)
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const rows: T[] = []
    let rowCount = 0
    let error: Error | undefined
    for (let at = 0; at < bytes.length; ) {
      const type = bytes[at] as number
      const end = at + 1 + view.getInt32(at + 1)
      let p = at + 5
      if (type === 0x54 /* T: RowDescription */ && known === null) {
        const n = view.getInt16(p)
        p += 2
        const described: Column[] = []
        for (let i = 0; i < n; i++) {
          const stop = bytes.indexOf(0, p)
          const name = decoder.decode(bytes.subarray(p, stop))
          // then the table's oid (4 bytes), the column's number (2), the type's oid (4), its length (2),
          // its modifier (4) and the format (2)
          described.push({
            name,
            dataTypeID: view.getInt32(stop + 7),
            binary: view.getInt16(stop + 17) === BINARY,
          })
          p = stop + 19
        }
        fields = described
      } else if (type === 0x44 /* D: DataRow */) {
        const n = view.getInt16(p)
        p += 2
        const row: Record<string, unknown> = {}
        for (let i = 0; i < n; i++) {
          const len = view.getInt32(p)
          p += 4
          const f = fields[i] as Column
          if (len < 0) row[f.name] = null
          else if (f.binary) row[f.name] = bytes.slice(p, p + len)
          else {
            const cell = decoder.decode(bytes.subarray(p, p + len))
            const parse = parsers[f.dataTypeID]
            row[f.name] = parse ? parse(cell, f.dataTypeID) : cell
          }
          p += Math.max(len, 0)
        }
        rows.push(row as T)
      } else if (type === 0x43 /* C: CommandComplete */) {
        // the tag ends with the count: "SELECT 1", "INSERT 0 3", "UPDATE 2"
        const tag = decoder.decode(bytes.subarray(p, end - 1))
        const count = Number(tag.split(' ').pop())
        rowCount = Number.isInteger(count) ? count : rows.length
      } else if (type === 0x45 /* E: ErrorResponse */) {
        const found: Record<string, string> = {}
        while (p < end && bytes[p] !== 0) {
          const code = String.fromCharCode(bytes[p] as number)
          const stop = bytes.indexOf(0, p + 1)
          found[code] = decoder.decode(bytes.subarray(p + 1, stop))
          p = stop + 1
        }
        error = new Error(found.M ?? 'PostgreSQL reported an error without a message')
        for (const [code, key] of Object.entries(ERROR_FIELDS))
          if (found[code] !== undefined) Object.assign(error, { [key]: found[code] })
      }
      at = end
    }
    if (error) throw error
    return { rows, rowCount }
  }
}

function joined(chunks: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}
