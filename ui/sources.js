// Sources: what each accepts, its traffic here, its webhook URL; a form to add one.
import { api } from './api.js';
import { h, fill, errorBox } from './dom.js';

const SETUP = {
  statuscake: 'StatusCake: Alerting → Contact Groups → edit a group → Webhook URL: paste the URL, method POST. Save, then use "Test" on an uptime check.',
  statuspage: 'Statuspage: Notifications → Webhook → add the URL as a subscriber endpoint; incident updates are posted as JSON.',
  alertmanager: 'Alertmanager: add a receiver with webhook_configs: [{url: <the URL>, send_resolved: true}] and route alerts to it.',
  grafana: 'Grafana: Alerting → Contact points → New → Webhook, URL: the URL, method POST; attach it to a notification policy.',
  uptimerobot: 'UptimeRobot: My Settings → Alert Contacts → Add → Webhook; URL to notify: the URL, send as JSON (POST).',
  uptimekuma: 'Uptime Kuma: Settings → Notifications → Setup Notification → Webhook; Post URL: the URL, body preset application/json.',
};

function copyButton(text, label) {
  const status = h('span', { class: 'muted', role: 'status' });
  return h('span', {}, h('button', { type: 'button', onclick: async () => {
    try { await navigator.clipboard.writeText(text); status.textContent = ' copied'; } catch { status.textContent = ' select the URL and copy it'; }
  } }, label || 'Copy'), status);
}

export async function sourcesPage() {
  const [{ sources }, { integrations }] = await Promise.all([api('/v1/sources'), integrationList()]);
  const traffic = await Promise.all(sources.map((s) => api(`/v1/sources/${encodeURIComponent(s.id)}/recent`).catch(() => null)));
  const created = h('div', { 'aria-live': 'polite' });
  const id = h('input', { id: 'new-id', required: true, pattern: '[a-z0-9_-]+', placeholder: 'e.g. uptime-prod' });
  const integration = h('select', { id: 'new-integration' }, integrations.map((i) => h('option', { value: i }, i)));
  const form = h('form', { class: 'card', onsubmit: async (e) => {
    e.preventDefault();
    try {
      const made = await api('/v1/sources', { method: 'POST', body: { id: id.value.trim(), integration: integration.value } });
      fill(created, h('div', { class: 'card notice', role: 'status' },
        h('h2', {}, `Source ${made.id} created`),
        h('p', {}, 'Its URL with its token, shown this once: copy it now.'),
        h('p', {}, h('code', { id: 'new-url' }, made.url), ' ', copyButton(made.url)),
        h('p', {}, SETUP[made.integration] || 'Point the sender at this URL (POST).'),
        made.reload && made.reload.error ? h('p', { class: 'error' }, `Reload: ${made.reload.error}`) : null));
    } catch (err) { fill(created, errorBox(err, 'Creating the source')); }
  } },
  h('h2', {}, 'New source'),
  h('div', { class: 'row' }, h('label', { for: 'new-id' }, 'Id (a-z 0-9 _ -)', id), h('label', { for: 'new-integration' }, 'Integration', integration),
    h('button', { type: 'submit', class: 'primary', id: 'new-create' }, 'Create')));
  const rows = sources.map((s, n) => {
    const t = traffic[n];
    return h('tr', {},
      h('td', {}, h('strong', {}, s.id), h('div', { class: 'muted' }, s.origin)),
      h('td', {}, s.integration),
      h('td', {}, s.methods.join(', ')),
      h('td', {}, t ? `${t.accepted} accepted · ${t.rejected} rejected · ${t.ignored} ignored` : '—'),
      h('td', {}, h('code', { class: 'hide-narrow' }, s.url), ' ', copyButton(s.url, 'Copy URL')));
  });
  const el = h('section', {},
    h('h1', {}, 'Sources'),
    form, created,
    sources.length ? h('div', { class: 'table-wrap' }, h('table', { id: 'sources' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Source'), h('th', {}, 'Integration'), h('th', {}, 'Methods'), h('th', {}, 'Traffic (this replica)'), h('th', {}, 'Webhook URL'))),
      h('tbody', {}, rows)))
      : h('p', { class: 'empty' }, 'No sources yet: create one above.'),
    h('p', { class: 'muted' }, 'Listed URLs show <token> in place of the token: the API never shows a stored token. Rotate a token with alertgate sources rotate.'));
  return { el };
}

async function integrationList() {
  // Integrations known to the loaded mappings: those in use plus the shipped ones.
  const { sources } = await api('/v1/sources');
  const names = new Set(['alertmanager', 'grafana', 'statuscake', 'statuspage', 'uptimekuma', 'uptimerobot', ...sources.map((s) => s.integration)]);
  return { integrations: [...names].sort() };
}
