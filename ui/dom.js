// Small DOM helpers: every text goes in as a text node (never as HTML).

/** h('div', {class: 'x', onclick: f}, 'text', child) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'style') el.style.cssText = v; // CSSOM: allowed under the CSP
    else if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A <time> in the viewer's zone, UTC in its title. */
export function when(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h('span', {}, iso);
  return h('time', { datetime: iso, title: d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') },
    d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }));
}

/** An error box saying what failed and what to do. */
export function errorBox(err, what) {
  const box = h('div', { class: 'card error', role: 'alert' });
  const status = err && err.status ? `HTTP ${err.status}` : 'network error';
  const code = err && err.code ? ` ${err.code}` : '';
  box.append(h('strong', {}, `${what || 'Request'} failed (${status}${code}): `), String((err && err.message) || err));
  if (err && Array.isArray(err.errors)) box.append(h('ul', {}, err.errors.map((e) => h('li', { class: 'mono' }, e))));
  const hint = hintFor(err);
  if (hint) box.append(h('div', { class: 'muted' }, hint));
  return box;
}

function hintFor(err) {
  if (!err || !err.status) return 'Check that the gateway is running and reachable, then retry.';
  if (err.status === 401) return 'Your token was not accepted: sign out and sign in with a valid token.';
  if (err.status === 403) return 'This token has the read scope: acting needs a token with scope admin.';
  if (err.status === 503) return 'The store is unavailable; retry in a few seconds.';
  if (err.status === 409) return 'The incident changed meanwhile; the page shows its current state.';
  return null;
}

export function badge(text, cls) {
  return h('span', { class: `badge ${cls || ''}` }, text);
}

export function statusBadge(incident) {
  if (incident.status === 'open' && incident.acknowledged_at) return badge('acknowledged', 'st-acknowledged');
  return badge(incident.status, `st-${incident.status}`);
}
