// IP detail: totals, traffic history, peers, ports and flows of one
// address.
import * as api from '../api.js';
import { card, fill, h, ipLink, note } from '../dom.js';
import * as fmt from '../fmt.js';
import { colors, fmtBytes, timeChart } from '../chart.js';

export default function ipPage(main, ctx, ip) {
  const head = h('div.page-head', h('div', h('h1.mono', ip || '?'), h('div.muted#ip-place', '')));
  const tiles = h('div.tiles#ip-tiles');
  const chartEl = h('div.chart#ip-chart');
  const chartNote = h('div');
  const peersEl = h('div#ip-peers', h('div.empty', 'loading…'));
  const portsEl = h('div#ip-ports', h('div.empty', 'loading…'));
  const flowsEl = h('div#ip-flows', h('div.empty', 'loading…'));
  main.append(head, tiles, h('div.grid',
    h('div.span-12', card('Traffic per minute', h('span.muted#ip-hsrc', ''), chartNote, chartEl)),
    h('div.span-6', card('Peers', h('span.muted', 'by bytes, live flows'), peersEl)),
    h('div.span-6', card('Ports', h('span.muted', 'server side, by bytes'), portsEl)),
    h('div.span-12', card('Flows', h('a', { href: '#/sessions' }, 'all sessions →'), flowsEl)),
  ));
  let chart = null;
  let alive = true;

  const table = (rows, keyLabel, keyCell) => rows.length ? h('div.table-wrap', h('table',
    h('thead', h('tr', h('th', keyLabel), h('th.num', 'Bytes'), h('th.num', 'Flows'))),
    h('tbody', rows.map((r) => h('tr', h('td', keyCell(r.key)), h('td.num', fmt.bytes(r.bytes)), h('td.num', fmt.int(r.flows))))))) : h('div.empty', 'None in the live view.');

  async function load() {
    try {
      const r = await api.get('/api/ip/' + encodeURIComponent(ip), { range: '1h' });
      if (!alive) return;
      const t = r.totals;
      document.getElementById('ip-place').textContent = t && t.geo ? [fmt.place(t.geo), t.geo.as_org ? `AS${t.geo.asn} ${t.geo.as_org}` : ''].filter(Boolean).join(' · ') : '';
      const tile = (label, value, sub) => h('div.tile', h('div.label', label), h('div.value', value), h('div.sub', sub || ''));
      if (t) {
        fill(tiles,
          tile('Received', fmt.bytes(t.bytes_in), fmt.int(t.packets_in) + ' packets'),
          tile('Sent', fmt.bytes(t.bytes_out), fmt.int(t.packets_out) + ' packets'),
          tile('Flows', fmt.int(t.flows), fmt.int(t.flows_started || 0) + ' started here'),
          tile('Peers', t.peers ? fmt.int(t.peers) : String(r.peers.length), t.dst_ports ? fmt.int(t.dst_ports) + ' destination ports' : 'in the live view'),
          tile('Last seen', fmt.clock(t.last_seen), 'first ' + fmt.time(t.first_seen)));
      }
      document.getElementById('ip-hsrc').textContent = r.history_source === 'history' ? 'from history' : 'last hour, live view';
      const hs = r.history;
      const data = [hs.t.map((x) => x / 1000), hs.bytes_in, hs.bytes_out];
      if (!ctx.hello || !ctx.hello.history) fill(chartNote, note('No history configured', 'the chart covers the last hour held in memory.'));
      if (!chart) {
        const c = colors();
        chart = timeChart(chartEl, [
          { label: 'received', scale: 'b', color: c.a, fmt: fmtBytes, fill: true },
          { label: 'sent', scale: 'b', color: c.b, fmt: fmtBytes, fill: true },
        ], data, { height: 220, bars: true });
      } else chart.u.setData(data);
      fill(peersEl, table(r.peers, 'Peer', (k) => ipLink(k)));
      fill(portsEl, table(r.ports, 'Port', (k) => h('span.mono', k)));
      const s = await api.get('/api/sessions', { ip, limit: 25, sort: 'bytes' });
      if (!alive) return;
      fill(flowsEl, s.sessions.length ? h('div.table-wrap', h('table',
        h('thead', h('tr', h('th', 'Proto'), h('th', 'Client'), h('th', 'Server'), h('th.num', 'Bytes'), h('th.num.hide-phone', 'Packets'), h('th.num', 'Last seen'))),
        h('tbody', s.sessions.map((f) => h('tr',
          h('td', f.proto.toUpperCase()),
          h('td', ipLink(f.client.ip), h('span.muted', f.client.port ? ':' + f.client.port : '')),
          h('td', ipLink(f.server.ip), h('span.muted', f.server.port ? ':' + f.server.port : '')),
          h('td.num', fmt.bytes(fmt.flowBytes(f))), h('td.num.hide-phone', fmt.int(fmt.flowPackets(f))), h('td.num', fmt.clock(f.last_seen))))))) : h('div.empty', 'No flows in the live view.'));
    } catch (e) {
      if (e.status === 404) fill(tiles, note('Not seen', `${ip} has no traffic in the live view.`));
      else ctx.showError(e);
    }
  }
  load();
  const timer = setInterval(load, 5000);
  return () => { alive = false; clearInterval(timer); if (chart) chart.destroy(); };
}
