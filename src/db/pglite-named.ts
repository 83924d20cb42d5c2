import type { PGlite } from '@electric-sql/pglite'
import type { QueryResult } from './db.ts'
import { byteaText } from './pglite-bytea.ts'

/**
 * Named (prepared) statements for PGlite, which its query() does not offer: every query() call
 * parses, analyses and plans its text afresh, and for the order path's statements that is 60 % of
 * the time they take in WebAssembly. Here a named statement is parsed once (a Parse message with
 * the name, then Describe to learn its parameter types and result columns); each later call is one
 * Bind + Execute + Sync round trip through PGlite's wire-protocol entry point, which reuses the plan.
 * (PostgreSQL refuses to change a prepared statement's result columns, so they stay as described.)
 *
 * The caller holds PGlite's locks (see openPglite): execProtocol itself takes none.
 *
 * PGlite documents execProtocol but not the shape of the messages it answers with (its copy of
 * pg-protocol's): the names and fields read below (parameterDescription.dataTypeIDs,
 * rowDescription.fields, dataRow.fields, commandComplete.text) are pinned, with the messages
 * written here, by test/db/pglite-contract.test.ts, so that an upgrade that changes them fails there.
 */
interface Column {
  name: string
  dataTypeID: number
}

interface Prepared {
  text: string
  paramTypes: number[]
  /** result columns; none for a statement that returns no rows */
  fields: Column[]
}

export class PgliteNamedStatements {
  private readonly statements = new Map<string, Prepared>()

  constructor(private readonly pg: PGlite) {}

  async run<T>(name: string, text: string, params: readonly unknown[]): Promise<QueryResult<T>> {
    const statement = await this.prepared(name, text)
    const values = params.map((value, i) => {
      if (value === null || value === undefined) return null
      const serialize = this.pg.serializers[statement.paramTypes[i] ?? 0]
      const serialized = serialize ? serialize(value) : value
      // Bind is written here in text format only: bytes (bytea's serializer passes them through for
      // PGlite's binary format) go as hex text.
      return serialized instanceof Uint8Array ? byteaText(serialized) : String(serialized)
    })
    const { messages } = await this.pg.execProtocol(concat([bind(name, values), execute(), sync()]), {
      syncToFs: false,
    })
    const { fields } = statement
    const rows: T[] = []
    let rowCount = 0
    for (const m of messages) {
      if (m.name === 'dataRow') {
        const cells = (m as unknown as { fields: (string | null)[] }).fields
        const row: Record<string, unknown> = {}
        fields.forEach((f, i) => {
          const cell = cells[i] ?? null
          const parse = this.pg.parsers[f.dataTypeID]
          row[f.name] = cell === null ? null : parse ? parse(cell, f.dataTypeID) : cell
        })
        rows.push(row as T)
      } else if (m.name === 'commandComplete') {
        // the tag ends with the count: "SELECT 1", "INSERT 0 3", "UPDATE 2"
        const n = Number((m as unknown as { text: string }).text.split(' ').pop())
        rowCount = Number.isInteger(n) ? n : rows.length
      }
    }
    return { rows, rowCount }
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
    const params = messages.find((m) => m.name === 'parameterDescription') as unknown as
      | { dataTypeIDs: number[] }
      | undefined
    const columns = messages.find((m) => m.name === 'rowDescription') as unknown as
      | { fields: Column[] }
      | undefined
    const statement = { text, paramTypes: params?.dataTypeIDs ?? [], fields: columns?.fields ?? [] }
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

/** Bind to the unnamed portal, every parameter and result column in text format. */
function bind(name: string, values: readonly (string | null)[]) {
  const w = new Writer().cstring('').cstring(name).int16(0).int16(values.length)
  for (const v of values) {
    if (v === null) w.int32(-1)
    else {
      const b = encoder.encode(v)
      w.int32(b.length).bytes(b)
    }
  }
  return w.int16(0).message('B')
}

const describeStatement = (name: string) => new Writer().bytes(encoder.encode('S')).cstring(name).message('D')
const execute = () => new Writer().cstring('').int32(0).message('E')
const sync = () => new Writer().message('S')

/** The messages as written here, for the contract test of PGlite's protocol entry point. */
export const frontend = { parse, bind, describeStatement, execute, sync, concat }

function concat(messages: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(messages.reduce((n, m) => n + m.length, 0))
  let at = 0
  for (const m of messages) {
    out.set(m, at)
    at += m.length
  }
  return out
}
