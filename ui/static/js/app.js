// The dashboard shell: hash router, the live connection, the monitoring
// button, the theme switch and the disconnected banner.
import { Live } from './live.js';
import * as api from './api.js';
import { fill } from './dom.js';
import * as fmt from './fmt.js';
import overview from './pages/overview.js';
import talkers from './pages/talkers.js';
import sessions from './pages/sessions.js';
import ipPage from './pages/ip.js';
import mapPage from './pages/map.js';
import alerts from './pages/alerts.js';
import pipelinePage from './pages/pipeline.js';

const pages = { overview, talkers, sessions, ip: ipPage, map: mapPage, alerts, pipeline: pipelinePage };

const $ = (id) => document.getElementById(id);

const ctx = {
  live: new Live('summary,events'),
  summary: null,
  hello: null,
  status: null,
};

// ---- theme -------------------------------------------------------------
const themes = ['auto', 'light', 'dark'];
function applyTheme(t) {
  if (t === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = t;
  $('theme').title = `Theme: ${t} (click to change)`;
}
let theme = localStorage.getItem('nfpipe-theme') || 'auto';
applyTheme(theme);
$('theme').addEventListener('click', () => {
  theme = themes[(themes.indexOf(theme) + 1) % themes.length];
  localStorage.setItem('nfpipe-theme', theme);
  applyTheme(theme);
  route(); // charts and the map read colours when drawn
});

// ---- connection state --------------------------------------------------
ctx.live.on('state', (s) => {
  if (!s.up) document.body.dataset.disconnects = String(Number(document.body.dataset.disconnects || 0) + 1);
  const conn = $('conn');
  conn.className = 'conn ' + (s.up ? 'conn-up' : 'conn-down');
  conn.textContent = s.up ? 'live' : 'disconnected';
  const banner = $('banner');
  if (s.up) {
    banner.hidden = true;
  } else {
    banner.className = 'banner';
    banner.textContent = `Disconnected from nfpipe — reconnecting in ${Math.round(s.retryIn / 1000)} s. Numbers on this page are not updating.`;
    banner.hidden = false;
  }
});
ctx.live.on('hello', (m) => { ctx.hello = m; });
ctx.live.on('summary', (m) => {
  ctx.summary = m;
  setMonitoring(m.monitoring);
});

// ---- monitoring button -------------------------------------------------
function setMonitoring(state) {
  const b = $('monitor');
  b.disabled = state === 'stopped';
  b.dataset.state = state;
  if (state === 'running') {
    b.textContent = 'Stop';
    b.className = 'btn btn-small btn-stop';
    b.title = 'Pause the capture (counters are kept)';
  } else {
    b.textContent = state === 'stopped' ? 'Finished' : 'Start';
    b.className = 'btn btn-small';
    b.title = state === 'stopped' ? 'The sources have finished' : 'Resume the capture';
  }
}
$('monitor').addEventListener('click', async () => {
  const b = $('monitor');
  const stop = b.dataset.state === 'running';
  b.disabled = true;
  try {
    const r = await api.post(stop ? '/api/stop-monitoring' : '/api/start-monitoring');
    setMonitoring(r.state);
  } catch (e) {
    showError(e);
  } finally {
    b.disabled = false;
  }
});

api.get('/api/status').then((s) => {
  ctx.status = s;
  setMonitoring(s.state);
  $('footer-note').textContent = `Sources: ${s.source || 'none'} · started ${fmt.time(s.started)}`;
}).catch(showError);

function showError(e) {
  const banner = $('banner');
  banner.className = 'banner';
  banner.textContent = e.message || String(e);
  banner.hidden = false;
  setTimeout(() => { if (ctx.live.up) banner.hidden = true; }, 6000);
}
ctx.showError = showError;

// ---- router ------------------------------------------------------------
let cleanup = null;
function route() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [name, ...rest] = hash.split('/');
  const key = pages[name] ? name : 'overview';
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === key || (key === 'ip' && a.dataset.page === 'talkers'));
  if (cleanup) { try { cleanup(); } catch (e) { console.warn(e); } }
  const main = $('main');
  fill(main);
  const arg = decodeURIComponent(rest.join('/') || '');
  cleanup = pages[key](main, ctx, arg) || null;
  document.title = 'nfpipe — ' + ({ overview: 'Overview', talkers: 'Top talkers', sessions: 'Sessions', ip: arg, map: 'Map', alerts: 'Alerts & events', pipeline: 'Pipeline' }[key] || '');
}
window.addEventListener('hashchange', route);
route();
