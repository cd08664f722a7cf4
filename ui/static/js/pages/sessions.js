// Sessions: a live table of active and recent flows with search,
// filters, sorting, pagination and details on click. Rows on screen are
// updated in place from the WebSocket; the page re-queries every few
// seconds so new flows appear in order.
import * as api from '../api.js';
import { fill, h, ipLink } from '../dom.js';
import * as fmt from '../fmt.js';
import { Live } from '../live.js';

const COLS = [
  ['state', 'State', null],
  ['proto', 'Proto', 'proto'],
  ['client', 'Client', 'client'],
  ['server', 'Server', 'server'],
  ['place', 'Place', null, 'hide-phone'],
  ['bytes', 'Bytes', 'bytes', 'num'],
  ['packets', 'Packets', 'packets', 'num hide-phone'],
  ['duration', 'Duration', 'duration', 'num hide-phone'],
  ['last_seen', 'Last seen', 'last_seen', 'num'],
];

export default function sessions(main, ctx) {
  const q = { q: '', proto: '', state: '', country: '', port: '', sort: 'last_seen', order: 'desc', limit: 25, offset: 0 };
  const search = h('input#ss-search', { type: 'search', placeholder: 'Search address, port, protocol, country…', 'aria-label': 'Search sessions' });
  const proto = h('select#ss-proto', { 'aria-label': 'Protocol' }, [['', 'All protocols'], ['tcp', 'TCP'], ['udp', 'UDP'], ['icmp', 'ICMP'], ['icmpv6', 'ICMPv6']].map(([v, t]) => h('option', { value: v }, t)));
  const stateSel = h('select#ss-state', { 'aria-label': 'State' }, [['', 'Any state'], ['active', 'Active'], ['ended', 'Ended'], ['ESTABLISHED', 'TCP established'], ['SYN_SENT', 'TCP SYN sent'], ['CLOSED', 'TCP closed'], ['RESET', 'TCP reset']].map(([v, t]) => h('option', { value: v }, t)));
  const country = h('input#ss-country', { type: 'text', placeholder: 'Country (DE)', maxlength: 2, size: 9, 'aria-label': 'Country code' });
  const port = h('input#ss-port', { type: 'number', placeholder: 'Port', min: 0, max: 65535, 'aria-label': 'Port' });
  port.style.width = '6.5rem';
  const liveBox = h('input#ss-live', { type: 'checkbox', checked: true });
  const info = h('span.muted#ss-info', '');
  const table = h('table#ss-table');
  const prev = h('button.btn.btn-small.btn-ghost#ss-prev', { type: 'button' }, '← Prev');
  const next = h('button.btn.btn-small.btn-ghost#ss-next', { type: 'button' }, 'Next →');
  const pageSize = h('select#ss-size', { 'aria-label': 'Rows per page' }, [25, 50, 100].map((n) => h('option', { value: n }, n + ' rows')));
  const dialog = h('dialog.details#ss-details');

  main.append(
    h('div.page-head', h('div', h('h1', 'Sessions'), h('div.muted', 'Active and recently ended flows')),
      h('label.muted', liveBox, ' live updates')),
    h('section.card',
      h('div.toolbar', search, proto, stateSel, country, port),
      h('div.table-wrap', table),
      h('div.pager', info, pageSize, prev, next)),
    dialog,
  );

  let rows = new Map(); // flow id to its <tr>
  let alive = true;
  let loading = false;
  let again = false;

  function header() {
    return h('thead', h('tr', COLS.map(([key, label, sortKey, cls]) => {
      const th = h('th', { class: (cls || '') + (sortKey ? ' sortable' : ''), dataset: { col: key } }, label);
      if (sortKey) {
        if (q.sort === sortKey) th.classList.add(q.order === 'desc' ? 'sorted-desc' : 'sorted-asc');
        th.setAttribute('aria-sort', q.sort === sortKey ? (q.order === 'desc' ? 'descending' : 'ascending') : 'none');
        th.addEventListener('click', () => {
          if (q.sort === sortKey) q.order = q.order === 'desc' ? 'asc' : 'desc';
          else { q.sort = sortKey; q.order = ['client', 'server', 'proto'].includes(sortKey) ? 'asc' : 'desc'; }
          q.offset = 0;
          load();
        });
      }
      return th;
    })));
  }

  function cells(f, active) {
    const st = active ? 'active' : 'ended';
    return [
      h('td', h('span', { class: 'pill pill-' + st }, f.tcp ? f.tcp.state.toLowerCase().replace('_', ' ') : st)),
      h('td', f.proto.toUpperCase()),
      h('td', ipLink(f.client.ip), f.client.port ? h('span.muted', ':' + f.client.port) : ''),
      h('td', ipLink(f.server.ip), f.server.port ? h('span.muted', ':' + f.server.port) : ''),
      h('td.hide-phone.muted', fmt.place(f.server.geo && f.server.geo.country_code ? f.server.geo : f.client.geo)),
      h('td.num', fmt.bytes(fmt.flowBytes(f))),
      h('td.num.hide-phone', fmt.int(fmt.flowPackets(f))),
      h('td.num.hide-phone', fmt.duration(fmt.span(f.first_seen, f.last_seen))),
      h('td.num', fmt.clock(f.last_seen)),
    ];
  }

  function row(f, active) {
    const tr = h('tr.clickable', { dataset: { id: f.id, bytes: fmt.flowBytes(f), proto: f.proto } }, cells(f, active));
    tr.addEventListener('click', (ev) => {
      if (ev.target.closest('a')) return;
      details(f.id);
    });
    return tr;
  }

  async function load() {
    if (loading) { again = true; return; }
    loading = true;
    try {
      const r = await api.get('/api/sessions', { ...q, q: q.q.toLowerCase() });
      if (!alive) return;
      rows = new Map();
      fill(table, header(), h('tbody', r.sessions.length ? r.sessions.map((f) => {
        const tr = row(f, f.event === 'update');
        rows.set(f.id, tr);
        return tr;
      }) : h('tr', h('td.empty', { colSpan: COLS.length }, 'No sessions match.'))));
      const from = r.total ? r.offset + 1 : 0;
      info.textContent = `${fmt.int(from)}–${fmt.int(r.offset + r.sessions.length)} of ${fmt.int(r.total)} · ${fmt.int(r.active)} active`;
      info.dataset.total = r.total;
      prev.disabled = r.offset === 0;
      next.disabled = r.offset + r.sessions.length >= r.total;
    } catch (e) {
      ctx.showError(e);
    } finally {
      loading = false;
      if (again) { again = false; load(); }
    }
  }

  let debounce;
  const changed = () => { clearTimeout(debounce); debounce = setTimeout(() => { q.offset = 0; load(); }, 250); };
  search.addEventListener('input', () => { q.q = search.value.trim(); changed(); });
  proto.addEventListener('change', () => { q.proto = proto.value; changed(); });
  stateSel.addEventListener('change', () => { q.state = stateSel.value; changed(); });
  country.addEventListener('input', () => { const v = country.value.trim().toUpperCase(); if (v.length === 0 || v.length === 2) { q.country = v; changed(); } });
  port.addEventListener('input', () => { const v = port.value.trim(); if (v === '' || (+v >= 0 && +v <= 65535)) { q.port = v; changed(); } });
  prev.addEventListener('click', () => { q.offset = Math.max(0, q.offset - q.limit); load(); });
  next.addEventListener('click', () => { q.offset += q.limit; load(); });
  pageSize.addEventListener('change', () => { q.limit = +pageSize.value; q.offset = 0; load(); });

  async function details(id) {
    try {
      const r = await api.get('/api/sessions/' + id);
      const f = r.flow;
      const side = (label, e) => [h('dt', label), h('dd', ipLink(e.ip), e.port ? ':' + e.port : '', e.geo ? h('div.muted', [fmt.place(e.geo), e.geo.as_org ? ' · AS' + e.geo.asn + ' ' + e.geo.as_org : ''].join('')) : '')];
      const kv = [
        h('dt', 'Flow id'), h('dd.mono', f.id),
        h('dt', 'State'), h('dd', r.active ? 'active' : 'ended' + (f.end_reason ? ' (' + f.end_reason + ')' : '')),
        h('dt', 'Protocol'), h('dd', f.proto.toUpperCase() + (f.vlan ? ' · VLAN ' + f.vlan : '')),
        ...side('Client', f.client), ...side('Server', f.server),
        h('dt', 'First seen'), h('dd', fmt.time(f.first_seen)),
        h('dt', 'Last seen'), h('dd', fmt.time(f.last_seen)),
        h('dt', 'Duration'), h('dd', fmt.duration(fmt.span(f.first_seen, f.last_seen))),
        h('dt', 'Client → server'), h('dd', `${fmt.int(f.c2s.packets)} packets · ${fmt.bytes(f.c2s.bytes)}`),
        h('dt', 'Server → client'), h('dd', `${fmt.int(f.s2c.packets)} packets · ${fmt.bytes(f.s2c.bytes)}`),
      ];
      if (f.tcp) {
        kv.push(h('dt', 'TCP state'), h('dd', f.tcp.state));
        kv.push(h('dt', 'TCP flags'), h('dd.mono', `c→s ${f.tcp.flags_c2s} · s→c ${f.tcp.flags_s2c}`));
        if (f.tcp.rtt_ms) kv.push(h('dt', 'Handshake RTT'), h('dd', f.tcp.rtt_ms.toFixed(2) + ' ms'));
      }
      if (f.tags) kv.push(h('dt', 'Tags'), h('dd', f.tags.join(', ')));
      for (const [k, v] of Object.entries(f.attrs || {})) kv.push(h('dt', k), h('dd', v));
      const close = h('button.btn.btn-small.btn-ghost', { type: 'button' }, 'Close');
      close.addEventListener('click', () => dialog.close());
      fill(dialog, h('div.details-head', h('h2', 'Flow details'), close), h('div.details-body', h('dl.kv', kv)));
      dialog.showModal();
    } catch (e) { ctx.showError(e); }
  }
  dialog.addEventListener('click', (ev) => { if (ev.target === dialog) dialog.close(); });

  // Live: update visible rows in place, re-query now and then.
  const live = new Live('sessions');
  const offLive = live.on('sessions', (m) => {
    if (!liveBox.checked) return;
    for (const f of m.flows) {
      const tr = rows.get(f.id);
      if (!tr) continue;
      tr.replaceChildren(...cells(f, f.event === 'update'));
      tr.dataset.bytes = fmt.flowBytes(f);
      tr.classList.remove('flash');
      void tr.offsetWidth; // restart the highlight animation
      tr.classList.add('flash');
    }
  });
  const timer = setInterval(() => { if (liveBox.checked && !dialog.open) load(); }, 3000);
  load();
  return () => { alive = false; clearInterval(timer); offLive(); live.close(); };
}
