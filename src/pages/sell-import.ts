import { createWriteStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import type {} from '@fastify/multipart'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { LIMITS } from '../limits.ts'
import { StoreId } from '../routes/schemas.ts'
import {
  type CatalogueImportService,
  type ImportStatus,
  MAX_CATALOGUE_BYTES,
  type Upload,
} from '../services/catalogue-import.ts'
import type { SellerService } from '../services/seller.ts'
import { signedIn } from './account.ts'
import type { Assets } from './assets.ts'
import { csrfOk, type PageContext } from './context.ts'
import { errorPage, forgedPage, notFoundPage, oddParams } from './errors.ts'
import { parseCount } from './format.ts'
import { type Html, html } from './html.ts'
import type { MessageKey } from './i18n/index.ts'
import { flashFrom, hiddenCsrf, layout, type PageOptions, sendPage } from './layout.ts'

const StoreParams = Type.Object({ store_id: StoreId })
const ResumeBody = Type.Object({ _csrf: Type.Optional(Type.String({ maxLength: 100 })) })
/** The form: the token and the stock first, then one file (browsers send fields in the form's order). */
const UPLOAD_LIMITS = { files: 1, fileSize: MAX_CATALOGUE_BYTES, fields: 4, fieldSize: 1024, parts: 5 }
const DEFAULT_STOCK = 10

export interface SellImportDeps {
  imports: CatalogueImportService
  seller: SellerService
  assets: Assets
}

/** Books a second since the job started, and seconds left at that rate (undefined before any). */
export function pace(s: ImportStatus, now = Date.now()): { rate: number; etaS: number | undefined } {
  const secs = ((s.finishedAt ?? now) - s.startedAt) / 1000
  const rate = secs > 0 ? s.progress.seen / secs : 0
  const left = s.progress.total - s.progress.seen
  return { rate, etaS: rate > 0 ? Math.ceil(left / rate) : undefined }
}

/**
 * Importing a course catalogue from /sell: the upload streams to a file (never into memory), the
 * import runs in this process (CatalogueImportService), and the page shows a <progress> that a small
 * script refreshes from the JSON status; without the script, a refresh link does the same.
 */
export const sellImportPages: FastifyPluginAsyncTypebox<SellImportDeps> = async (
  app,
  { imports, seller, assets },
) => {
  const base = (storeId: string) => `/sell/store/${encodeURIComponent(storeId)}/import`

  /** The signed-in user's own store, or undefined once the page has answered (sign-in or 404). */
  async function ownStore(
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<[string, string] | undefined> {
    const { store_id } = request.params as { store_id: string }
    const user = signedIn(request, reply)
    if (!user) return undefined
    if (!(await seller.stores(user)).includes(store_id)) {
      await notFoundPage(request, reply, assets)
      return undefined
    }
    return [user, store_id]
  }

  /** While running: the rate and the time left; once finished: the rate and the time it took. */
  function paceText(ctx: PageContext, s: ImportStatus): string {
    const { rate, etaS } = pace(s)
    if (s.finishedAt !== undefined)
      return ctx.t('import.rateDone', {
        rate: rate.toFixed(1),
        secs: Math.max(1, Math.round((s.finishedAt - s.startedAt) / 1000)),
      })
    return etaS === undefined ? '' : ctx.t('import.rate', { rate: rate.toFixed(1), eta: etaS })
  }

  function statusPanel(ctx: PageContext, storeId: string, s: ImportStatus): Html {
    const { t } = ctx
    const p = s.progress
    const active = s.state === 'running' || s.state === 'uploading'
    const counts = t('import.counts', { seen: p.seen, total: p.total })
    const result: [MessageKey, number][] = [
      ['import.added', p.added],
      ['import.skipped', p.skipped],
      ['import.invalid', p.invalid],
      ['import.failed', p.failed],
    ]
    const stateText =
      s.state === 'failed'
        ? t('import.state.failed', { error: s.error ?? '' })
        : t(`import.state.${s.state}` as MessageKey)
    return html`<section class="panel wide import-status" aria-labelledby="h-progress"${active ? html` data-import-status="${base(storeId)}/status"` : ''}>
<h2 id="h-progress">${t('import.progress')}</h2>
<p class="import-state" role="status" data-field="state">${stateText}</p>
<progress id="import-bar" max="${Math.max(1, p.total)}" value="${p.seen}" aria-label="${t('import.progress')}">${counts}</progress>
<p><span data-field="counts">${counts}</span> · <span data-field="pace">${paceText(ctx, s)}</span></p>
<dl class="facts">${result.map(([k, n]) => html`<dt>${t(k)}</dt><dd data-field="${k.slice('import.'.length)}">${n}</dd>`)}</dl>
${p.failures.length > 0 ? html`<h3>${t('import.failures')}</h3><ul class="plain">${p.failures.map((f) => html`<li>${t('import.failure', { id: f.id ?? t('import.row', { row: f.row ?? '?' }), reason: f.reason })}</li>`)}</ul>` : ''}
${active ? html`<p><a class="button" href="${base(storeId)}" data-refresh>${t('import.refresh')}</a></p>` : ''}
${
  s.state === 'interrupted' || s.state === 'failed'
    ? html`<form method="post" action="${base(storeId)}/resume">${hiddenCsrf(ctx)}<button type="submit" class="primary">${t('import.resume')}</button></form>`
    : ''
}
</section>`
  }

  function importPage(
    ctx: PageContext,
    storeId: string,
    s: ImportStatus | undefined,
    flash: PageOptions['flash'],
  ) {
    const { t } = ctx
    const busy = s?.state === 'running' || s?.state === 'uploading'
    const form = html`<section class="panel wide" aria-labelledby="h-upload"><h2 id="h-upload">${t('import.start')}</h2>
<p>${t('import.intro')}</p>
<form method="post" action="${base(storeId)}" enctype="multipart/form-data" class="stack">
${hiddenCsrf(ctx)}
<label for="stock_level">${t('import.stock')}</label>
<input id="stock_level" name="stock_level" type="number" min="0" max="${LIMITS.maxStock}" value="${DEFAULT_STOCK}" required class="short">
<label for="catalogue">${t('import.file')}</label>
<input id="catalogue" name="catalogue" type="file" accept=".db,.sqlite,.sqlite3,application/vnd.sqlite3,application/x-sqlite3" required>
<button type="submit" class="primary">${t('import.start')}</button>
</form></section>`
    const body = html`<p><a href="/sell/store/${encodeURIComponent(storeId)}">← ${storeId}</a></p>
${s ? statusPanel(ctx, storeId, s) : ''}
${busy ? '' : form}`
    return layout(ctx, assets, {
      title: t('import.title', { store: storeId }),
      body,
      flash,
      scripts: busy ? ['import.js'] : [],
    })
  }

  /** The import page again, with why the upload was refused (the job shown is the store's last). */
  const refused = (
    request: FastifyRequest,
    reply: FastifyReply,
    storeId: string,
    status: number,
    text: string,
  ) => {
    const user = request.page.user
    const s = user ? imports.status(user, storeId) : undefined
    return sendPage(reply, importPage(request.page, storeId, s, { kind: 'error', text }), status)
  }

  app.get(
    '/sell/store/:store_id/import',
    { schema: { hide: true, params: StoreParams }, attachValidation: true },
    async (request, reply) => {
      if (request.validationError || oddParams(request.params)) return notFoundPage(request, reply, assets)
      const own = await ownStore(request, reply)
      if (!own) return reply
      const [user, storeId] = own
      const flash = flashFrom(request.page, (request.query as { done?: unknown }).done)
      return sendPage(reply, importPage(request.page, storeId, imports.status(user, storeId), flash))
    },
  )

  /** The job's figures for the page's script: the owner's only; 404 for anyone else or no job. */
  app.get(
    '/sell/store/:store_id/import/status',
    { schema: { hide: true, params: StoreParams }, attachValidation: true },
    async (request, reply) => {
      const user = request.page.user
      const s = request.validationError || !user ? undefined : imports.status(user, request.params.store_id)
      reply.header('cache-control', 'no-store')
      if (!s) return reply.code(404).send({ message: 'no import of yours in this store' })
      const { rate, etaS } = pace(s)
      const t = request.page.t
      const p = s.progress
      return {
        message: 'ok',
        state: s.state,
        state_text:
          s.state === 'failed'
            ? t('import.state.failed', { error: s.error ?? '' })
            : t(`import.state.${s.state}`),
        total: p.total,
        seen: p.seen,
        added: p.added,
        skipped: p.skipped,
        invalid: p.invalid,
        failed: p.failed,
        rate: Math.round(rate * 10) / 10,
        eta_s: etaS ?? null,
        counts_text: t('import.counts', { seen: p.seen, total: p.total }),
        pace_text: paceText(request.page, s),
      }
    },
  )

  /**
   * The upload: the CSRF token and the stock arrive before the file, so a forged or refused upload
   * is answered before a byte of the file is written; the file streams to disk within its limits.
   */
  app.post(
    '/sell/store/:store_id/import',
    { schema: { hide: true, params: StoreParams }, attachValidation: true },
    async (request, reply) => {
      if (request.validationError || oddParams(request.params)) return notFoundPage(request, reply, assets)
      const ctx = request.page
      const storeId = request.params.store_id
      if (!request.isMultipart())
        return errorPage(request, reply, assets, 400, ctx.t('error.bad_request', { field: 'catalogue' }))
      const fields: Record<string, string> = {}
      let upload: Upload | undefined
      try {
        for await (const part of request.parts({ limits: UPLOAD_LIMITS })) {
          if (part.type === 'field') {
            if (typeof part.value === 'string') fields[part.fieldname] = part.value
            continue
          }
          if (part.fieldname !== 'catalogue' || upload) {
            part.file.resume()
            continue
          }
          if (!csrfOk(request, fields._csrf)) return forgedPage(request, reply, assets)
          const own = await ownStore(request, reply)
          if (!own) return reply
          const stock = parseCount(fields.stock_level ?? String(DEFAULT_STOCK), 0, LIMITS.maxStock)
          if (stock === undefined)
            return refused(
              request,
              reply,
              storeId,
              400,
              ctx.t('error.bad_request', { field: ctx.t('import.stock') }),
            )
          const begun = await imports.begin(own[0], storeId, stock)
          if (!begun.ok) {
            if (begun.reason === 'not_owner') return notFoundPage(request, reply, assets)
            if (begun.reason === 'too_many') reply.header('retry-after', '60')
            const busy = begun.reason === 'busy'
            return refused(
              request,
              reply,
              storeId,
              busy ? 409 : 503,
              ctx.t(busy ? 'import.busy' : 'import.tooMany'),
            )
          }
          upload = begun.upload
          await pipeline(part.file, createWriteStream(upload.path, { flags: 'wx' }))
        }
      } catch (err) {
        if (upload) imports.abandon(upload)
        const code = (err as { code?: unknown }).code
        if (code === 'FST_REQ_FILE_TOO_LARGE')
          return refused(request, reply, storeId, 413, ctx.t('import.tooLarge'))
        if (typeof code === 'string' && code.startsWith('FST_'))
          return errorPage(request, reply, assets, 400, ctx.t('error.bad_request', { field: 'catalogue' }))
        throw err
      }
      if (!upload) {
        if (!csrfOk(request, fields._csrf)) return forgedPage(request, reply, assets)
        if (!(await ownStore(request, reply))) return reply
        return refused(request, reply, storeId, 400, ctx.t('import.notCatalogue.missing'))
      }
      const started = imports.start(upload)
      if (!started.ok)
        return refused(request, reply, storeId, 400, ctx.t(`import.notCatalogue.${started.reason}`))
      return reply.redirect(`${base(storeId)}?done=import.started`, 303)
    },
  )

  app.post(
    '/sell/store/:store_id/import/resume',
    { schema: { hide: true, params: StoreParams, body: ResumeBody }, attachValidation: true },
    async (request, reply) => {
      if (oddParams(request.params)) return notFoundPage(request, reply, assets)
      if (!csrfOk(request, request.body?._csrf)) return forgedPage(request, reply, assets)
      const own = await ownStore(request, reply)
      if (!own) return reply
      const [user, storeId] = own
      if (!imports.resume(user, storeId)) {
        const running = imports.status(user, storeId)?.state === 'running'
        if (!running) return notFoundPage(request, reply, assets)
        return refused(request, reply, storeId, 409, request.page.t('import.busy'))
      }
      return reply.redirect(`${base(storeId)}?done=import.resumed`, 303)
    },
  )
}
