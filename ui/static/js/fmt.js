// Number, size, rate and time formatting.

const nf = new Intl.NumberFormat();

export const int = (n) => (n == null ? '–' : nf.format(Math.round(n)));

function scaled(n, base, units, digits = 1) {
  if (n == null || Number.isNaN(n)) return '–';
  let i = 0;
  while (Math.abs(n) >= base && i < units.length - 1) { n /= base; i++; }
  const whole = i === 0 && (Number.isInteger(n) || Math.abs(n) >= 10);
  return (whole ? Math.round(n) : n.toFixed(Math.abs(n) >= 100 ? 0 : digits)) + ' ' + units[i];
}

export const bytes = (n) => scaled(n, 1024, ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']);
export const bits = (n) => scaled(n, 1000, ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s', 'Tbit/s']);
export const rate = (n) => scaled(n, 1000, ['/s', 'k/s', 'M/s', 'G/s']);
export const count = (n) => scaled(n, 1000, ['', 'k', 'M', 'G', 'T']).trim();

export function duration(sec) {
  if (sec == null) return '–';
  sec = Math.max(0, sec);
  if (sec < 1) return (sec * 1000).toFixed(0) + ' ms';
  if (sec < 60) return sec.toFixed(sec < 10 ? 1 : 0) + ' s';
  const d = Math.floor(sec / 86400), hr = Math.floor((sec % 86400) / 3600), m = Math.floor((sec % 3600) / 60), s = Math.floor(sec % 60);
  if (d) return `${d}d ${hr}h`;
  if (hr) return `${hr}h ${m}m`;
  return `${m}m ${s}s`;
}

export function time(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function clock(iso) {
  if (!iso) return '–';
  return new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** Seconds between two ISO times. */
export const span = (a, b) => (new Date(b) - new Date(a)) / 1000;

/** "Sweden · Stockholm" style place text of a geo object. */
export function place(geo) {
  if (!geo) return '';
  if (geo.country_code) return [geo.country || geo.country_code, geo.city].filter(Boolean).join(' · ');
  return geo.label || '';
}

export const endpoint = (e) => (e.ip.includes(':') ? `[${e.ip}]` : e.ip) + (e.port ? ':' + e.port : '');
export const flowBytes = (f) => f.c2s.bytes + f.s2c.bytes;
export const flowPackets = (f) => f.c2s.packets + f.s2c.packets;
