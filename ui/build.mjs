// Bundles the dashboard's third-party libraries into static/vendor/ as
// ES modules, next to the hand-written files in static/. Run by `make ui`
// after `npm ci`; the output is git-ignored and embedded by ui.go.
import { build } from 'esbuild';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'static', 'vendor');
const mod = (p) => join(here, 'node_modules', p);

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });

const common = {
  bundle: true,
  format: 'esm',
  minify: true,
  target: ['es2020'],
  legalComments: 'none',
  logLevel: 'warning',
};

// uPlot: the live charts.
await build({
  ...common,
  stdin: { contents: "export { default } from 'uplot';", resolveDir: here, loader: 'js' },
  outfile: join(out, 'uplot.js'),
});
await copyFile(mod('uplot/dist/uPlot.min.css'), join(out, 'uplot.css'));

// The world map: only the d3-geo and topojson-client functions used, and
// the ISO 3166 alpha-2 to numeric table (world-atlas ids are numeric).
await build({
  ...common,
  stdin: {
    contents: [
      "export { geoNaturalEarth1, geoPath, geoGraticule10 } from 'd3-geo';",
      "export { feature, mesh } from 'topojson-client';",
      "import codes from 'i18n-iso-countries/codes.json';",
      'export const alpha2ToNumeric = Object.fromEntries(codes.map((c) => [c[0], c[2]]));',
    ].join('\n'),
    resolveDir: here,
    loader: 'js',
  },
  outfile: join(out, 'geo.js'),
});
await copyFile(mod('world-atlas/countries-110m.json'), join(out, 'countries-110m.json'));

// Licences of everything bundled, served beside the bundles.
const pkgs = ['uplot', 'd3-geo', 'd3-array', 'internmap', 'topojson-client', 'world-atlas', 'i18n-iso-countries'];
let notice = 'Third-party software bundled in this directory:\n';
for (const p of pkgs) {
  const meta = JSON.parse(await readFile(mod(join(p, 'package.json')), 'utf8'));
  let text = '';
  for (const name of ['LICENSE', 'LICENSE.md', 'LICENSE.txt']) {
    try { text = await readFile(mod(join(p, name)), 'utf8'); break; } catch { /* try the next name */ }
  }
  notice += `\n==== ${p} ${meta.version} (${meta.license}) ====\n${text}\n`;
}
await writeFile(join(out, 'LICENSES.txt'), notice);
console.log('ui: built', out);
