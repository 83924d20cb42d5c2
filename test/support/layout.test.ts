/**
 * Every test file is one the suite runs: `npm test` lists its files with shell globs (sh has no `**`),
 * so a test file written anywhere else would silently never run.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const scripts = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).scripts

/** A shell glob of the scripts (`*` within one path segment) as a regular expression. */
function globOf(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')
  return new RegExp(`^${escaped}$`)
}

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`
    if (e.isDirectory()) return testFiles(path)
    return e.name.endsWith('.test.ts') ? [relative(ROOT, path)] : []
  })
}

for (const name of ['test', 'test:only']) {
  test(`every test file under test/ is matched by the globs of npm run ${name}`, () => {
    const globs = String(scripts[name])
      .split(/\s+/)
      .filter((word) => word.startsWith('test/'))
      .map(globOf)
    assert.ok(globs.length > 0, `npm run ${name} names no test files`)
    const files = testFiles(`${ROOT}test`)
    assert.ok(files.length > 50, `only ${files.length} test files found`)
    assert.deepEqual(
      files.filter((file) => !globs.some((glob) => glob.test(file))),
      [],
      'test files the script does not run',
    )
  })
}
