// The import page: the progress bar and figures follow the JSON status once a second; when the job
// ends, the page is loaded again to show the result. Without this script the Refresh link does it.
document.addEventListener('DOMContentLoaded', () => {
  const panel = document.querySelector('[data-import-status]')
  if (!panel) return
  const url = panel.getAttribute('data-import-status')
  const bar = panel.querySelector('progress')
  const set = (name, text) => {
    const el = panel.querySelector(`[data-field="${name}"]`)
    if (el) el.textContent = String(text)
  }
  const poll = async () => {
    try {
      const res = await fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin' })
      // 404: no job of this seller's any more (signed out, or a restart forgot it); the link still works.
      if (res.status === 404) return
      if (!res.ok) throw new Error(String(res.status))
      const s = await res.json()
      bar.max = Math.max(1, s.total)
      bar.value = s.seen
      bar.textContent = s.counts_text
      set('state', s.state_text)
      set('counts', s.counts_text)
      set('pace', s.pace_text)
      for (const k of ['added', 'skipped', 'invalid', 'failed']) set(k, s[k])
      if (s.state !== 'running' && s.state !== 'uploading') {
        window.location.replace(window.location.pathname)
        return
      }
    } catch {
      // A missed answer is retried on the next tick.
    }
    setTimeout(poll, 1000)
  }
  setTimeout(poll, 500)
})
