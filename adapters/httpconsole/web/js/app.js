// The console's shell: session, workspace, role, hash routes and the live event stream.
import { h, mount, errorBox } from './dom.js';
import * as api from './api.js';

// What each role may do (docs/permissions.md): buttons the API would refuse are not shown.
const perms = {
  'workspace.update': 'om', 'members.read': 'om', 'members.update': 'om', 'apikeys.read': 'om',
  'whatsapp.read': 'omv', 'whatsapp.connect': 'om', 'whatsapp.sync': 'om', 'contacts.create': 'oma', 'contacts.update': 'oma',
  'contacts.delete': 'oma', 'contacts.optout': 'oma', 'contacts.import': 'om', 'contacts.assign': 'om',
  'conversations.reply': 'oma', 'conversations.assign': 'om', 'conversations.close': 'oma',
  'conversations.take': 'oma', 'notes.create': 'oma', 'messages.send': 'oma', 'templates.manage': 'om',
  'campaigns.read': 'omv', 'campaigns.manage': 'om', 'campaigns.launch': 'om', 'audit.read': 'om',
  'audit.export': 'om', 'billing.read': 'omv', 'webhooks.read': 'omv', 'webhooks.manage': 'om',
  'automation.read': 'omv', 'automation.manage': 'om', 'inbox.manage': 'om', 'media.upload': 'oma',
};

export const state = {
  me: null, ws: null,
  sandbox: document.querySelector('meta[name=sandbox-url]')?.content || '',
  pendingInvitation: null,
};

// can fails closed: a permission missing from the table shows no button
// (permissions_test.go checks that every can() names one).
export function can(perm) {
  if (!state.ws) return false;
  const letters = perms[perm];
  return letters !== undefined && letters.includes(state.ws.role[0]);
}

export function wsPath(p = '') { return '/v1/workspaces/' + state.ws.workspace_id + p; }

export function go(hash) { if (location.hash === hash) route(); else location.hash = hash; }

// ---- live events ----
const liveNames = ['message.created', 'message.status_updated', 'conversation.updated', 'conversation.assigned',
  'note.created', 'contact.updated', 'campaign.updated'];
const listeners = new Set();
const live = { es: null, ws: null, lastID: '', timer: null, backoff: 1000, up: false };

export function onLive(fn) { listeners.add(fn); return () => listeners.delete(fn); }

function setLive(up) { live.up = up; document.querySelectorAll('.live').forEach(paintLive); }
function paintLive(el) { el.className = 'live' + (live.up ? '' : ' down'); el.textContent = live.up ? 'live' : 'reconnecting…'; }

function stopLive() {
  clearTimeout(live.timer);
  if (live.es) live.es.close();
  live.es = null; live.ws = null; live.lastID = ''; live.backoff = 1000;
}

// startLive opens the stream with a ticket (EventSource cannot send a bearer); after a
// drop it takes a new ticket and resumes from the last event id, backing off up to 30 s.
async function startLive() {
  const ws = state.ws && state.ws.workspace_id;
  if (!ws || !api.signedIn()) return;
  if (live.ws !== ws) { stopLive(); live.ws = ws; }
  if (live.es) return;
  try {
    const t = await api.post(wsPath('/events/tickets'));
    if (live.ws !== ws) return;
    const es = new EventSource(wsPath('/events') + api.qs({ ticket: t.ticket, last_event_id: live.lastID }));
    live.es = es;
    es.onopen = () => { live.backoff = 1000; setLive(true); };
    es.onerror = () => { es.close(); if (live.es === es) { live.es = null; retryLive(); } };
    for (const name of liveNames) {
      es.addEventListener(name, ev => {
        live.lastID = ev.lastEventId || live.lastID;
        let data = {};
        try { data = JSON.parse(ev.data); } catch { /* keep the name */ }
        for (const fn of listeners) fn(name, data);
      });
    }
  } catch { retryLive(); }
}

function retryLive() {
  setLive(false);
  if (!api.signedIn() || !live.ws) return;
  clearTimeout(live.timer);
  const wait = live.backoff * (0.75 + Math.random() / 2);
  live.backoff = Math.min(live.backoff * 2, 30000);
  live.timer = setTimeout(startLive, wait);
}

// test hook: drop the stream as a network failure would.
window.addEventListener('console-drop-live', () => { if (live.es) { live.es.close(); live.es = null; retryLive(); } });

// ---- session ----
export async function loadMe() {
  state.me = await api.get('/v1/me');
  if (state.ws) state.ws = state.me.memberships.find(m => m.workspace_id === state.ws.workspace_id) || null;
  return state.me;
}

export async function chooseWorkspace(m, next) {
  state.ws = m;
  stopLive();
  startLive();
  go(next || '#/inbox');
}

export async function signOut() {
  stopLive();
  await api.logout();
  state.me = state.ws = null;
  go('#/login');
}

api.onSignOut(() => { stopLive(); state.me = state.ws = null; go('#/login'); });

// ---- routes ----
const screens = {
  login: () => import('./auth.js').then(m => m.login),
  signup: () => import('./auth.js').then(m => m.signup),
  forgot: () => import('./auth.js').then(m => m.forgot),
  reset: () => import('./auth.js').then(m => m.reset),
  workspaces: () => import('./workspaces.js').then(m => m.picker),
  connect: () => import('./workspaces.js').then(m => m.connect),
  inbox: () => import('./inbox.js').then(m => m.inbox),
  contacts: () => import('./contacts.js').then(m => m.contacts),
  templates: () => import('./templates.js').then(m => m.templates),
  campaigns: () => import('./campaigns.js').then(m => m.campaigns),
  audit: () => import('./audit.js').then(m => m.audit),
  settings: () => import('./settings.js').then(m => m.settings),
};
const publicScreens = new Set(['login', 'signup', 'forgot', 'reset']);

const nav = [
  ['inbox', 'Inbox', null], ['contacts', 'Contacts', null], ['templates', 'Templates', null],
  ['campaigns', 'Campaigns', 'campaigns.read'], ['connect', 'Numbers', 'whatsapp.read'],
  ['audit', 'Audit log', 'audit.read'], ['settings', 'Settings', null],
];

let cleanup = null, routing = 0;

function shell(name) {
  const liveEl = h('span', { class: 'live down' });
  paintLive(liveEl);
  const main = h('main', { id: 'main' });
  mount(document.getElementById('app'),
    h('header', { class: 'top' },
      h('strong', {}, state.ws.workspace_name),
      h('nav', { 'aria-label': 'Sections' }, nav.filter(([, , p]) => !p || can(p)).map(([k, label]) =>
        h('a', { href: '#/' + k, 'aria-current': k === name ? 'page' : null }, label))),
      h('div', { class: 'who' }, liveEl,
        h('span', {}, state.me.user.name + ' · ' + state.ws.role),
        h('a', { href: '#/workspaces' }, 'Switch'),
        h('button', { class: 'link', type: 'button', onclick: signOut }, 'Sign out'))),
    main);
  return main;
}

async function route() {
  const my = ++routing;
  if (cleanup) { try { cleanup(); } catch { /* ignore */ } cleanup = null; }
  const [name, ...params] = location.hash.replace(/^#\/?/, '').split('/');
  let screen = screens[name] ? name : (api.signedIn() ? 'inbox' : 'login');
  if (!api.signedIn() && !publicScreens.has(screen)) screen = 'login';
  if (api.signedIn() && publicScreens.has(screen)) screen = 'workspaces';
  if (api.signedIn() && !state.ws && screen !== 'workspaces') screen = 'workspaces';
  const root = document.getElementById('app');
  try {
    const render = await screens[screen]();
    if (my !== routing) return;
    document.title = screen[0].toUpperCase() + screen.slice(1) + ' · WABA console';
    const target = state.ws && !publicScreens.has(screen) && screen !== 'workspaces' ? shell(screen) : mount(root);
    cleanup = (await render(target, params.map(decodeURIComponent))) || null;
  } catch (e) {
    mount(root, h('main', {}, errorBox(e)));
  }
}

window.addEventListener('hashchange', route);

// Links from mail arrive on their own paths: a password reset, an invitation.
const q = new URLSearchParams(location.search);
if (location.pathname === '/reset-password' && q.get('token')) {
  history.replaceState(null, '', '/#/reset/' + encodeURIComponent(q.get('token')));
} else if (location.pathname === '/invitations/accept' && q.get('token')) {
  state.pendingInvitation = q.get('token');
  history.replaceState(null, '', '/#/login');
}
route();
