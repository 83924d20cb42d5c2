/** The SQL helper (src/db/sql.ts): placeholders numbered by it, fragments composed, names checked. */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Db } from '../../src/db/db.ts'
import { query, StatementShapes, sql } from '../../src/db/sql.ts'
import { freshDb, type TestDb } from '../support/helpers.ts'

describe('sql: placeholders', () => {
  it('when values are interpolated, then each becomes the next $n in the order of the text', () => {
    const s = sql`SELECT * FROM t WHERE a = ${1} AND b = ${'two'} AND c = ${null}`.compile()
    assert.equal(s.text, 'SELECT * FROM t WHERE a = $1 AND b = $2 AND c = $3')
    assert.deepEqual(s.values, [1, 'two', null])
  })

  it('when fragments are nested, then their values are renumbered where they land', () => {
    const inner = sql`b = ${'x'} AND c = ${'y'}`
    const s = sql`SELECT ${0} WHERE a = ${'a'} AND (${inner}) AND d = ${'d'}`.compile()
    assert.equal(s.text, 'SELECT $1 WHERE a = $2 AND (b = $3 AND c = $4) AND d = $5')
    assert.deepEqual(s.values, [0, 'a', 'x', 'y', 'd'])
  })

  it('when the same fragment is used twice, then its plain values are sent twice', () => {
    const cond = sql`a = ${7}`
    const s = sql`${cond} OR ${cond}`.compile()
    assert.equal(s.text, 'a = $1 OR a = $2')
    assert.deepEqual(s.values, [7, 7])
  })

  it('when a bound value is used in several places, then every use is one placeholder', () => {
    const term = sql.bind('word')
    const s = sql`x = ${1} AND t = ${term} AND (SELECT 1 WHERE u = ${term}) AND y = ${2}`.compile()
    assert.equal(s.text, 'x = $1 AND t = $2 AND (SELECT 1 WHERE u = $2) AND y = $3')
    assert.deepEqual(s.values, [1, 'word', 2])
  })

  it('when a bound value appears first inside a nested fragment, then it is numbered there', () => {
    const id = sql.bind('id')
    const s = sql`SELECT ${sql`f(${id}, ${'z'})`}, ${id}`.compile()
    assert.equal(s.text, 'SELECT f($1, $2), $1')
    assert.deepEqual(s.values, ['id', 'z'])
  })

  it('when the same bound value is in two statements, then each statement numbers it on its own', () => {
    const v = sql.bind(5)
    assert.equal(sql`a = ${'a'} AND v = ${v}`.compile().text, 'a = $1 AND v = $2')
    assert.equal(sql`v = ${v}`.compile().text, 'v = $1')
  })

  it('when values look like SQL, then they stay values and never reach the text', () => {
    const hostile = ["'; DROP TABLE users; --", '$1', '\\', 'a) OR (1 = 1']
    const s = sql`SELECT ${sql.join(hostile.map((h) => sql`${h}`))}`.compile()
    assert.equal(s.text, 'SELECT $1, $2, $3, $4')
    assert.deepEqual(s.values, hostile)
  })

  it('when arrays, buffers and objects are interpolated, then each is one parameter as it is', () => {
    const buf = Buffer.from('ab')
    const s = sql`${['a', 'b']}::text[] ${buf} ${{ k: 1 }}`.compile()
    assert.equal(s.text, '$1::text[] $2 $3')
    assert.deepEqual(s.values, [['a', 'b'], buf, { k: 1 }])
  })
})

describe('sql: composing', () => {
  it('when fragments are joined, then the separator goes between them and values are renumbered', () => {
    const s = sql`WHERE ${sql.join([sql`a = ${1}`, sql`b = ${2}`, sql`c`], sql` AND `)} LIMIT ${3}`.compile()
    assert.equal(s.text, 'WHERE a = $1 AND b = $2 AND c LIMIT $3')
    assert.deepEqual(s.values, [1, 2, 3])
  })

  it('when no separator is given, then fragments are joined with a comma', () => {
    assert.equal(sql.join([sql`a`, sql`b`]).compile().text, 'a, b')
  })

  it('when the separator holds a value, then each use of it is a parameter', () => {
    const s = sql.join([sql`a`, sql`b`, sql`c`], sql` ${'|'} `).compile()
    assert.equal(s.text, 'a $1 b $2 c')
    assert.deepEqual(s.values, ['|', '|'])
  })

  it('when nothing is joined or an empty fragment is spliced, then nothing is written', () => {
    assert.equal(sql.join([]).compile().text, '')
    assert.equal(sql.join([sql.empty, sql`a`, sql.empty], sql.empty).compile().text, 'a')
    const s = sql`SELECT 1${sql.empty} WHERE x = ${1}${sql.empty}`.compile()
    assert.equal(s.text, 'SELECT 1 WHERE x = $1')
    assert.deepEqual(s.values, [1])
  })

  it('when a fragment holds no values, then compiling it gives its text alone', () => {
    assert.deepEqual(sql`SELECT now()`.compile(), { text: 'SELECT now()', values: [] })
  })
})

describe('sql: names and constants in the text', () => {
  it('when a name is plain (or alias-qualified), then it is written as it is', () => {
    assert.equal(sql`SELECT ${sql.ident('c3')}, ${sql.ident('p.k0')}`.compile().text, 'SELECT c3, p.k0')
  })

  it('when a name holds anything but letters, digits and _, then it is refused', () => {
    for (const bad of ['', 'a b', 'a;b', '"x"', "x'", 'a.b.c', '1a', 'x--', 'x)'])
      assert.throws(() => sql.ident(bad), /not a plain SQL name/, bad)
  })

  it('when a constant is written into the text, then an integer is bare and a string is quoted', () => {
    assert.equal(sql`bit(${sql.literal(8192)}) ${sql.literal("it's")}`.compile().text, "bit(8192) 'it''s'")
    assert.throws(() => sql.literal(1.5), /not an integer/)
    assert.throws(() => sql.literal(Number.NaN), /not an integer/)
  })
})

describe('sql: statement shapes', () => {
  it('when texts repeat, then each distinct text keeps one name, up to the cap', () => {
    const shapes = new StatementShapes('test_shapes_cap', 2)
    const a = shapes.of('SELECT 1')
    const b = shapes.of('SELECT 2')
    assert.ok(a?.name && b?.name)
    assert.notEqual(a.name, b.name)
    assert.deepEqual(shapes.of('SELECT 1'), a)
    // The cap reached: a new text goes unnamed, the named ones keep their names.
    assert.equal(shapes.of('SELECT 3'), undefined)
    assert.equal(shapes.of('SELECT 3'), undefined)
    assert.deepEqual(shapes.of('SELECT 2'), b)
  })

  it('when a second family takes a prefix in use, then it is refused', () => {
    new StatementShapes('test_shapes_twice', 1)
    assert.throws(() => new StatementShapes('test_shapes_twice', 1), /exist already/)
  })
})

describe('sql: sent to the database', () => {
  let t: TestDb
  let db: Db
  before(async () => {
    t = await freshDb()
    db = t.db
  })
  after(() => t.dispose())

  it('when a composed statement with a bound value is sent, then the database sees the values in place', async () => {
    const word = sql.bind("'; SELECT 1; --")
    const r = await query<{ a: string; b: boolean; n: number }>(
      db,
      sql`SELECT ${word}::text AS a, ${word}::text = ${"'; SELECT 1; --"}::text AS b, ${sql.join([sql`${1}::int`, sql`${2}::int`], sql` + `)} AS n`,
    )
    assert.deepEqual(r.rows, [{ a: "'; SELECT 1; --", b: true, n: 3 }])
  })

  it('when statements of one shape are sent with other values, then each answers for its own', async () => {
    const shapes = new StatementShapes('test_shapes_sent', 4)
    const statement = (words: string[], extra: boolean) =>
      sql`SELECT w, length(w) AS n${extra ? sql`, upper(w) AS u` : sql.empty} FROM unnest(${words}::text[]) AS w ORDER BY w`
    for (const [words, extra] of [
      [['b', 'a'], false],
      [['with,comma', 'with "quote"', '带中文'], false],
      [['x'], true],
      [['b', 'a'], true],
    ] as const) {
      const named = await query(db, statement([...words], extra), shapes)
      const plain = await query(db, statement([...words], extra))
      assert.deepEqual(named.rows, plain.rows)
      assert.equal(named.rows.length, words.length)
    }
  })

  it('when a literal string is sent, then it reads back unchanged', async () => {
    const r = await query<{ s: string }>(db, sql`SELECT ${sql.literal("a'b\\c")}::text AS s`)
    assert.equal(r.rows[0]?.s, "a'b\\c")
  })
})
