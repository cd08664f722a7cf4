// Tiny DOM helpers: h() builds elements without innerHTML, so no data
// from the network is ever parsed as HTML.

/** h('div.card#id', {attrs, on: {click}}, ...children) */
export function h(tag, props, ...children) {
  const [, name, rest] = /^([a-z0-9-]+)(.*)$/i.exec(tag);
  const el = document.createElement(name);
  for (const m of rest.matchAll(/([.#])([\w-]+)/g)) {
    if (m[1] === '.') el.classList.add(m[2]); else el.id = m[2];
  }
  if (props && (typeof props !== 'object' || props instanceof Node || Array.isArray(props))) {
    children.unshift(props);
    props = null;
  }
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** svg('path', {d: ...}) creates an SVG element. */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) el.setAttribute(k, v);
  for (const c of children) if (c != null) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A card with a title, optional header extras and a body. */
export function card(title, extra, ...body) {
  return h('section.card', h('div.card-head', h('h2', title), extra), ...body);
}

/** A note explaining that something is not configured. */
export function note(strong, text) {
  return h('p.note', h('strong', strong), text ? ' — ' + text : '');
}

/** Segmented buttons; onPick(value) when one is chosen. */
export function segmented(values, current, onPick, label) {
  const wrap = h('div.seg', { role: 'group', 'aria-label': label });
  for (const [value, text] of values) {
    const b = h('button', { type: 'button', class: value === current ? 'on' : '', dataset: { value } }, text);
    b.addEventListener('click', () => {
      for (const x of wrap.children) x.classList.toggle('on', x === b);
      onPick(value);
    });
    wrap.append(b);
  }
  return wrap;
}

/** A link from an address to its detail page. */
export function ipLink(ip) {
  return h('a.mono', { href: '#/ip/' + encodeURIComponent(ip) }, ip);
}
