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
})
