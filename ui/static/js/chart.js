// uPlot wrappers themed from the CSS custom properties.
import uPlot from '/vendor/uplot.js';
import * as fmt from './fmt.js';

export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function axis(extra) {
  return {
    stroke: cssVar('--muted'),
    grid: { stroke: cssVar('--border'), width: 1 },
    ticks: { stroke: cssVar('--border'), width: 1 },
    font: '11px system-ui, sans-serif',
    ...extra,
  };
}

/**
 * A time chart that fills its container's width and keeps it on resize.
 * series: [{label, scale, color, fmt, fill?}]; data: [xs, ...ys] with
 * xs in seconds.
 */
export function timeChart(el, series, data, { height = 240, bars = false } = {}) {
  const scales = { x: { time: true } };
  const axes = [axis({})];
  const seen = new Set();
  for (const s of series) {
    if (seen.has(s.scale)) continue;
    seen.add(s.scale);
    scales[s.scale] = { auto: true, range: (u, min, max) => [0, Math.max(max * 1.1, 1)] };
    axes.push(axis({ scale: s.scale, side: seen.size === 2 ? 1 : 3, size: 72, values: (u, vals) => vals.map((v) => s.fmt(v)) }));
  }
  const paths = bars ? uPlot.paths.bars({ size: [0.8, 40] }) : undefined;
  const opts = {
    width: Math.max(200, el.clientWidth),
    height,
    scales,
    axes,
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
    series: [
      { value: (u, v) => (v == null ? '–' : new Date(v * 1000).toLocaleTimeString()) },
      ...series.map((s) => ({
        label: s.label, scale: s.scale, stroke: s.color, width: 2,
        fill: s.fill ? s.color + '22' : undefined, paths,
        value: (u, v) => (v == null ? '–' : s.fmt(v)), points: { show: false },
      })),
    ],
  };
  const u = new uPlot(opts, data, el);
  const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height }));
  ro.observe(el);
  return { u, destroy() { ro.disconnect(); u.destroy(); } };
}

export const colors = () => ({ a: cssVar('--accent'), b: cssVar('--accent-2'), warn: cssVar('--warn') });
export const fmtBits = (v) => fmt.bits(v);
export const fmtRate = (v) => fmt.rate(v);
export const fmtBytes = (v) => fmt.bytes(v);
