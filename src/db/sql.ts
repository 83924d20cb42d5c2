/**
 * SQL statements built from fragments, with their `$n` placeholders numbered by the helper instead of
 * by hand. A statement is written as a tagged template:
 *
 *   sql`SELECT * FROM listings l WHERE l.store_id = ${storeId} ${inStock ? sql`AND l.stock_level > 0` : sql.empty}`
 *
 * Every interpolated value becomes a parameter (`$1`, `$2`, … in the order they appear in the final
 * text), every interpolated fragment is spliced in with its own values renumbered, so that a dynamic
 * statement is put together from pieces without any piece knowing how many parameters came before it.
 * Text reaches the statement only from template literals in the code, from `sql.ident` (a bare name,
 * checked) and from `sql.literal` (a constant, quoted): never a value a request sent.
 */
import type { Queryable, QueryOptions, QueryResult } from './db.ts'

/**
 * A value bound once and used in several places of a statement: every use is the same placeholder
 * (the planner then knows they are equal, and the value is sent once).
 */
export class Bound {
  constructor(readonly value: unknown) {}
}

/** A piece of SQL: text around values, bound values and nested fragments. */
export class Sql {
  /** `texts` has one more element than `items`: text, item, text, item, …, text. */
  constructor(
    readonly texts: readonly string[],
    readonly items: readonly unknown[],
  ) {}

  /** The statement's text and its parameters, numbered in the order they appear. */
  compile(): { text: string; values: unknown[] } {
    const values: unknown[] = []
    const numbers = new Map<Bound, number>()
    const placeholder = (value: unknown): string => {
      if (value instanceof Bound) {
        let n = numbers.get(value)
        if (n === undefined) {
          n = values.push(value.value)
          numbers.set(value, n)
        }
        return `$${n}`
      }
      return `$${values.push(value)}`
    }
    const write = (s: Sql): string => {
      let text = s.texts[0] ?? ''
      s.items.forEach((item, i) => {
        text += (item instanceof Sql ? write(item) : placeholder(item)) + (s.texts[i + 1] ?? '')
      })
      return text
    }
    return { text: write(this), values }
  }
}

/** A fragment of the text as written in the code; `${…}` are values or fragments (see the module comment). */
export function sql(texts: TemplateStringsArray, ...items: unknown[]): Sql {
  return new Sql([...texts], items)
}

/** The empty fragment (an optional condition that does not apply). */
sql.empty = new Sql([''], [])

/** The fragments with `separator` between them (empty when there are none). */
sql.join = (fragments: readonly Sql[], separator: Sql = sql`, `): Sql => {
  if (fragments.length === 0) return sql.empty
  const texts = ['']
  const items: unknown[] = []
  fragments.forEach((f, i) => {
    if (i > 0) {
      items.push(separator)
      texts.push('')
    }
    items.push(f)
    texts.push('')
  })
  return new Sql(texts, items)
}

/** A value to be used more than once in a statement with one placeholder (see Bound). */
sql.bind = (value: unknown): Bound => new Bound(value)

/** A name made in the code (a column, a table alias such as `c3`): letters, digits and `_`, optionally `alias.`. */
const NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/
/**
 * A column or alias name put into the text as it is. It must be a name the code chose (never a
 * request's text): anything that is not letters, digits and `_` is refused, so that no
 * name can end a token and start another.
 */
sql.ident = (name: string): Sql => {
  if (!NAME.test(name)) throw new Error(`not a plain SQL name: ${JSON.stringify(name)}`)
  return new Sql([name], [])
}

/**
 * A constant written into the text instead of sent as a parameter, where the planner must see it
 * (a bitmap length, a kind letter the index condition names): an integer as it is, a string quoted.
 */
sql.literal = (value: string | number): Sql => {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`not an integer SQL literal: ${value}`)
    return new Sql([String(value)], [])
  }
  return new Sql([`'${value.replaceAll("'", "''")}'`], [])
}

/**
 * Names for statements built on the fly whose texts repeat: a search's statements have one text per
 * shape of query (how many words, tags, typo candidates…), whatever the words are. Each distinct text
 * gets a name of its own, so that a connection parses and plans it once instead of on every search
 * (0.4–0.5 ms a statement on PostgreSQL, more on PGlite). Only the first `cap` texts are named: a
 * prepared search statement holds 70–300 kB of plans in each connection that ran it, and queries of
 * unusual shapes must not grow that without bound. Texts beyond the cap are sent unnamed, as before.
 */
export class StatementShapes {
  private static readonly prefixes = new Set<string>()
  private readonly names = new Map<string, string>()

  constructor(
    private readonly prefix: string,
    readonly cap: number,
  ) {
    // Two families with one prefix could give one name to two texts, which a connection refuses.
    if (StatementShapes.prefixes.has(prefix)) throw new Error(`statement shapes ${prefix} exist already`)
    StatementShapes.prefixes.add(prefix)
  }

  /** The options naming this text, or none once the cap is reached and the text is new. */
  of(text: string): QueryOptions | undefined {
    let name = this.names.get(text)
    if (name === undefined && this.names.size < this.cap) {
      name = `${this.prefix}_${this.names.size}`
      this.names.set(text, name)
    }
    return name === undefined ? undefined : { name }
  }
}

/**
 * Sends a statement built with `sql`: opts.name only for a statement whose text never changes,
 * StatementShapes for a family of statements built on the fly.
 */
export function query<T = Record<string, unknown>>(
  q: Queryable,
  statement: Sql,
  opts?: QueryOptions | StatementShapes,
): Promise<QueryResult<T>> {
  const { text, values } = statement.compile()
  return q.query<T>(text, values, opts instanceof StatementShapes ? opts.of(text) : opts)
}
