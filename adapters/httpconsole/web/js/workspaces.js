// The workspace picker and creation, and connecting a WhatsApp number.
import { h, mount, field, busy, formData, status, when, table } from './dom.js';
import * as api from './api.js';
import { state, loadMe, chooseWorkspace, can, wsPath, signOut } from './app.js';

export async function picker(root) {
  const me = await loadMe();
  const out = h('div');
  const btn = h('button', { type: 'submit' }, 'Create the workspace');
  const form = h('form', {
    onsubmit: e => {
      e.preventDefault();
      busy(btn, out, async () => {
        const w = await api.post('/v1/workspaces', formData(form));
        await loadMe();
        await chooseWorkspace({ workspace_id: w.id, workspace_name: w.name, role: 'owner' }, '#/connect');
      });
    },
  }, field('Workspace name', h('input', { name: 'name', required: true, maxlength: 200 })), out, btn);
  mount(root, h('main', {}, h('div', { class: 'card narrow' },
    h('h1', {}, 'Hello, ' + me.user.name),
    me.memberships.length ? [h('h2', {}, 'Your workspaces'),
      h('ul', {}, me.memberships.map(m => h('li', {},
        h('button', { class: 'link', type: 'button', onclick: () => chooseWorkspace(m) }, m.workspace_name), ' ',
        h('span', { class: 'muted small' }, m.role))))] : h('p', {}, 'Create a workspace for your business to begin.'),
    h('h2', {}, 'New workspace'), form,
    h('p', {}, h('button', { class: 'link', type: 'button', onclick: signOut }, 'Sign out')))));
}

function numberRows(nums, out) {
  return nums.map(n => h('tr', {},
    h('td', {}, n.display_phone_number || n.phone_number_id), h('td', {}, n.verified_name || ''),
    h('td', {}, status(n.status), n.failure_reason ? h('div', { class: 'small' }, n.failure_reason) : null),
    h('td', {}, n.quality_rating || ''), h('td', {}, n.messaging_limit_tier || ''), h('td', {}, when(n.last_synced_at)),
    h('td', {}, can('whatsapp.sync') ? syncButton(n, out) : null)));
}

function syncButton(n, out) {
  const b = h('button', { type: 'button', class: 'secondary' }, 'Sync');
  b.addEventListener('click', () => busy(b, out, async () => {
    await api.post(wsPath('/whatsapp/phone-numbers/' + n.id + '/sync'));
    out.replaceChildren(h('p', { class: 'ok' }, 'Reading the number from Meta: reload this screen in a moment.'));
  }));
  return b;
}

export async function connect(root) {
  const list = h('div');
  const out = h('div');
  let timer = null;
  async function refresh() {
    const nums = (await api.get(wsPath('/whatsapp/phone-numbers'))).data;
    list.replaceChildren(nums.length
      ? table(['Number', 'Name', 'Status', 'Quality', 'Limit', 'Synced', ''], numberRows(nums, out))
      : h('p', { class: 'muted' }, 'No number is connected yet.'));
    clearTimeout(timer);
    if (nums.some(n => n.status === 'connecting')) timer = setTimeout(() => refresh().catch(() => {}), 700);
    else if (out.dataset.waiting) { delete out.dataset.waiting; out.replaceChildren(h('p', { class: 'ok' }, 'Connected. ', h('a', { href: '#/inbox' }, 'Open the inbox'), '.')); }
    return nums;
  }
  async function connectWith(body, button) {
    await busy(button, out, async () => {
      const r = await api.post(wsPath('/whatsapp/connect'), body);
      out.replaceChildren(h('p', { class: 'ok' }, 'Connecting ' + (r.phone_number.display_phone_number || 'the number') + '…'));
      out.dataset.waiting = '1';
      await refresh();
    });
  }
  const parts = [h('h1', {}, 'WhatsApp numbers'), list];
  if (can('whatsapp.connect')) {
    if (state.sandbox) {
      const sbBtn = h('button', { type: 'button' }, 'Connect a sandbox number');
      sbBtn.addEventListener('click', () => busy(sbBtn, out, async () => {
        // make run: the sandbox stands in for Meta's Embedded Signup and hands a code.
        const res = await fetch(state.sandbox + '/_sandbox/accounts', { method: 'POST', body: '{}' });
        if (!res.ok) throw new Error('The sandbox did not create an account (HTTP ' + res.status + ').');
        const acct = await res.json();
        await connectWith({ code: acct.code }, sbBtn);
      }));
      parts.push(h('div', { class: 'card' }, h('h2', {}, 'Sandbox'),
        h('p', {}, 'This server talks to the Meta sandbox at ', h('code', {}, state.sandbox),
          '. One click creates a sandbox business account and connects its number.'), sbBtn));
      parts.push(simulate());
    }
    const btn = h('button', { type: 'submit' }, 'Connect');
    const form = h('form', {
      onsubmit: e => {
        e.preventDefault();
        const d = formData(form);
        const body = d.code ? { code: d.code } : { access_token: d.access_token, waba_id: d.waba_id, phone_number_id: d.phone_number_id };
        if (d.pin) body.pin = d.pin;
        connectWith(body, btn);
      },
    },
    field('Embedded Signup code', h('input', { name: 'code', autocomplete: 'off' }), 'Or, instead of a code, a system-user token with its WABA and phone number ids:'),
    h('div', { class: 'row' },
      field('Access token', h('input', { name: 'access_token', type: 'password', autocomplete: 'off' })),
      field('WABA id', h('input', { name: 'waba_id', inputmode: 'numeric' })),
      field('Phone number id', h('input', { name: 'phone_number_id', inputmode: 'numeric' })),
      field('PIN (optional)', h('input', { name: 'pin', inputmode: 'numeric', pattern: '[0-9]{6}', size: 7 }))),
    btn);
    parts.push(h('div', { class: 'card' }, h('h2', {}, 'Connect a number'), form));
  }
  parts.splice(1, 0, out);
  mount(root, parts);
  await refresh();
  return () => clearTimeout(timer);
}

// simulate writes to a sandbox number as a customer would (make run only).
function simulate() {
  const out = h('div');
  const btn = h('button', { type: 'submit', class: 'secondary' }, 'Send as the customer');
  const form = h('form', {
    onsubmit: e => {
      e.preventDefault();
      busy(btn, out, async () => {
        const nums = (await api.get(wsPath('/whatsapp/phone-numbers'))).data.filter(n => n.status === 'connected');
        if (!nums.length) throw new Error('Connect a number first.');
        const d = formData(form);
        const res = await fetch(state.sandbox + '/_sandbox/inbound', { method: 'POST',
          body: JSON.stringify({ phone_number_id: nums[0].phone_number_id, from: d.from, name: d.name, text: d.text }) });
        if (!res.ok) throw new Error('The sandbox refused the message (HTTP ' + res.status + ').');
        out.replaceChildren(h('p', { class: 'ok' }, 'Sent. It appears in the inbox in a moment.'));
      });
    },
  }, h('div', { class: 'row' },
    field('From', h('input', { name: 'from', value: '14155550123', inputmode: 'tel' })),
    field('Name', h('input', { name: 'name', value: 'José' }))),
  field('Message', h('input', { name: 'text', value: 'Is my order shipped?' })), out, btn);
  return h('div', { class: 'card' }, h('h2', {}, 'A customer writes in (sandbox)'), form);
}
