// Alerts raised by filter rules, and the pipeline's own event log
// (started, paused, errors…), both live.
import * as api from '../api.js';
import { card, fill, h, note } from '../dom.js';
import * as fmt from '../fmt.js';

export default function alerts(main, ctx) {
  const alertsEl = h('div#al-alerts', h('div.empty', 'loading…'));
  const eventsEl = h('div#al-events', h('div.empty', 'loading…'));
  const firing = h('span.muted#al-firing', '');
  main.append(
    h('div.page-head', h('div', h('h1', 'Alerts & events'), h('div.muted', 'Rule alerts and the pipeline\'s event log'))),
    h('div.grid',
      h('div.span-7', card('Alerts', firing, alertsEl)),
      h('div.span-5', card('Events', h('span.muted', 'newest first'), eventsEl))),
  );
  let alive = true;
  let events = [];

  async function loadAlerts() {
    try {
      const r = await api.get('/api/alerts', { limit: 200 });
      if (!alive) return;
      firing.textContent = r.available ? `${fmt.int(r.firing)} firing · ${fmt.int(r.total)} received` : '';
      if (!r.available) { fill(alertsEl, note('No alert rules configured', 'add a filter stage with rules to raise alerts; they will appear here as they fire.')); return; }
      if (!r.alerts.length) { fill(alertsEl, h('div.empty', 'No alerts yet.')); return; }
      fill(alertsEl, h('div.table-wrap', h('table',
        h('thead', h('tr', h('th', 'Time'), h('th', 'Severity'), h('th', 'Rule'), h('th', 'Subject'), h('th', 'State'), h('th.hide-phone', 'Message'))),
        h('tbody', r.alerts.map((a) => h('tr',
          h('td', fmt.time(a.time)), h('td', h('span', { class: 'sev-' + a.severity }, a.severity)), h('td', a.rule),
          h('td.mono', a.subject), h('td', a.state), h('td.hide-phone.muted.wrap', a.message)))))));
    } catch (e) { ctx.showError(e); }
  }

  function renderEvents() {
    fill(eventsEl, events.length ? h('div.table-wrap', h('table#al-events-table',
      h('thead', h('tr', h('th', 'Time'), h('th', 'Kind'), h('th', 'Message'))),
      h('tbody', events.slice(0, 200).map((e) => h('tr',
        h('td.muted', fmt.time(e.time)),
        h('td', h('span', { class: 'pill ' + ({ error: 'sev-critical', warning: 'sev-warning', paused: 'sev-warning' }[e.kind] || '') }, e.kind)),
        h('td.wrap', e.component ? h('span.mono', e.component + ': ') : '', e.message)))))) : h('div.empty', 'No events.'));
  }

  api.get('/api/events', { limit: 200 }).then((r) => {
    if (!alive) return;
    events = r.events;
    renderEvents();
  }).catch(ctx.showError);
  const off = ctx.live.on('event', (m) => { events.unshift(m.event); renderEvents(); });
  const offSummary = ctx.live.on('summary', (s) => { if (s.alerts.length) loadAlerts(); });
  loadAlerts();
  return () => { alive = false; off(); offSummary(); };
}
