// JSON API calls. Errors carry the server's message.

export class APIError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function call(method, path, params) {
  let url = path;
  if (params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== '' && v != null) q.set(k, v);
    const s = q.toString();
    if (s) url += '?' + s;
  }
  const resp = await fetch(url, { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' });
  if (resp.status === 401) {
    location.href = '/login';
    throw new APIError(401, 'authentication required');
  }
  let body = null;
  try { body = await resp.json(); } catch { /* not JSON */ }
  if (!resp.ok) throw new APIError(resp.status, (body && body.error) || resp.statusText);
  return body;
}

export const get = (path, params) => call('GET', path, params);
export const post = (path) => call('POST', path);
