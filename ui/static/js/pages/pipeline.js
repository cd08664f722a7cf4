// The pipeline as a graph: each component with its live event rates,
// queue, drops and health, laid out in columns from sources to sinks.
import * as api from '../api.js';
import { card, fill, h, svg } from '../dom.js';
import * as fmt from '../fmt.js';

const W = 190, H = 78, GX = 70, GY = 22;

// layout places nodes in columns by their longest distance from a source.
function layout(nodes, edges) {
  const ins = new Map(nodes.map((n) => [n.name, []]));
  for (const e of edges) if (ins.has(e.to)) ins.get(e.to).push(e.from);
  const depth = new Map();
  const d = (name, seen = new Set()) => {
    if (depth.has(name)) return depth.get(name);
    if (seen.has(name)) return 0;
    seen.add(name);
    const v = Math.max(-1, ...(ins.get(name) || []).map((x) => d(x, seen))) + 1;
    depth.set(name, v);
    return v;
  };
  nodes.forEach((n) => d(n.name));
  const cols = [];
  for (const n of nodes) (cols[depth.get(n.name)] ||= []).push(n);
  const pos = new Map();
  const tallest = Math.max(...cols.map((c) => c.length));
  cols.forEach((col, i) => {
    const off = (tallest - col.length) * (H + GY) / 2;
    col.forEach((n, j) => pos.set(n.name, { x: i * (W + GX) + 10, y: off + j * (H + GY) + 10 }));
  });
  return { pos, width: cols.length * (W + GX) - GX + 20, height: tallest * (H + GY) - GY + 20 };
}

export default function pipelinePage(main, ctx) {
  const graph = h('div.dag#dag', h('div.empty', 'loading…'));
  const tableEl = h('div#pl-table');
  const stateEl = h('span.muted#pl-state', '');
  main.append(
    h('div.page-head', h('div', h('h1', 'Pipeline'), h('div.muted', 'Components, live rates and drops'))),
    h('div.grid',
      h('div.span-12', card('Graph', stateEl, h('div.table-wrap', graph))),
      h('div.span-12', card('Components', null, tableEl))),
  );
  let alive = true;
  let shape = '';

  async function load() {
    try {
      const r = await api.get('/api/pipeline');
      if (!alive) return;
      stateEl.textContent = `state: ${r.state} · health: ${r.health}`;
      const key = r.nodes.map((n) => n.name).join() + '|' + r.edges.map((e) => e.from + '>' + e.to).join();
      const { pos, width, height } = layout(r.nodes, r.edges);
      if (key !== shape) {
        shape = key;
        const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'Pipeline graph' });
        root.style.minWidth = Math.min(width, 900) + 'px';
        for (const e of r.edges) {
          const a = pos.get(e.from), b = pos.get(e.to);
          if (!a || !b) continue;
          const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
          root.append(svg('path', { class: 'edge', d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}` }));
        }
        for (const n of r.nodes) {
          const p = pos.get(n.name);
          root.append(svg('g', { class: 'node', 'data-name': n.name, transform: `translate(${p.x},${p.y})` },
            svg('rect', { width: W, height: H, rx: 8 }),
            svg('text', { class: 'title', x: 10, y: 19 }, n.name),
            svg('text', { class: 'sub', x: 10, y: 35 }, `${n.type} · ${n.role}`),
            svg('text', { class: 'rates', x: 10, y: 53 }, ''),
            svg('text', { class: 'drop', x: 10, y: 69 }, '')));
        }
        fill(graph, root);
      }
      for (const n of r.nodes) {
        const g = graph.querySelector(`g.node[data-name="${CSS.escape(n.name)}"]`);
        if (!g) continue;
        g.setAttribute('class', 'node health-' + n.health);
        const rate = n.role === 'source' ? `out ${fmt.rate(n.out_per_second)}` : n.role === 'sink' ? `in ${fmt.rate(n.in_per_second)}` : `in ${fmt.rate(n.in_per_second)} · out ${fmt.rate(n.out_per_second)}`;
        g.querySelector('.rates').textContent = rate + (n.queue_capacity ? ` · q ${n.queue_depth}/${n.queue_capacity}` : '');
        g.querySelector('.drop').textContent = n.dropped || n.errors ? `dropped ${fmt.int(n.dropped)} · errors ${fmt.int(n.errors)}` : '';
      }
      fill(tableEl, h('div.table-wrap', h('table#pl-components',
        h('thead', h('tr', h('th', 'Name'), h('th', 'Type'), h('th', 'Health'), h('th.num', 'In'), h('th.num', 'Out'), h('th.num', 'In/s'), h('th.num', 'Out/s'), h('th.num', 'Dropped'), h('th.num', 'Errors'), h('th.num.hide-phone', 'Queue'))),
        h('tbody', r.nodes.map((n) => h('tr',
          h('td.mono', n.name), h('td', n.type), h('td', h('span', { class: 'state health-' + n.health, title: n.health_message || '' }, n.health)),
          h('td.num', fmt.int(n.events_in)), h('td.num', fmt.int(n.events_out)),
          h('td.num', fmt.rate(n.in_per_second)), h('td.num', fmt.rate(n.out_per_second)),
          h('td.num', fmt.int(n.dropped)), h('td.num', fmt.int(n.errors)),
          h('td.num.hide-phone', n.queue_capacity ? `${n.queue_depth}/${n.queue_capacity}` : '–')))))));
    } catch (e) { ctx.showError(e); }
  }
  load();
  const off = ctx.live.on('summary', load);
  return () => { alive = false; off(); };
}
