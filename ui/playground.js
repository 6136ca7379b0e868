// The mapping playground: a configured source's mapping (or pasted YAML), a payload, and
// what comes out with every step (POST /v1/eval). Never touches the store.
import { api } from './api.js';
import { h, fill, errorBox, when } from './dom.js';

const TYPES = ['application/json', 'application/x-www-form-urlencoded', 'text/plain', ''];

function stepItem(step) {
  let text;
  let hit = false;
  if (step.step === 'when') { text = `rule ${step.rule}: when ${step.expr} → ${step.matched}`; hit = step.matched; }
  else if (step.step === 'always') { text = `rule ${step.rule}: applies to every payload`; hit = true; }
  else if (step.step === 'lookup') {
    text = `rule ${step.rule}: ${step.table} from ${step.from || '(constant)'} key ${JSON.stringify(step.key)} → ${step.entry}${step.value !== null && step.value !== undefined ? ` = ${step.value}` : ''}`;
    hit = step.entry === 'hit' || step.entry === 'constant';
  } else text = JSON.stringify(step);
  return h('li', { class: hit ? 'hit' : 'miss' }, text);
}

function outcomeView(result, index) {
  const title = index === undefined ? 'Outcome' : `Item ${index}`;
  if (result.error) {
    return h('div', { class: 'card error' }, h('strong', {}, `${title}: rejected`), ' ', result.error.message,
      h('ol', { class: 'steps' }, (result.steps || []).map(stepItem)));
  }
  return h('div', { class: 'card' },
    h('h2', {}, `${title}: `, h('span', { class: 'outcome-action' }, String(result.action)), result.rule ? ` (rule ${result.rule})` : ''),
    h('dl', { class: 'kv' },
      h('dt', {}, 'Fingerprint'), h('dd', { class: 'mono' }, String(result.fingerprint ?? '—')),
      h('dt', {}, 'Priority'), h('dd', {}, String(result.priority ?? '—')),
      h('dt', {}, 'Title'), h('dd', {}, String(result.title ?? '—')),
      h('dt', {}, 'Labels'), h('dd', { class: 'mono' }, JSON.stringify(result.labels ?? {})),
      result.reason ? [h('dt', {}, 'Reason'), h('dd', {}, result.reason)] : null),
    h('h2', {}, 'Steps'),
    h('ol', { class: 'steps' }, (result.steps || []).map(stepItem)));
}

function testsEntry(payloadText, method, contentType, result) {
  const indent = (s) => s.split('\n').map((l) => `        ${l}`).join('\n');
  const expect = [];
  if (result && !result.results && result.action) {
    expect.push(`      action: ${result.action}`);
    if (result.fingerprint) expect.push(`      fingerprint: ${JSON.stringify(result.fingerprint)}`);
    if (result.priority) expect.push(`      priority: ${result.priority}`);
    if (result.title) expect.push(`      title: ${JSON.stringify(result.title)}`);
  }
  let payload;
  if (method === 'GET' || contentType === 'application/x-www-form-urlencoded') {
    payload = `    query: ${JSON.stringify(payloadText.trim())}`;
  } else {
    payload = `    payload: |\n${indent(payloadText.trim())}`;
  }
  return `tests:\n  - name: tried in the console\n${payload}\n    expect:\n${expect.join('\n') || '      action: open'}\n`;
}

export async function playgroundPage() {
  const { sources } = await api('/v1/sources');
  const source = h('select', { id: 'pg-source' }, sources.map((s) => h('option', { value: s.id }, `${s.id} (${s.integration})`)), h('option', { value: '' }, 'Pasted mapping YAML'));
  const yaml = h('textarea', { id: 'pg-yaml', rows: 8, hidden: true, placeholder: 'integration: mine\nrules:\n  - name: any\n    action: open\n    fingerprint: "{{ id }}"' });
  const method = h('select', { id: 'pg-method' }, h('option', { value: 'POST' }, 'POST'), h('option', { value: 'GET' }, 'GET (payload is the query string)'));
  const type = h('select', { id: 'pg-type' }, TYPES.map((t) => h('option', { value: t }, t || '(none: the mapping decides)')));
  const payload = h('textarea', { id: 'pg-payload', rows: 10, placeholder: 'Paste a webhook body (or a query string for GET)' });
  const recentBox = h('div', {});
  const out = h('div', { id: 'pg-out', 'aria-live': 'polite' });
  let last = null;

  const syncSource = () => {
    yaml.hidden = source.value !== '';
    const s = sources.find((x) => x.id === source.value);
    if (s && s.content_types && s.content_types.length) type.value = s.content_types[0];
    loadRecent();
  };
  source.addEventListener('change', syncSource);

  async function loadRecent() {
    if (!source.value) { fill(recentBox); return; }
    try {
      const r = await api(`/v1/sources/${encodeURIComponent(source.value)}/recent`);
      if (!r.payloads.length) { fill(recentBox, h('p', { class: 'muted' }, 'No rejected or ignored payloads kept for this source (this replica, since it started).')); return; }
      const pick = h('select', { id: 'pg-recent' }, r.payloads.map((p, n) => h('option', { value: String(n) }, `${new Date(p.at).toLocaleString()} ${p.method} ${p.outcome}: ${p.reason.slice(0, 60)}`)));
      fill(recentBox, h('div', { class: 'row' }, h('label', { for: 'pg-recent' }, 'Recent rejected or ignored payloads', pick),
        h('button', { type: 'button', onclick: () => {
          const p = r.payloads[Number(pick.value)];
          method.value = p.method === 'GET' ? 'GET' : 'POST';
          payload.value = p.method === 'GET' ? p.query : p.body;
          if (p.content_type !== null && TYPES.includes(p.content_type.split(';')[0])) type.value = p.content_type.split(';')[0];
        } }, 'Load')));
    } catch (err) { fill(recentBox, errorBox(err, 'Loading recent payloads')); }
  }

  async function run(e) {
    e.preventDefault();
    const body = { payload: payload.value, method: method.value, content_type: type.value || null };
    if (source.value) body.source = source.value; else body.mapping_yaml = yaml.value;
    try {
      const result = await api('/v1/eval', { method: 'POST', body });
      last = result;
      const views = result.results ? result.results.map((r, n) => outcomeView(r, n)) : [outcomeView(result)];
      fill(out, views, h('button', { type: 'button', id: 'pg-test', onclick: () => {
        const text = testsEntry(payload.value, method.value, type.value, last);
        fill(testBox, h('label', { for: 'pg-test-yaml' }, 'Paste under the mapping\'s tests:', h('textarea', { id: 'pg-test-yaml', rows: 10, readonly: true }, text)));
      } }, 'Make a tests: entry'), testBox);
    } catch (err) { fill(out, errorBox(err, 'Evaluating')); }
  }
  const testBox = h('div', {});

  const el = h('section', {},
    h('h1', {}, 'Mapping playground'),
    h('p', { class: 'muted' }, 'Try a payload against a mapping and see every step. Nothing is stored.'),
    h('form', { onsubmit: run },
      h('div', { class: 'row' }, h('label', { for: 'pg-source' }, 'Mapping', source), h('label', { for: 'pg-method' }, 'Method', method), h('label', { for: 'pg-type' }, 'Content type', type)),
      yaml, recentBox,
      h('label', { for: 'pg-payload', style: 'display:flex' }, 'Payload', payload),
      h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', id: 'pg-run' }, 'Evaluate'))),
    out);
  syncSource();
  void when;
  return { el };
}
