import type { ApiHit } from '../api/catalog.ts'
import type { PageContext } from './context.ts'
import { money } from './format.ts'
import { markedTitle, snippetOf } from './highlight.ts'
import { type Html, html } from './html.ts'

export const bookUrl = (storeId: string, bookId: string) =>
  `/book/${encodeURIComponent(storeId)}/${encodeURIComponent(bookId)}`

/** The listing's first picture, or a cover drawn from its title when it has none. */
export const coverUrl = (storeId: string, bookId: string) =>
  `/cover/${encodeURIComponent(storeId)}/${encodeURIComponent(bookId)}`

export function stockText(ctx: PageContext, stock: number): string {
  return stock > 0 ? ctx.t('book.stock', { n: stock }) : ctx.t('book.outOfStock')
}

export function bookCard(ctx: PageContext, b: ApiHit): Html {
  return html`<li class="card">
  <a href="${bookUrl(b.store_id, b.book_id)}">
    <img src="${coverUrl(b.store_id, b.book_id)}" alt="" width="120" height="170" loading="lazy">
    <span class="title">${markedTitle(b)}</span>
  </a>
  ${b.author ? html`<span class="author">${b.author}</span>` : ''}
  ${snippetOf(b)}
  <span class="price">${money(b.price)}</span>
  <span class="stock${b.stock_level > 0 ? '' : ' out'}">${stockText(ctx, b.stock_level)}</span>
</li>`
}

export function bookGrid(ctx: PageContext, books: readonly ApiHit[]): Html {
  return html`<ul class="grid">${books.map((b) => bookCard(ctx, b))}</ul>`
}

/** Links to the previous, next and nearby pages; `link(n)` is the URL of page n. */
export function paging(ctx: PageContext, page: number, pages: number, link: (n: number) => string): Html {
  if (pages <= 1) return html``
  const from = Math.max(1, page - 2)
  const to = Math.min(pages, page + 2)
  const numbers: Html[] = []
  for (let n = from; n <= to; n++)
    numbers.push(
      n === page ? html`<span aria-current="page">${n}</span>` : html`<a href="${link(n)}">${n}</a>`,
    )
  return html`<nav class="paging" aria-label="${ctx.t('paging.label')}">
  ${page > 1 ? html`<a rel="prev" href="${link(page - 1)}">${ctx.t('paging.prev')}</a>` : ''}
  ${numbers}
  ${page < pages ? html`<a rel="next" href="${link(page + 1)}">${ctx.t('paging.next')}</a>` : ''}
  <span class="muted">${ctx.t('paging.page', { page, pages })}</span>
</nav>`
}
