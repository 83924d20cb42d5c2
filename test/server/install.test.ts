/**
 * `npm install` on the oldest Node.js the project promises (package.json `engines`) installs every
 * package without an EBADENGINE warning: each locked package's own `engines.node` admits it.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import semver from 'semver'

const read = (file: string) => JSON.parse(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'))

test('every locked package runs on the oldest Node.js that package.json promises', () => {
  const promised = read('package.json').engines.node as string
  const oldest = semver.minVersion(promised)?.version
  assert.ok(oldest, promised)
  const lock = read('package-lock.json') as { packages: Record<string, { engines?: { node?: string } }> }
  const refused = Object.entries(lock.packages)
    .filter(([, p]) => p.engines?.node && !semver.satisfies(oldest, p.engines.node))
    .map(([path, p]) => `${path} needs node ${p.engines?.node}`)
  assert.deepEqual(refused, [], `Node ${oldest} (package.json: ${promised})`)
})
