// The incidents list (filters, paging, live updates, chart) and one incident's detail.
import { api, streamEvents } from './api.js';
import { h, fill, when, errorBox, badge, statusBadge } from './dom.js';
import { hourlyChart } from './chart.js';

const PAGE = 50;

function filtersFromHash() {
  const q = new URLSearchParams(location.hash.split('?')[1] || '');
  return { source: q.get('source') || '', status: q.get('status') || 'open', priority: q.get('priority') || '' };
}

function query(f, cursor) {
  const q = new URLSearchParams();
  q.set('limit', String(PAGE));
  if (f.source) q.set('source', f.source);
  if (f.status === 'acknowledged') { q.set('status', 'open'); q.set('acknowledged', 'true'); }
  else if (f.status === 'open') { q.set('status', 'open'); }
  else if (f.status === 'resolved') q.set('status', 'resolved');
  if (f.priority) q.set('priority', f.priority);
  if (cursor) q.set('cursor', cursor);
  return `/v1/incidents?${q}`;
}

function matches(f, i) {
  if (f.source && i.source !== f.source) return false;
  if (f.priority && i.priority !== f.priority) return false;
  if (f.status === 'open') return i.status === 'open';
  if (f.status === 'acknowledged') return i.status === 'open' && !!i.acknowledged_at;
  if (f.status === 'resolved') return i.status === 'resolved';
  return true;
}

function row(i) {
  return h('tr', { 'data-id': i.id },
    h('td', {}, h('a', { href: `#/incidents/${encodeURIComponent(i.id)}` }, i.title || i.fingerprint)),
    h('td', {}, statusBadge(i)),
    h('td', {}, i.priority ? badge(i.priority, `p-${i.priority}`) : h('span', { class: 'muted' }, '—')),
    h('td', {}, i.source),
    h('td', { class: 'hide-narrow' }, when(i.opened_at)),
    h('td', { class: 'hide-narrow' }, String(i.event_count)));
}

async function chartData() {
  // Every incident opened or resolved in the last day: newest first, so stop past it.
  const since = Date.now() - 25 * 3600e3;
  const all = [];
  let cursor = null;
  for (let n = 0; n < 10; n += 1) {
    const page = await api(`/v1/incidents?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    all.push(...page.incidents);
    cursor = page.next_cursor;
    const oldest = page.incidents[page.incidents.length - 1];
    if (!cursor || (oldest && Date.parse(oldest.opened_at) < since - 7 * 24 * 3600e3)) break;
  }
  return all;
}

export async function incidentsPage() {
  const f = filtersFromHash();
  const sources = (await api('/v1/sources')).sources;
  const live = h('span', { class: 'live off', role: 'status' }, 'connecting…');
  const chartBox = h('div', {});
  const tbody = h('tbody', {});
  const listState = h('div', {});
  const more = h('button', { type: 'button', hidden: true }, 'Load more');
  const shown = new Map();
  let cursor = null;

  const select = (id, label, options, value) => {
    const el = h('select', { id, onchange: () => apply() },
      options.map(([v, t]) => h('option', { value: v, selected: v === value }, t)));
    return [h('label', { for: id }, label, el), el];
  };
  const [srcLabel, srcSel] = select('f-source', 'Source', [['', 'All sources'], ...sources.map((s) => [s.id, s.id])], f.source);
  const [stLabel, stSel] = select('f-status', 'Status', [['open', 'Open'], ['acknowledged', 'Acknowledged'], ['resolved', 'Resolved'], ['all', 'All']], f.status);
  const [prLabel, prSel] = select('f-priority', 'Priority', [['', 'Any priority'], ['critical', 'critical'], ['high', 'high'], ['medium', 'medium'], ['low', 'low'], ['info', 'info']], f.priority);

  function apply() {
    const q = new URLSearchParams();
    if (srcSel.value) q.set('source', srcSel.value);
    q.set('status', stSel.value);
    if (prSel.value) q.set('priority', prSel.value);
    location.hash = `#/incidents?${q}`;
  }

  function showEmpty() {
    if (shown.size === 0) {
      fill(listState, h('p', { class: 'empty' }, sources.length
        ? 'No incidents match these filters. New ones appear here as webhooks arrive; widen the filters to see more.'
        : 'No sources yet: create one on the Sources page and point a sender at its URL.'));
    } else fill(listState);
  }

  async function load() {
    try {
      const page = await api(query(f, cursor));
      for (const i of page.incidents) {
        if (shown.has(i.id)) continue;
        const tr = row(i);
        shown.set(i.id, tr);
        tbody.append(tr);
      }
      cursor = page.next_cursor;
      more.hidden = !cursor;
      showEmpty();
    } catch (err) { fill(listState, errorBox(err, 'Listing incidents')); }
  }
  more.addEventListener('click', load);

  async function drawChart() {
    try { fill(chartBox, hourlyChart(await chartData())); } catch (err) { fill(chartBox, errorBox(err, 'The chart')); }
  }

  let chartTimer = null;
  function onEvent(name, ev) {
    const i = ev.incident;
    if (!i) return;
    const old = shown.get(i.id);
    if (matches(f, i)) {
      const tr = row(i);
      if (old) old.replaceWith(tr);
      else {
        // Newest first: a higher id goes above the lower ones.
        const after = [...tbody.children].find((r) => BigInt(r.dataset.id) < BigInt(i.id));
        tbody.insertBefore(tr, after || null);
      }
      shown.set(i.id, tr);
    } else if (old) { old.remove(); shown.delete(i.id); }
    showEmpty();
    clearTimeout(chartTimer);
    chartTimer = setTimeout(drawChart, 1000);
  }
  const stop = streamEvents(onEvent, (on) => {
    live.className = `live ${on ? 'on' : 'off'}`;
    live.textContent = on ? 'live' : 'reconnecting…';
  });

  await Promise.all([load(), drawChart()]);
  const el = h('section', {},
    h('div', { class: 'row', style: 'justify-content:space-between' }, h('h1', {}, 'Incidents'), live),
    chartBox,
    h('form', { class: 'row', onsubmit: (e) => e.preventDefault(), 'aria-label': 'Filters' }, srcLabel, stLabel, prLabel),
    h('div', { class: 'table-wrap' }, h('table', { id: 'incidents' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Title'), h('th', {}, 'Status'), h('th', {}, 'Priority'), h('th', {}, 'Source'), h('th', { class: 'hide-narrow' }, 'Opened'), h('th', { class: 'hide-narrow' }, 'Events'))),
      tbody)),
    listState, more);
  return { el, cleanup: () => { stop(); clearTimeout(chartTimer); } };
}

export async function incidentPage(rawId) {
  const id = decodeURIComponent(rawId);
  const el = h('section', {});
  const status = h('div', { role: 'status', 'aria-live': 'polite' });

  async function act(path, body, label) {
    try {
      await api(`/v1/incidents/${encodeURIComponent(id)}/${path}`, { method: 'POST', body });
      await render(h('div', { class: 'card notice' }, `${label}: done.`));
    } catch (err) { fill(status, errorBox(err, label)); }
  }

  async function render(message) {
    let incident; let events;
    try {
      [incident, { events }] = await Promise.all([
        api(`/v1/incidents/${encodeURIComponent(id)}`),
        api(`/v1/incidents/${encodeURIComponent(id)}/events`),
      ]);
    } catch (err) {
      if (err.status === 404) {
        fill(el, h('h1', {}, 'Incident not found'), h('p', {}, 'It may have been resolved and expired. '), h('a', { href: '#/incidents' }, 'Back to incidents'));
        return;
      }
      throw err;
    }
    const note = h('textarea', { id: 'note', rows: 2, maxlength: 1000, placeholder: 'What you found or did (up to 1000 bytes)' });
    const open = incident.status === 'open';
    const actions = h('div', { class: 'row' },
      h('button', { type: 'button', id: 'ack', disabled: !open || !!incident.acknowledged_at, onclick: () => act('acknowledge', undefined, 'Acknowledge') }, 'Acknowledge'),
      h('button', { type: 'button', id: 'resolve', class: 'primary', disabled: !open, onclick: () => act('resolve', undefined, 'Resolve') }, 'Resolve'));
    const labels = Object.entries(incident.labels || {});
    fill(el,
      h('p', {}, h('a', { href: '#/incidents' }, '← Incidents')),
      h('h1', {}, incident.title || incident.fingerprint),
      message || null,
      status,
      h('div', { class: 'card' }, h('dl', { class: 'kv' },
        h('dt', {}, 'Status'), h('dd', { id: 'status' }, statusBadge(incident)),
        h('dt', {}, 'Priority'), h('dd', {}, incident.priority || '—'),
        h('dt', {}, 'Source'), h('dd', {}, incident.source),
        h('dt', {}, 'Fingerprint'), h('dd', { class: 'mono' }, incident.fingerprint),
        h('dt', {}, 'Opened'), h('dd', {}, when(incident.opened_at)),
        h('dt', {}, 'Last event'), h('dd', {}, when(incident.last_event_at)),
        h('dt', {}, 'Events'), h('dd', {}, String(incident.event_count)),
        incident.acknowledged_at ? [h('dt', {}, 'Acknowledged'), h('dd', {}, when(incident.acknowledged_at), ` by ${incident.acknowledged_by}`)] : null,
        incident.resolved_at ? [h('dt', {}, 'Resolved'), h('dd', {}, when(incident.resolved_at), incident.resolved_by ? ` by ${incident.resolved_by}` : ' by its source')] : null,
        h('dt', {}, 'Labels'), h('dd', {}, labels.length ? h('ul', {}, labels.map(([k, v]) => h('li', { class: 'mono' }, `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`))) : '—'))),
      actions,
      h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); if (note.value.trim()) act('notes', { text: note.value }, 'Add note'); } },
        h('label', { for: 'note', style: 'flex:1 1 20rem' }, 'Note', note), h('button', { type: 'submit' }, 'Add note')),
      h('h2', {}, 'Transitions'),
      events.length ? h('ol', { id: 'transitions' }, events.map((e) => h('li', {},
        when(e.at), ' ', badge(e.transition), e.actor ? ` by ${e.actor}` : '', e.note ? h('div', { class: 'card' }, e.note) : null)))
        : h('p', { class: 'empty' }, 'No transitions left in the event stream (it keeps the newest store.event_stream_len events).'));
  }
  await render();
  const stop = streamEvents((name, ev) => { if (ev.incident && ev.incident.id === id) render(); }, () => {});
  return { el, cleanup: stop };
}
