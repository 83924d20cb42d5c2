// A little JavaScript on top of pages that work without it.
document.addEventListener('DOMContentLoaded', () => {
  // Sorting applies as soon as a choice is made; the Apply button stays for keyboards without scripts.
  for (const form of document.querySelectorAll('form[data-autosubmit]')) {
    const select = form.querySelector('select')
    if (select) select.addEventListener('change', () => form.requestSubmit())
  }
  // A form is sent once: its submit button waits while the page loads the answer.
  for (const form of document.querySelectorAll('form[method="post"]')) {
    form.addEventListener('submit', () => {
      for (const b of form.querySelectorAll('button[type="submit"]')) b.setAttribute('aria-disabled', 'true')
      form.addEventListener('submit', (e) => e.preventDefault())
    })
  }
  // The book page: a click on a small picture shows it large.
  const gallery = document.querySelector('.gallery')
  if (gallery && gallery.children.length > 1) {
    gallery.classList.add('js')
    gallery.addEventListener('click', (e) => {
      const img = e.target instanceof HTMLImageElement ? e.target : undefined
      if (img && img !== gallery.firstElementChild) gallery.prepend(img)
    })
  }
  // The search box suggests titles, authors and tags as one types (ARIA combobox with a listbox):
  // arrows move through them, Enter takes one, Escape closes the list. Without scripts the form just
  // searches.
  const form = document.querySelector('form[data-suggest]')
  const input = form?.querySelector('input[name="q"]')
  if (form && input) suggestions(form, input)
})

function suggestions(form, input) {
  const list = document.createElement('ul')
  list.id = 'q-suggestions'
  list.className = 'suggestions'
  list.setAttribute('role', 'listbox')
  list.setAttribute('aria-label', form.dataset.suggest)
  list.hidden = true
  input.after(list)
  input.setAttribute('role', 'combobox')
  input.setAttribute('aria-autocomplete', 'list')
  input.setAttribute('aria-controls', list.id)
  input.setAttribute('aria-expanded', 'false')
  let items = []
  let active = -1
  let timer
  let asked = 0
  const close = () => {
    list.hidden = true
    input.setAttribute('aria-expanded', 'false')
    input.removeAttribute('aria-activedescendant')
    active = -1
  }
  const mark = (i) => {
    active = i
    for (const [j, li] of [...list.children].entries()) li.setAttribute('aria-selected', String(j === i))
    if (i >= 0) input.setAttribute('aria-activedescendant', `q-suggestion-${i}`)
    else input.removeAttribute('aria-activedescendant')
  }
  // A title opens its book; an author or a tag is searched for.
  const take = (s) => {
    if (s.kind === 'title' && s.store_id && s.book_id)
      window.location.assign(`/book/${encodeURIComponent(s.store_id)}/${encodeURIComponent(s.book_id)}`)
    else if (s.kind === 'tag') window.location.assign(`/search?tag=${encodeURIComponent(s.text)}`)
    else {
      input.value = s.text
      form.requestSubmit()
    }
  }
  const show = (found) => {
    items = found
    list.replaceChildren(
      ...found.map((s, i) => {
        const li = document.createElement('li')
        li.id = `q-suggestion-${i}`
        li.setAttribute('role', 'option')
        li.setAttribute('aria-selected', 'false')
        const kind = document.createElement('span')
        kind.className = 'kind'
        kind.textContent = form.dataset[`kind${s.kind[0].toUpperCase()}${s.kind.slice(1)}`] ?? s.kind
        li.append(s.text, ' ', kind)
        li.addEventListener('mousedown', (e) => {
          e.preventDefault()
          take(s)
        })
        return li
      }),
    )
    active = -1
    if (found.length === 0) return close()
    list.hidden = false
    input.setAttribute('aria-expanded', 'true')
  }
  input.addEventListener('input', () => {
    clearTimeout(timer)
    const q = input.value
    if (q.trim() === '') return close()
    timer = setTimeout(async () => {
      const mine = ++asked
      try {
        const r = await fetch(`/search/suggest?q=${encodeURIComponent(q)}&limit=8`)
        const body = r.ok ? await r.json() : { suggestions: [] }
        if (mine === asked) show(body.suggestions ?? [])
      } catch {
        close()
      }
    }, 120)
  })
  input.addEventListener('keydown', (e) => {
    if (list.hidden) return
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault()
      // Down from the last option, or up from the first, goes back to the typed text (-1).
      const next = active + (e.key === 'ArrowDown' ? 1 : -1)
      mark(next >= items.length ? -1 : next < -1 ? items.length - 1 : next)
    } else if (e.key === 'Enter' && active >= 0) {
      e.preventDefault()
      take(items[active])
    } else if (e.key === 'Escape') {
      e.preventDefault()
      close()
    }
  })
  input.addEventListener('blur', close)
}
