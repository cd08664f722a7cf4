// World map drawn from the country outlines shipped with the UI
// (world-atlas via d3-geo): countries shaded by traffic, dots at the
// located endpoints. No tile server, no request leaves the machine.
import * as api from '../api.js';
import { card, fill, h, note, svg } from '../dom.js';
import * as fmt from '../fmt.js';
import { cssVar } from '../chart.js';
import { alpha2ToNumeric, feature, geoGraticule10, geoNaturalEarth1, geoPath } from '/vendor/geo.js';

let atlas = null; // the TopoJSON, fetched once
async function loadAtlas() {
  if (!atlas) {
    const resp = await fetch('/vendor/countries-110m.json');
    if (!resp.ok) throw new Error('cannot load the country outlines: ' + resp.status);
    atlas = feature(await resp.json(), 'countries');
  }
  return atlas;
}

// mix blends two #rrggbb colours.
function mix(a, b, t) {
  const p = (c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
  const [x, y] = [p(a), p(b)];
  return '#' + x.map((v, i) => Math.round(v + (y[i] - v) * t).toString(16).padStart(2, '0')).join('');
}

export default function mapPage(main, ctx) {
  const noteEl = h('div#map-note');
  const mapEl = h('div.map#map', h('div.empty', 'loading map…'));
  const tip = h('div.map-tip');
  tip.hidden = true;
  const listEl = h('div#map-list');
  const legend = h('div.legend-ramp', 'less', h('span.ramp'), 'more traffic');
  main.append(
    h('div.page-head', h('div', h('h1', 'World map'), h('div.muted', 'Traffic by country and endpoint location'))),
    noteEl,
    h('div.grid',
      h('div.span-8', card('Traffic by country', h('span.muted#map-src', ''), h('div.map-wrap', mapEl, tip), legend)),
      h('div.span-4', card('Countries', h('span.muted', 'by bytes'), listEl))),
  );
  const width = 960, height = 500;
  const projection = geoNaturalEarth1().fitExtent([[4, 4], [width - 4, height - 4]], { type: 'Sphere' });
  const path = geoPath(projection);
  let paths = new Map(); // numeric id to <path>
  let dotsLayer = null;
  let alive = true;
  const land = cssVar('--land'), hot = cssVar('--accent');
  legend.querySelector('.ramp').style.background = `linear-gradient(90deg, ${mix(land, hot, 0.15)}, ${hot})`;

  function showTip(ev, text) {
    const box = mapEl.getBoundingClientRect();
    tip.textContent = text;
    tip.hidden = false;
    tip.style.left = Math.min(ev.clientX - box.left + 12, box.width - 160) + 'px';
    tip.style.top = (ev.clientY - box.top + 12) + 'px';
  }

  async function draw() {
    const countries = await loadAtlas();
    if (!alive) return;
    const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'World map of traffic by country' });
    root.append(svg('path', { class: 'graticule', d: path(geoGraticule10()) }));
    const g = svg('g', { class: 'countries' });
    paths = new Map();
    for (const f of countries.features) {
      const p = svg('path', { class: 'country', d: path(f), 'data-id': f.id || '', 'data-name': f.properties.name });
      g.append(p);
      if (f.id) paths.set(f.id, p);
    }
    root.append(g);
    dotsLayer = svg('g', { class: 'dots' });
    root.append(dotsLayer);
    root.addEventListener('mouseleave', () => { tip.hidden = true; });
    fill(mapEl, root);
  }

  async function load() {
    try {
      const r = await api.get('/api/geo', { limit: 500 });
      if (!alive) return;
      document.getElementById('map-src').textContent = r.source === 'history' ? 'from history' : 'live view';
      fill(noteEl, r.available ? (r.note ? note('Nothing located yet', r.note) : '') : note('No geo database', 'run make geoip and add a geoip stage to the pipeline to see where traffic goes. The map still shows the countries.'));
      const max = Math.max(1, ...r.countries.map((c) => c.bytes));
      const byId = new Map();
      for (const c of r.countries) {
        const id = alpha2ToNumeric[c.code];
        if (id) byId.set(id, c);
      }
      for (const [id, p] of paths) {
        const c = byId.get(id);
        p.classList.toggle('hit', !!c);
        if (c) {
          const t = 0.15 + 0.85 * Math.log1p(c.bytes) / Math.log1p(max);
          p.style.fill = mix(land, hot, t);
          p.dataset.bytes = c.bytes;
          p.onmousemove = (ev) => showTip(ev, `${c.name || c.code} (${c.code}): ${fmt.bytes(c.bytes)} · ${fmt.int(c.flows)} flows`);
        } else {
          p.style.fill = '';
          delete p.dataset.bytes;
          p.onmousemove = (ev) => showTip(ev, p.dataset.name + ': no traffic');
        }
      }
      if (dotsLayer) {
        const pmax = Math.max(1, ...r.points.map((p) => p.bytes));
        dotsLayer.replaceChildren(...r.points.map((pt) => {
          const [x, y] = projection([pt.lon, pt.lat]) || [-10, -10];
          const c = svg('circle', { class: 'dot', cx: x.toFixed(1), cy: y.toFixed(1), r: (2.5 + 9 * Math.sqrt(pt.bytes / pmax)).toFixed(1) });
          c.addEventListener('mousemove', (ev) => showTip(ev, `${pt.city || pt.country_code}: ${fmt.bytes(pt.bytes)} · ${fmt.int(pt.flows)} flows`));
          return c;
        }));
      }
      fill(listEl, r.countries.length ? h('div.table-wrap', h('table#map-table',
        h('thead', h('tr', h('th', 'Country'), h('th.num', 'Bytes'), h('th.num', 'Flows'))),
        h('tbody', r.countries.slice(0, 25).map((c) => h('tr', h('td', h('span.cc', c.code), ' ', c.name || c.code), h('td.num', fmt.bytes(c.bytes)), h('td.num', fmt.int(c.flows))))))) : h('div.empty', 'No located traffic.'));
    } catch (e) { ctx.showError(e); }
  }
  draw().then(load).catch(ctx.showError);
  const timer = setInterval(load, 5000);
  return () => { alive = false; clearInterval(timer); };
}
