import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CourseDb, NotACatalogue } from '../catalog/course-db.ts'
import { emptyProgress, type ImportProgress, importCatalog } from '../catalog/import.ts'
import { analyseListings } from '../repositories/listings.ts'
import { findStore } from '../repositories/stores.ts'
import type { Deps } from './context.ts'

/**
 * uploading: the file is arriving · running: books are being listed · done / failed: finished ·
 * interrupted: a job file is on disk but no process runs it (the server stopped): it can be resumed.
 */
export type ImportState = 'uploading' | 'running' | 'done' | 'failed' | 'interrupted'

export interface ImportStatus {
  storeId: string
  state: ImportState
  progress: ImportProgress
  /** ms since the epoch; the rate and time left are measured from here. */
  startedAt: number
  finishedAt: number | undefined
  /** Why a failed job stopped (the database's message). */
  error: string | undefined
}

/** A reserved upload: where the file goes, and for which store. */
export interface Upload {
  storeId: string
  path: string
}

export type BeginRefusal = 'not_owner' | 'busy' | 'too_many'

interface Job extends ImportStatus {
  owner: string
  stock: number
}

/** What is kept on disk next to the uploaded file while a job is not finished (to resume it). */
interface JobFile {
  storeId: string
  owner: string
  stock: number
}

/** The largest catalogue accepted (the course's book_lx.db is a few GB). */
export const MAX_CATALOGUE_BYTES = 32 * 1024 ** 3
/** Uploads being received at once in this process: each holds a socket and writes to disk. */
export const MAX_UPLOADS_AT_ONCE = 2
/** Books per transaction: small enough that a stop loses no more than a moment's work. */
const BATCH = 100

/**
 * Imports of course catalogues uploaded by sellers, run in this process by the same code as the
 * `import` command (importCatalog): one job per store at a time, a batch per transaction, books the
 * store already lists skipped. The uploaded file and a small job file stay on disk until the job
 * finishes, so that a job stopped by a server stop is shown as interrupted and resumed from them
 * (resuming skips what was committed).
 */
export class CatalogueImportService {
  /** Where uploads are kept: under DATA_DIR with the embedded database, else the OS temp dir. */
  readonly dir: string
  private readonly jobs = new Map<string, Job>()
  private readonly running = new Set<Promise<void>>()
  private readonly stopping = new AbortController()
  private uploading = 0

  constructor(private readonly deps: Deps) {
    this.dir = deps.config.databaseUrl
      ? join(tmpdir(), 'bookstore-imports')
      : join(deps.config.dataDir, 'imports')
  }

  /** Files of a store's job: store ids may hold any character, so they are named by a hash. */
  private files(storeId: string) {
    const key = createHash('sha256').update(storeId).digest('hex').slice(0, 32)
    return { catalogue: join(this.dir, `${key}.db`), job: join(this.dir, `${key}.json`) }
  }

  /** Reserves an upload into the owner's store: refused when not theirs, busy, or too many at once. */
  async begin(
    owner: string,
    storeId: string,
    stock: number,
  ): Promise<{ ok: true; upload: Upload } | { ok: false; reason: BeginRefusal }> {
    const store = await findStore(this.deps.db, storeId)
    if (!store || store.owner_id !== owner) return { ok: false, reason: 'not_owner' }
    const current = this.jobs.get(storeId)
    if (current && (current.state === 'uploading' || current.state === 'running'))
      return { ok: false, reason: 'busy' }
    if (this.uploading >= MAX_UPLOADS_AT_ONCE) return { ok: false, reason: 'too_many' }
    this.uploading++
    mkdirSync(this.dir, { recursive: true })
    this.jobs.set(storeId, {
      storeId,
      owner,
      stock,
      state: 'uploading',
      progress: emptyProgress(),
      startedAt: Date.now(),
      finishedAt: undefined,
      error: undefined,
    })
    const path = join(this.dir, `upload-${randomBytes(8).toString('hex')}.part`)
    return { ok: true, upload: { storeId, path } }
  }

  /** The upload did not arrive whole (or was refused): its file is removed and the store is free. */
  abandon(upload: Upload): void {
    rmSync(upload.path, { force: true })
    this.release(upload)
    this.jobs.delete(upload.storeId)
  }

  private release(upload: Upload) {
    if (this.jobs.get(upload.storeId)?.state === 'uploading') this.uploading--
  }

  /**
   * The file has arrived: it is checked to be a course catalogue (otherwise it is removed, nothing
   * is written, and the reason returned), then the import starts in the background.
   */
  start(upload: Upload): { ok: true } | { ok: false; reason: NotACatalogue['why'] } {
    const job = this.jobs.get(upload.storeId)
    if (!job) throw new Error(`no upload reserved for ${upload.storeId}`)
    try {
      new CourseDb(upload.path).close()
    } catch (err) {
      this.abandon(upload)
      if (err instanceof NotACatalogue) return { ok: false, reason: err.why }
      throw err
    }
    this.release(upload)
    const f = this.files(upload.storeId)
    renameSync(upload.path, f.catalogue)
    const jobFile: JobFile = { storeId: job.storeId, owner: job.owner, stock: job.stock }
    writeFileSync(f.job, JSON.stringify(jobFile))
    this.run(job)
    return { ok: true }
  }

  /** The store's current or last job, for its owner only (a job left by a stopped server included). */
  status(owner: string, storeId: string): ImportStatus | undefined {
    const job = this.jobs.get(storeId) ?? this.interrupted(storeId)
    if (!job || job.owner !== owner) return undefined
    const { owner: _o, stock: _s, ...status } = job
    return { ...status, progress: { ...job.progress, failures: [...job.progress.failures] } }
  }

  /** A job file on disk with no job in this process: the server stopped while it ran. */
  private interrupted(storeId: string): Job | undefined {
    const f = this.files(storeId)
    if (!existsSync(f.job) || !existsSync(f.catalogue)) return undefined
    const saved = JSON.parse(readFileSync(f.job, 'utf8')) as JobFile
    if (saved.storeId !== storeId) return undefined
    return {
      ...saved,
      state: 'interrupted',
      progress: emptyProgress(),
      startedAt: Date.now(),
      finishedAt: undefined,
      error: undefined,
    }
  }

  /** Runs an interrupted or failed job again from its kept file: listed books are skipped. */
  resume(owner: string, storeId: string): boolean {
    const job = this.jobs.get(storeId) ?? this.interrupted(storeId)
    if (!job || job.owner !== owner) return false
    if (job.state !== 'interrupted' && job.state !== 'failed') return false
    if (!existsSync(this.files(storeId).catalogue)) return false
    this.jobs.set(storeId, job)
    this.run(job)
    return true
  }

  private run(job: Job) {
    const f = this.files(job.storeId)
    Object.assign(job, { state: 'running', startedAt: Date.now(), finishedAt: undefined, error: undefined })
    const work = (async () => {
      const source = new CourseDb(f.catalogue)
      try {
        const result = await importCatalog(this.deps.db, this.deps.hasher, source, {
          storeId: job.storeId,
          sellerId: job.owner,
          stock: job.stock,
          batchSize: BATCH,
          signal: this.stopping.signal,
          onProgress: (p) => {
            job.progress = p
          },
        })
        job.progress = result
        if (this.stopping.signal.aborted && result.seen < result.total) return // interrupted: files stay
        if (result.added > 0) await analyseListings(this.deps.db)
        job.state = 'done'
        rmSync(f.job, { force: true })
        rmSync(f.catalogue, { force: true })
      } finally {
        source.close()
        job.finishedAt = Date.now()
      }
    })().catch((err: unknown) => {
      // The files stay: the seller can resume once the database answers again.
      job.state = 'failed'
      job.error = err instanceof Error ? err.message : String(err)
    })
    this.running.add(work)
    void work.finally(() => this.running.delete(work))
  }

  /** Stops every job after the batch it is writing commits (the server is closing). */
  async stop(): Promise<void> {
    this.stopping.abort()
    await Promise.all(this.running)
  }
}
