// Config: the version serving, load time, the last reload's errors, restart_needed, the
// store; a Reload button.
import { api } from './api.js';
import { h, fill, errorBox, when } from './dom.js';

export async function configPage() {
  const el = h('section', {});
  const status = h('div', { 'aria-live': 'polite' });
  async function render(message) {
    let c;
    try { c = await api('/-/config'); } catch (err) { fill(el, h('h1', {}, 'Configuration'), errorBox(err, 'Reading /-/config')); return; }
    const errors = Array.isArray(c.last_error) ? c.last_error : [];
    fill(el,
      h('h1', {}, 'Configuration'),
      message || null, status,
      h('div', { class: 'card' }, h('dl', { class: 'kv' },
        h('dt', {}, 'Version'), h('dd', { class: 'mono', id: 'cfg-version' }, String(c.version ?? '—')),
        h('dt', {}, 'Loaded'), h('dd', {}, when(c.loaded_at)),
        h('dt', {}, 'Last reload'), h('dd', {}, c.last_reload_at ? [when(c.last_reload_at), ` (${c.last_trigger || ''})`] : '—'),
        h('dt', {}, 'Store'), h('dd', { id: 'cfg-store' }, `${c.store.backend} · ${c.store.state}${c.store.target ? ` · ${c.store.target}` : ''}${c.store.reason ? ` · ${c.store.reason}` : ''}`),
        h('dt', {}, 'Restart needed'), h('dd', {}, (c.restart_needed && c.restart_needed.length) ? c.restart_needed.join(', ') : 'no'))),
      h('h2', {}, 'Last reload'),
      errors.length
        ? h('div', { class: 'card error', id: 'cfg-errors' }, h('p', {}, 'The last reload failed; the previous configuration keeps serving. Fix these and reload:'), h('ul', {}, errors.map((e) => h('li', { class: 'mono' }, e))))
        : h('p', { class: 'muted', id: 'cfg-errors' }, 'No reload error.'),
      h('details', {}, h('summary', {}, 'Raw /-/config'), h('pre', {}, JSON.stringify(c, null, 2))),
      h('div', { class: 'row' }, h('button', { type: 'button', class: 'primary', id: 'reload', onclick: async () => {
        try { const r = await api('/-/reload', { method: 'POST' }); await render(h('div', { class: 'card notice', role: 'status' }, `Reloaded: version ${r.version ?? ''}`)); }
        catch (err) { await render(); fill(status, errorBox(err, 'Reload')); }
      } }, 'Reload')));
  }
  await render();
  return { el };
}
