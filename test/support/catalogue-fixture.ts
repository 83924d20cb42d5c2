/** A small course catalogue (the SQLite layout of book.db) for the import tests. */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import sqlite from 'node-sqlite3-wasm'

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex')
const JPEG = Buffer.from('ffd8ffe000104a464946', 'hex')

/** A small catalogue in the course's SQLite layout, with awkward rows on purpose. */
export function makeCatalogue(dir: string): string {
  const file = join(dir, 'mini.db')
  const db = new sqlite.Database(file)
  db.run(`CREATE TABLE book (id TEXT, title TEXT, author TEXT, publisher TEXT, original_title TEXT,
    translator TEXT, pub_year TEXT, pages INT, price INT, currency_unit TEXT, binding TEXT, isbn TEXT,
    author_intro TEXT, book_intro TEXT, content TEXT, tags TEXT, picture BLOB)`)
  const ins = db.prepare('INSERT INTO book VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)')
  for (let i = 0; i < 25; i++) {
    ins.run([
      `b${String(i).padStart(3, '0')}`,
      `书名 ${i}`,
      i % 2 ? '作者甲' : null,
      '出版社',
      null,
      null,
      '2002-1',
      i % 5 === 0 ? null : 100 + i,
      1000 + i,
      '元',
      '平装',
      `97875${i}`,
      null,
      `简介 ${i}`,
      '',
      '小说\n  经典 \n\n',
      i % 3 === 0 ? null : i % 2 ? PNG : JPEG,
    ])
  }
  ins.run([
    'bad-no-title',
    null,
    null,
    null,
    null,
    null,
    null,
    null,
    5,
    null,
    null,
    null,
    null,
    null,
    null,
    null,
    null,
  ])
  ins.finalize()
  db.close()
  return file
}

/** A catalogue of n plain books (no pictures), for imports that take many batches. */
export function makePlainCatalogue(dir: string, n: number): string {
  const file = join(dir, `plain-${n}.db`)
  if (existsSync(file)) return file
  const db = new sqlite.Database(file)
  db.run(`CREATE TABLE book (id TEXT, title TEXT, author TEXT, publisher TEXT, original_title TEXT,
    translator TEXT, pub_year TEXT, pages INT, price INT, currency_unit TEXT, binding TEXT, isbn TEXT,
    author_intro TEXT, book_intro TEXT, content TEXT, tags TEXT, picture BLOB)`)
  db.run('BEGIN')
  const ins = db.prepare('INSERT INTO book (id, title, author, price, tags) VALUES (?,?,?,?,?)')
  for (let i = 0; i < n; i++) ins.run([`g${i}`, `Generated book ${i}`, `Author ${i % 97}`, 100 + i, 'tag'])
  ins.finalize()
  db.run('COMMIT')
  db.close()
  return file
}
