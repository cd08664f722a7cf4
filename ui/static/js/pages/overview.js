// Overview: state, totals, live throughput, protocol mix, top talkers
// and recent alerts, all updated by the WebSocket summary.
import * as api from '../api.js';
import { card, fill, h, ipLink, note } from '../dom.js';
import * as fmt from '../fmt.js';
import { colors, fmtBits, fmtRate, timeChart } from '../chart.js';

const WINDOW = 300; // seconds of throughput shown

export default function overview(main, ctx) {
  const tile = (label, id, sub) => h('div.tile', h('div.label', label), h('div.value', { id, dataset: { metric: id } }, '–'), h('div.sub', { id: id + '-sub' }, sub || ''));
  const state = h('span.state', { id: 'ov-state' }, '…');
  main.append(
    h('div.page-head',
      h('div', h('h1', 'Overview'), h('div.muted', { id: 'ov-source' }, '')),
      h('div', state)),
    h('div.tiles',
      tile('Throughput', 'ov-bps'),
      tile('Packets/s', 'ov-pps'),
      tile('Active sessions', 'ov-active'),
      tile('Packets', 'ov-packets'),
      tile('Bytes', 'ov-bytes'),
      tile('Flows', 'ov-flows'),
      tile('Drops', 'ov-drops'),
    ),
  );
  const chartEl = h('div.chart#ov-chart');
  const mixEl = h('div.mix#ov-mix', h('div.empty', 'waiting for traffic…'));
  const talkersEl = h('div#ov-talkers', h('div.empty', 'waiting for traffic…'));
  const alertsEl = h('div#ov-alerts');
  main.append(h('div.grid',
    h('div.span-8', card('Throughput', h('span.muted', 'last 5 minutes, live'), chartEl)),
    h('div.span-4', card('Protocol mix', h('span.muted', 'by bytes'), mixEl)),
    h('div.span-7', card('Top talkers', h('a', { href: '#/talkers' }, 'more →'), talkersEl)),
    h('div.span-5', card('Recent alerts', h('a', { href: '#/alerts' }, 'all →'), alertsEl)),
  ));

  const c = colors();
  const data = [[], [], []];
  const chart = timeChart(chartEl, [
    { label: 'bits/s', scale: 'bps', color: c.a, fmt: fmtBits, fill: true },
    { label: 'packets/s', scale: 'pps', color: c.b, fmt: fmtRate },
  ], data, { height: 260 });

  let alive = true;
  api.get('/api/timeseries', { range: WINDOW + 's' }).then((ts) => {
    if (!alive) return;
    const known = new Set(data[0]);
    ts.t.forEach((t, i) => {
      if (known.has(t / 1000)) return;
      data[0].push(t / 1000); data[1].push(ts.bps[i]); data[2].push(ts.pps[i]);
    });
    sortData();
    chart.u.setData(data);
  }).catch(ctx.showError);

  function sortData() {
    const idx = data[0].map((_, i) => i).sort((a, b) => data[0][a] - data[0][b]);
    for (let k = 0; k < 3; k++) data[k] = idx.map((i) => data[k][i]);
  }

  let alertsShown = [];
  function renderAlerts(hello) {
    if (hello && !hello.alerts_stage && alertsShown.length === 0) {
      fill(alertsEl, note('No alert rules configured', 'add a filter stage with rules to raise alerts.'));
      return;
    }
    if (alertsShown.length === 0) { fill(alertsEl, h('div.empty', 'No alerts.')); return; }
    fill(alertsEl, h('div.table-wrap', h('table', h('tbody', alertsShown.slice(0, 6).map((a) =>
      h('tr', h('td', h('span', { class: 'sev-' + a.severity }, a.severity)), h('td', a.rule), h('td.muted', a.subject), h('td.muted', fmt.clock(a.time))))))));
  }
  api.get('/api/alerts', { limit: 6 }).then((r) => {
    if (!alive) return;
    alertsShown = r.alerts;
    renderAlerts({ alerts_stage: r.available });
  }).catch(ctx.showError);

  function update(s) {
    const set = (id, text) => { const el = document.getElementById(id); if (el) el.textContent = text; };
    set('ov-bps', fmt.bits(s.rates.bps));
    set('ov-pps', fmt.rate(s.rates.pps).replace('/s', ''));
    set('ov-active', fmt.int(s.active_sessions));
    set('ov-active-sub', fmt.rate(s.rates.fps) + ' new');
    set('ov-packets', fmt.count(s.totals.packets));
    set('ov-bytes', fmt.bytes(s.totals.bytes));
    set('ov-flows', fmt.count(s.totals.flows));
    set('ov-flows-sub', fmt.int(s.totals.flows_ended) + ' ended');
    set('ov-drops', fmt.int(s.drops));
    set('ov-drops-sub', 'health: ' + s.health);
    state.className = 'state state-' + s.monitoring;
    state.textContent = { running: 'Monitoring', paused: 'Paused', stopped: 'Finished' }[s.monitoring] || s.monitoring;
    set('ov-source', s.clock ? 'packet time ' + fmt.time(s.clock) : '');

    data[0].push(s.ts / 1000); data[1].push(s.rates.bps); data[2].push(s.rates.pps);
    const cut = s.ts / 1000 - WINDOW;
    while (data[0].length && data[0][0] < cut) data.forEach((d) => d.shift());
    chart.u.setData(data);

    const protos = Object.entries(s.protocols || {}).sort((a, b) => b[1].bytes - a[1].bytes);
    const total = protos.reduce((n, [, p]) => n + p.bytes, 0) || 1;
    if (protos.length) {
      fill(mixEl, protos.slice(0, 8).map(([name, p]) => {
        const bar = h('div.mix-fill');
        bar.style.width = (100 * p.bytes / total).toFixed(1) + '%';
        return h('div.mix-row', h('span', name.toUpperCase()), h('div.mix-track', bar), h('span.num', (100 * p.bytes / total).toFixed(1) + '%'));
      }));
    }
    if (s.top_talkers.length) {
      const max = s.top_talkers[0].bytes || 1;
      fill(talkersEl, h('div.table-wrap', h('table',
        h('thead', h('tr', h('th', 'Address'), h('th.hide-phone', 'Place'), h('th.num', 'Bytes (5 min)'), h('th.bar-cell.hide-phone', ''))),
        h('tbody', s.top_talkers.map((t) => {
          const bar = h('div.bar');
          bar.style.width = (100 * t.bytes / max).toFixed(1) + '%';
          return h('tr', h('td', ipLink(t.ip)), h('td.hide-phone.muted', fmt.place(t.geo)), h('td.num', fmt.bytes(t.bytes)), h('td.bar-cell.hide-phone', bar));
        })))));
    }
    if (s.alerts.length) {
      alertsShown = [...s.alerts.slice().reverse(), ...alertsShown].slice(0, 50);
      renderAlerts(ctx.hello);
    }
  }
  if (ctx.summary) update(ctx.summary);
  const off = ctx.live.on('summary', update);
  return () => { alive = false; off(); chart.destroy(); };
}
