// Incidents opened and resolved per hour over the last day, by source: an SVG drawn here.
import { h } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';
const COLORS = ['#0b5cad', '#d9480f', '#2b8a3e', '#862e9c', '#c2255c', '#1098ad', '#5c940d', '#e67700'];

function s(tag, attrs, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** incidents: as listed by the API; now: ms. */
export function hourlyChart(incidents, now = Date.now()) {
  const hour = 3600e3;
  const end = Math.ceil(now / hour) * hour;
  const start = end - 24 * hour;
  const sources = [...new Set(incidents.map((i) => i.source))].sort();
  const opened = Array.from({ length: 24 }, () => ({}));
  const resolved = Array.from({ length: 24 }, () => ({}));
  const bump = (list, iso, source) => {
    if (!iso) return;
    const t = Date.parse(iso);
    if (t < start || t >= end) return;
    const slot = Math.floor((t - start) / hour);
    list[slot][source] = (list[slot][source] || 0) + 1;
  };
  for (const i of incidents) { bump(opened, i.opened_at, i.source); bump(resolved, i.resolved_at, i.source); }
  const total = (o) => Object.values(o).reduce((a, b) => a + b, 0);
  const max = Math.max(1, ...opened.map(total), ...resolved.map(total));
  const W = 720; const H = 160; const pad = 24; const bw = (W - pad) / 24;
  const half = (H - 20) / 2;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Incidents opened (up) and resolved (down) per hour over the last 24 hours, by source' });
  svg.append(s('line', { x1: pad, x2: W, y1: half + 2, y2: half + 2, stroke: 'currentColor', 'stroke-opacity': 0.3 }));
  svg.append(s('text', { x: 0, y: 12, 'font-size': 10, fill: 'currentColor' }, String(max)));
  for (let k = 0; k < 24; k += 1) {
    const x = pad + k * bw + 1;
    let up = half + 2;
    let down = half + 2;
    sources.forEach((src, n) => {
      const color = COLORS[n % COLORS.length];
      const o = opened[k][src] || 0;
      const r = resolved[k][src] || 0;
      if (o) {
        const hgt = (o / max) * half;
        up -= hgt;
        const rect = s('rect', { x, y: up, width: bw - 2, height: hgt, fill: color });
        rect.append(s('title', {}, `${src}: ${o} opened`));
        svg.append(rect);
      }
      if (r) {
        const hgt = (r / max) * half;
        const rect = s('rect', { x, y: down, width: bw - 2, height: hgt, fill: color, 'fill-opacity': 0.45 });
        rect.append(s('title', {}, `${src}: ${r} resolved`));
        svg.append(rect);
        down += hgt;
      }
    });
    if (k % 6 === 0) {
      const label = new Date(start + k * hour).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
      svg.append(s('text', { x, y: H - 2, 'font-size': 10, fill: 'currentColor' }, label));
    }
  }
  const legend = h('div', { class: 'legend' },
    sources.length ? sources.map((src, n) => h('span', {}, h('span', { class: 'swatch', style: `background:${COLORS[n % COLORS.length]}` }), src)) : h('span', { class: 'muted' }, 'No incidents in the last 24 hours.'),
    h('span', { class: 'muted' }, 'bars up: opened · down (pale): resolved'));
  return h('figure', { class: 'card chart', style: 'margin:0' }, svg, legend);
}
