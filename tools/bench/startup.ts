/**
 * `bookstore bench-startup`: how long the server takes from spawn to a 200 from /ready, and its
 * memory then, run from the TypeScript sources through tsx (as `npm start` does) against compiled
 * JavaScript. The compiled copy is built here, into a temporary directory: tsc with
 * rewriteRelativeImportExtensions, the files the sources read (migrations, assets) copied beside
 * it, and the PGlite worker started from the compiled thread module instead of through tsx with eval
 * (what a compiled build would do). Each round starts both, in alternating order, on a fresh data
 * directory (migrations included) and again on that directory (a restart). Embedded engine only.
 */
import { execFileSync, spawn } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { table } from './stats.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

interface Variant {
  name: string
  cwd: string
  args: string[]
}

/** Compiles the sources into dir and answers how to start the compiled server. */
function buildCompiled(dir: string): Variant {
  execFileSync(
    process.execPath,
    [
      join(ROOT, 'node_modules/typescript/bin/tsc'),
      ...['-p', join(ROOT, 'tsconfig.json'), '--noEmit', 'false', '--outDir', dir, '--rootDir', ROOT],
      ...['--rewriteRelativeImportExtensions', '--sourceMap', 'false'],
    ],
    { stdio: 'inherit' },
  )
  // What the sources read beside them at run time (migrations, the shop's assets), not the sources.
  cpSync(join(ROOT, 'src'), join(dir, 'src'), {
    recursive: true,
    filter: (path) => statSync(path).isDirectory() || !path.endsWith('.ts'),
  })
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'))
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
  const worker = join(dir, 'src/db/pglite-worker.js')
  const source = readFileSync(worker, 'utf8')
  // The thread's compiled module itself, in place of the tsx bootstrap run with eval.
  const tsxWorker = 'new Worker(BOOTSTRAP, { eval: true, '
  if (!source.includes(tsxWorker)) throw new Error('pglite-worker.ts no longer starts its thread as expected')
  const compiledWorker = "new Worker(new URL('./pglite-thread.js', import.meta.url), { "
  writeFileSync(worker, source.replace(tsxWorker, compiledWorker))
  return { name: 'compiled JavaScript', cwd: dir, args: ['src/server.js'] }
}

/** MiB of a /proc status field (VmRSS: resident now, VmHWM: the peak). */
const mib = (pid: number, field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024

async function startOnce(v: Variant, dataDir: string): Promise<{ ms: number; rss: number; peak: number }> {
  const port = 20000 + Math.floor(Math.random() * 20000)
  const t0 = performance.now()
  const child = spawn(process.execPath, v.args, {
    cwd: v.cwd,
    env: {
      ...process.env,
      DATABASE_URL: '',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      DATA_DIR: dataDir,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${v.name}: the server exited with ${child.exitCode}`)
      if (
        await fetch(`http://127.0.0.1:${port}/ready`).then(
          (r) => r.ok,
          () => false,
        )
      )
        break
      await new Promise((r) => setTimeout(r, 10))
    }
    const ms = performance.now() - t0
    return { ms, rss: mib(child.pid as number, 'VmRSS'), peak: mib(child.pid as number, 'VmHWM') }
  } finally {
    child.kill('SIGTERM')
    await exited
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number

export async function benchStartup(rounds: number): Promise<string> {
  const work = mkdtempSync(join(tmpdir(), 'bookstore-startup-'))
  try {
    process.stderr.write('building the compiled copy…\n')
    const variants: Variant[] = [
      { name: 'TypeScript through tsx', cwd: ROOT, args: ['bin/bookstore.js', 'serve'] },
      buildCompiled(join(work, 'dist')),
    ]
    type Sample = { ms: number; rss: number; peak: number }
    const samples = new Map(variants.map((v) => [v.name, { fresh: [] as Sample[], restart: [] as Sample[] }]))
    for (let round = 1; round <= rounds; round++) {
      for (const v of round % 2 ? variants : [...variants].reverse()) {
        const dataDir = mkdtempSync(join(work, 'data-'))
        const mine = samples.get(v.name) as { fresh: Sample[]; restart: Sample[] }
        mine.fresh.push(await startOnce(v, dataDir))
        mine.restart.push(await startOnce(v, dataDir))
        rmSync(dataDir, { recursive: true, force: true })
      }
      process.stderr.write(`  round ${round}/${rounds} done\n`)
    }
    const rows: (string | number)[][] = []
    for (const [name, s] of samples)
      for (const [start, xs] of [
        ['fresh data directory', s.fresh],
        ['restart', s.restart],
      ] as const)
        rows.push([
          name,
          start,
          median(xs.map((x) => x.ms)).toFixed(0),
          xs.map((x) => x.ms.toFixed(0)).join(' '),
          median(xs.map((x) => x.rss)).toFixed(0),
          median(xs.map((x) => x.peak)).toFixed(0),
        ])
    return [
      `start-up to /ready, embedded engine, ${rounds} rounds (medians)`,
      table(['run as', 'start', 'ms', 'every round (ms)', 'RSS MiB', 'peak MiB'], rows),
    ].join('\n')
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}
