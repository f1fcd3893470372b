// The API client. The access and refresh tokens live in this module's variables only
// (never localStorage or sessionStorage): a reload means logging in again.
let access = null, refreshToken = null, refreshing = null;
let onSignedOut = () => {};

export class ApiError extends Error {
  constructor(status, p) {
    super(p.detail || p.title || ('HTTP ' + status));
    this.status = status; this.code = p.code; this.title = p.title; this.errors = p.errors || [];
  }
}

export function signedIn() { return access !== null; }
export function onSignOut(fn) { onSignedOut = fn; }

function keep(t) { access = t.access_token; refreshToken = t.refresh_token; }

export async function login(email, password) {
  keep(await request('POST', '/v1/auth/login', { email, password }, { anonymous: true }));
}

export async function logout() {
  const rt = refreshToken;
  access = refreshToken = null;
  if (rt) { try { await request('POST', '/v1/auth/logout', { refresh_token: rt }, { anonymous: true }); } catch { /* gone anyway */ } }
}

// refresh trades the refresh token for a new pair once, whoever asks at the same time.
function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      if (!refreshToken) return false;
      try { keep(await request('POST', '/v1/auth/refresh', { refresh_token: refreshToken }, { anonymous: true })); return true; }
      catch { access = refreshToken = null; return false; }
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

async function problem(res) {
  let p = {};
  try { p = await res.json(); } catch { p = { title: res.statusText }; }
  if (res.status === 404 && !p.detail && p.code === 'not_found') p.detail = 'Not found.';
  if (res.status === 429 && res.headers.get('Retry-After')) p.detail = (p.detail || 'Too many requests.') + ' Try again in ' + res.headers.get('Retry-After') + ' s.';
  return new ApiError(res.status, p);
}

// request calls the API. body: an object (JSON), FormData (multipart), or a Blob/File/string
// sent as text/csv.
// opts.raw returns the Response (exports); opts.anonymous sends no token.
export async function request(method, path, body, opts = {}) {
  const headers = { ...(opts.headers || {}) };
  let payload;
  if (body instanceof FormData) payload = body; // multipart: the browser sets the boundary
  else if (body instanceof Blob || typeof body === 'string') { payload = body; headers['Content-Type'] = 'text/csv'; }
  else if (body !== undefined) { payload = JSON.stringify(body); headers['Content-Type'] = 'application/json'; }
  if (access && !opts.anonymous) headers.Authorization = 'Bearer ' + access;
  let res;
  try { res = await fetch(path, { method, headers, body: payload, credentials: 'omit' }); }
  catch { throw new ApiError(0, { detail: 'The server cannot be reached. Check your connection and try again.' }); }
  if (res.status === 401 && !opts.anonymous && !opts.retried) {
    if (await refresh()) return request(method, path, body, { ...opts, retried: true });
    access = refreshToken = null;
    onSignedOut();
    throw await problem(res);
  }
  if (!res.ok) throw await problem(res);
  if (opts.raw) return res;
  if (res.status === 204 || res.status === 202 && res.headers.get('content-length') === '0') return null;
  const type = res.headers.get('Content-Type') || '';
  return type.includes('json') ? res.json() : res.text();
}

export const get = (p) => request('GET', p);
export const post = (p, b) => request('POST', p, b === undefined ? {} : b);
export const put = (p, b) => request('PUT', p, b);
export const patch = (p, b) => request('PATCH', p, b);
export const del = (p, b) => request('DELETE', p, b);

// qs builds a query string from the non-empty values.
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) u.set(k, v);
  const s = u.toString();
  return s ? '?' + s : '';
}

// pager pages a list with the API's cursors: next() returns the next page's rows, and
// more tells whether there is another.
export function pager(path, params = {}) {
  let cursor = null, done = false;
  return {
    get more() { return !done; },
    async next() {
      const page = await get(path + qs({ ...params, cursor }));
      cursor = page.next_cursor; done = !cursor;
      return page.data || [];
    },
  };
}
