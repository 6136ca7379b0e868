// The console's shell: sign-in, navigation by URL hash, one page at a time.
import { api, token } from './api.js';
import { h, fill, errorBox } from './dom.js';
import { incidentsPage, incidentPage } from './incidents.js';
import { playgroundPage } from './playground.js';
import { sourcesPage } from './sources.js';
import { configPage } from './config.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
let cleanup = null;

function signIn(message) {
  nav.hidden = true;
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', required: true, size: 40 });
  const status = h('div', { role: 'status' });
  const form = h('form', {
    class: 'card',
    onsubmit: async (e) => {
      e.preventDefault();
      token.set(input.value.trim());
      try {
        await api('/v1/incidents?limit=1');
        route();
      } catch (err) {
        token.clear();
        fill(status, errorBox(err, 'Sign-in'));
      }
    },
  },
  h('h1', {}, 'Sign in'),
  h('p', { class: 'muted' }, 'Paste an API token from admin_tokens (or admin_token) in the gateway config. It is kept in this tab only.'),
  h('div', { class: 'row' }, h('label', { for: 'token' }, 'API token', input), h('button', { class: 'primary', type: 'submit' }, 'Sign in')),
  message ? h('p', { class: 'muted' }, message) : null,
  status);
  fill(main, form);
  input.focus();
}

const pages = [
  [/^#\/incidents\/([^/]+)$/, (m) => incidentPage(m[1])],
  [/^#\/playground$/, () => playgroundPage()],
  [/^#\/sources$/, () => sourcesPage()],
  [/^#\/config$/, () => configPage()],
  [/^(#\/incidents)?$|^#?\/?$/, () => incidentsPage()],
];

async function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  if (!token.get()) { signIn(); return; }
  nav.hidden = false;
  const hash = location.hash || '#/incidents';
  for (const a of nav.querySelectorAll('a')) {
    const here = hash === a.getAttribute('href') || (hash.startsWith('#/incidents') && a.getAttribute('href') === '#/incidents');
    if (here) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const found = pages.find(([re]) => re.test(hash));
  const render = found ? found[1](hash.match(found[0])) : incidentsPage();
  fill(main, h('p', { class: 'muted' }, 'Loading…'));
  try {
    const page = await render;
    fill(main, page.el);
    cleanup = page.cleanup || null;
  } catch (err) {
    if (err && err.status === 401) { token.clear(); signIn('That token is no longer accepted.'); return; }
    fill(main, errorBox(err, 'Loading the page'));
  }
}

document.getElementById('signout').addEventListener('click', () => { token.clear(); location.hash = '#/incidents'; route(); });
window.addEventListener('hashchange', route);
route();
