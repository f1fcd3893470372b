// Settings: members and roles, API keys, webhook endpoints and their deliveries,
// automation, working hours (the last three in hooks.js and automation.js). A section's
// API error is shown in words.
import { h, mount, field, busy, formData, when, select, table, errorBox } from './dom.js';
import * as api from './api.js';
import { state, can, wsPath, loadMe } from './app.js';
import { webhooks } from './hooks.js';
import { automation, hours } from './automation.js';

const sections = [
  ['members', 'Members', 'members.read', members], ['keys', 'API keys', 'apikeys.read', keys],
  ['webhooks', 'Webhooks', 'webhooks.read', webhooks], ['automation', 'Automation', 'automation.read', automation],
  ['hours', 'Working hours', 'automation.read', hours], ['inbox', 'Inbox & messaging', 'inbox.manage', inboxSettings],
  ['account', 'My account', null, account],
];

export async function settings(root, [which]) {
  const visible = sections.filter(s => !s[2] || can(s[2]));
  const cur = visible.find(s => s[0] === which) || visible[0];
  // data-section names what is shown; data-ready is set once it has rendered (or failed).
  const body = h('div', { 'data-section': cur[0] });
  mount(root, h('h1', {}, 'Settings'),
    h('nav', { class: 'tabs', 'aria-label': 'Settings sections' }, visible.map(([k, label]) =>
      h('a', { class: 'btn' + (k === cur[0] ? '' : ' secondary'), href: '#/settings/' + k, 'aria-current': k === cur[0] ? 'page' : null }, label))),
    body);
  try { await cur[3](body); } catch (e) { body.replaceChildren(errorBox(e)); }
  body.dataset.ready = '';
}

const roleOptions = () => (state.ws.role === 'owner' ? ['owner', 'manager', 'agent', 'viewer'] : ['agent', 'viewer']);

async function members(el) {
  const out = h('div');
  const body = h('tbody');
  const load = async () => {
    const list = (await api.get(wsPath('/members'))).data;
    body.replaceChildren(...list.map(m => {
      const cells = [h('td', {}, m.name), h('td', {}, m.email)];
      if (can('members.update')) {
        const sel = select('role', ['owner', 'manager', 'agent', 'viewer'], m.role);
        sel.setAttribute('aria-label', 'Role of ' + m.name);
        sel.addEventListener('change', () => busy(sel, out, async () => { await api.patch(wsPath('/members/' + m.user_id), { role: sel.value }); await load(); }));
        const rm = h('button', { type: 'button', class: 'danger' }, 'Remove');
        rm.addEventListener('click', () => busy(rm, out, async () => { await api.del(wsPath('/members/' + m.user_id)); await load(); }));
        cells.push(h('td', {}, sel), h('td', {}, m.user_id === state.me.user.id ? '' : rm));
      } else cells.push(h('td', {}, m.role), h('td'));
      cells.push(h('td', {}, when(m.created_at)));
      return h('tr', {}, cells);
    }));
  };
  const parts = [out, table(['Name', 'Email', 'Role', '', 'Since'], body)];
  if (can('members.update')) {
    const aOut = h('div');
    const btn = h('button', { type: 'submit' }, 'Add member');
    const form = h('form', {
      onsubmit: e => { e.preventDefault(); busy(btn, aOut, async () => { await api.post(wsPath('/members'), formData(form)); form.reset(); await load(); }); },
    }, h('div', { class: 'row' }, field('Email of a signed-up user', h('input', { name: 'email', type: 'email', required: true })),
      field('Role', select('role', roleOptions(), 'agent')), btn), aOut);
    const iOut = h('div');
    const ibtn = h('button', { type: 'submit', class: 'secondary' }, 'Invite');
    const inv = h('form', {
      onsubmit: e => {
        e.preventDefault();
        busy(ibtn, iOut, async () => { const r = await api.post(wsPath('/invitations'), formData(inv)); iOut.replaceChildren(h('p', { class: 'ok' }, 'Invitation sent to ' + r.email + '.')); inv.reset(); });
      },
    }, h('div', { class: 'row' }, field('Email', h('input', { name: 'email', type: 'email', required: true })),
      field('Role', select('role', roleOptions(), 'agent')), ibtn), iOut);
    parts.push(h('div', { class: 'card' }, h('h2', {}, 'Add a member'), form, h('h3', {}, 'Or invite by email'), inv));
  }
  mount(el, parts);
  await load();
}

async function keys(el) {
  const out = h('div');
  const body = h('tbody');
  const load = async () => {
    body.replaceChildren(...(await api.get(wsPath('/api-keys'))).data.map(k => {
      const rv = h('button', { type: 'button', class: 'danger' }, 'Revoke');
      rv.addEventListener('click', () => busy(rv, out, async () => { await api.del(wsPath('/api-keys/' + k.id)); await load(); }));
      return h('tr', {}, h('td', {}, k.name), h('td', {}, k.role), h('td', {}, when(k.created_at)), h('td', {}, rv));
    }));
  };
  const cOut = h('div');
  const btn = h('button', { type: 'submit' }, 'Create key');
  const form = h('form', {
    onsubmit: e => {
      e.preventDefault();
      busy(btn, cOut, async () => {
        const k = await api.post(wsPath('/api-keys'), formData(form));
        cOut.replaceChildren(h('p', { class: 'ok' }, 'Copy this key now: it is shown only once.'), h('p', { class: 'secret' }, k.key));
        form.reset(); await load();
      });
    },
  }, h('div', { class: 'row' }, field('Name', h('input', { name: 'name', required: true })),
    field('Role', select('role', roleOptions(), 'agent')), btn), cOut);
  mount(el, out, table(['Name', 'Role', 'Created', ''], body), h('div', { class: 'card' }, h('h2', {}, 'New API key'), form));
  await load();
}

async function account(el) {
  const out = h('div');
  const avail = h('input', { type: 'checkbox', name: 'available', checked: true });
  avail.addEventListener('change', () => busy(null, out, async () => {
    await api.patch(wsPath('/members/me'), { available: avail.checked });
    out.replaceChildren(h('p', { class: 'ok' }, avail.checked ? 'You receive new conversations.' : 'Auto-assignment skips you.'));
  }));
  const pOut = h('div');
  const btn = h('button', { type: 'submit' }, 'Change password');
  const form = h('form', {
    onsubmit: e => {
      e.preventDefault();
      busy(btn, pOut, async () => { await api.put('/v1/me/password', formData(form)); form.reset(); pOut.replaceChildren(h('p', { class: 'ok' }, 'Changed. Your other sessions are signed out.')); });
    },
  }, field('Current password', h('input', { type: 'password', name: 'current_password', autocomplete: 'current-password', required: true })),
  field('New password', h('input', { type: 'password', name: 'new_password', autocomplete: 'new-password', minlength: 10, required: true })), btn, pOut);
  await loadMe();
  mount(el, h('div', { class: 'card' }, h('h2', {}, state.me.user.name), h('p', {}, state.me.user.email + ' · ' + state.ws.role + ' of ' + state.ws.workspace_name),
    h('label', { class: 'inline' }, avail, 'Available for auto-assignment'), out),
  h('div', { class: 'card' }, h('h2', {}, 'Password'), form));
}

async function inboxSettings(el) {
  const [inbox, msg] = await Promise.all([api.get(wsPath('/settings/inbox')), api.get(wsPath('/settings/messaging'))]);
  const out = h('div');
  const mode = select('auto_assign', [['off', 'Off'], ['round_robin', 'Round robin'], ['least_busy', 'Least busy']], inbox.auto_assign);
  const saveInbox = h('button', { type: 'button' }, 'Save');
  saveInbox.addEventListener('click', () => busy(saveInbox, out, async () => {
    await api.put(wsPath('/settings/inbox'), { auto_assign: mode.value });
    out.replaceChildren(h('p', { class: 'ok' }, 'Saved.'));
  }));
  const mOut = h('div');
  const list = a => (a || []).join(', ');
  const split = v => v.split(',').map(x => x.trim()).filter(Boolean);
  const perDay = h('input', { type: 'number', min: 0, name: 'day', value: String(msg.marketing_per_contact_per_day ?? ''), size: 4 });
  const perWeek = h('input', { type: 'number', min: 0, name: 'week', value: String(msg.marketing_per_contact_per_week ?? ''), size: 4 });
  const optOut = h('input', { name: 'opt_out', value: list(msg.opt_out_keywords), size: 30 });
  const optIn = h('input', { name: 'opt_in', value: list(msg.opt_in_keywords), size: 30 });
  const saveMsg = h('button', { type: 'button' }, 'Save');
  saveMsg.addEventListener('click', () => busy(saveMsg, mOut, async () => {
    await api.put(wsPath('/settings/messaging'), { marketing_per_contact_per_day: Number(perDay.value), marketing_per_contact_per_week: Number(perWeek.value),
      opt_out_keywords: split(optOut.value), opt_in_keywords: split(optIn.value) });
    mOut.replaceChildren(h('p', { class: 'ok' }, 'Saved.'));
  }));
  mount(el, h('div', { class: 'card' }, h('h2', {}, 'Auto-assignment'), field('New conversations go to', mode,
    'Only agents who are available are picked.'), out, saveInbox),
  h('div', { class: 'card' }, h('h2', {}, 'Marketing limits and keywords'),
    h('div', { class: 'row' }, field('Marketing templates per contact a day', perDay), field('… a week', perWeek)),
    field('Extra opt-out keywords', optOut, 'Besides STOP, UNSUBSCRIBE and the others Meta users know; comma-separated.'),
    field('Extra opt-in keywords', optIn), mOut, saveMsg));
}
