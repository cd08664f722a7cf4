// Top talkers by bytes, packets or flows over a chosen range: the live
// view answers up to an hour, the history sink beyond.
import * as api from '../api.js';
import { card, fill, h, ipLink, note, segmented } from '../dom.js';
import * as fmt from '../fmt.js';

const RANGES = [['5m', '5m'], ['15m', '15m'], ['1h', '1h'], ['6h', '6h'], ['24h', '24h'], ['7d', '7d']];
const BY = [['bytes', 'Bytes'], ['packets', 'Packets'], ['flows', 'Flows']];

export default function talkers(main, ctx) {
  const state = { range: sessionStorage.getItem('talkers-range') || '5m', by: sessionStorage.getItem('talkers-by') || 'bytes' };
  const noteEl = h('div#tk-note');
  const body = h('div#tk-body', h('div.empty', 'loading…'));
  main.append(
    h('div.page-head', h('div', h('h1', 'Top talkers'), h('div.muted', 'Addresses that moved the most traffic')),
      h('div.toolbar',
        segmented(RANGES, state.range, (v) => { state.range = v; sessionStorage.setItem('talkers-range', v); load(); }, 'Range'),
        segmented(BY, state.by, (v) => { state.by = v; sessionStorage.setItem('talkers-by', v); load(); }, 'Order by'))),
    noteEl,
    card('Ranking', h('span.muted#tk-source', ''), body),
  );

  let alive = true;
  async function load() {
    try {
      const r = await api.get('/api/top-talkers', { range: state.range, by: state.by, limit: 50 });
      if (!alive) return;
      document.getElementById('tk-source').textContent = r.source === 'history' ? 'from history' : 'from the live view';
      fill(noteEl, r.note ? note('Limited range', r.note) : '');
      if (!r.talkers.length) { fill(body, h('div.empty', 'No traffic in this range yet.')); return; }
      const key = state.by;
      const max = r.talkers[0][key] || 1;
      fill(body, h('div.table-wrap', h('table#tk-table',
        h('thead', h('tr', h('th.num', '#'), h('th', 'Address'), h('th.hide-phone', 'Place'), h('th.num', 'In'), h('th.num', 'Out'),
          h('th.num', 'Packets'), h('th.num', 'Flows'), h('th.bar-cell.hide-phone', BY.find((b) => b[0] === key)[1]))),
        h('tbody', r.talkers.map((t, i) => {
          const bar = h('div.bar');
          bar.style.width = (100 * t[key] / max).toFixed(1) + '%';
          return h('tr',
            h('td.num.muted', i + 1), h('td', ipLink(t.ip)), h('td.hide-phone.muted', fmt.place(t.geo)),
            h('td.num', fmt.bytes(t.bytes_in)), h('td.num', fmt.bytes(t.bytes_out)),
            h('td.num', fmt.int(t.packets)), h('td.num', fmt.int(t.flows)), h('td.bar-cell.hide-phone', bar));
        })))));
    } catch (e) { ctx.showError(e); }
  }
  load();
  const timer = setInterval(load, 5000);
  return () => { alive = false; clearInterval(timer); };
}
