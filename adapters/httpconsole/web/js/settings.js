// Settings: members and roles, API keys, webhook endpoints and their deliveries,
// automation, working hours. Sections whose API a server does not have show its answer.
import { h, mount, field, busy, formData, when, select, status, table, errorBox } from './dom.js';
import * as api from './api.js';
import { state, can, wsPath, loadMe } from './app.js';

const sections = [
  ['members', 'Members', 'members.read', members], ['keys', 'API keys', 'apikeys.read', keys],
  ['webhooks', 'Webhooks', 'webhooks.read', webhooks], ['automation', 'Automation', 'automation.read', automation],
  ['hours', 'Working hours', 'automation.read', hours], ['inbox', 'Inbox & messaging', 'inbox.manage', inboxSettings],
  ['account', 'My account', null, account],
];

export async function settings(root, [which]) {
  const visible = sections.filter(s => !s[2] || can(s[2]));
  const cur = visible.find(s => s[0] === which) || visible[0];
  const body = h('div');
  mount(root, h('h1', {}, 'Settings'),
    h('nav', { class: 'tabs', 'aria-label': 'Settings sections' }, visible.map(([k, label]) =>
      h('a', { class: 'btn' + (k === cur[0] ? '' : ' secondary'), href: '#/settings/' + k, 'aria-current': k === cur[0] ? 'page' : null }, label))),
    body);
  try { await cur[3](body); } catch (e) { body.replaceChildren(unavailable(e)); }
}

// unavailable explains a section the server does not serve (yet) in words.
function unavailable(e) {
  if (e.status === 404) return h('div', { class: 'error', role: 'alert' }, 'This server does not offer this yet (' + e.message + ').');
  return errorBox(e);
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

async function webhooks(el) {
  const out = h('div');
  const body = h('tbody');
  const deliveries = h('div');
  const manage = can('webhooks.manage');
  const load = async () => {
    const list = (await api.get(wsPath('/webhook-endpoints'))).data;
    body.replaceChildren(...list.map(w => {
      const btn = (label, fn, cls) => {
        const b = h('button', { type: 'button', class: cls || 'secondary' }, label);
        b.addEventListener('click', () => busy(b, out, fn));
        return b;
      };
      const acts = [btn('Deliveries', () => showDeliveries(w))];
      if (manage) {
        acts.push(btn(w.enabled ? 'Disable' : 'Enable', async () => { await api.patch(wsPath('/webhook-endpoints/' + w.id), { enabled: !w.enabled }); await load(); }),
          btn('Send test', async () => { await api.post(wsPath('/webhook-endpoints/' + w.id + '/test')); out.replaceChildren(h('p', { class: 'ok' }, 'A ping is on its way.')); }),
          btn('Rotate secret', async () => { const r = await api.post(wsPath('/webhook-endpoints/' + w.id + '/rotate-secret')); out.replaceChildren(h('p', { class: 'ok' }, 'New secret (the old one signs for 24 hours more):'), h('p', { class: 'secret' }, r.secret)); }),
          btn('Delete', async () => { await api.del(wsPath('/webhook-endpoints/' + w.id)); await load(); }, 'danger'));
      }
      return h('tr', {}, h('td', {}, w.url, w.description ? h('div', { class: 'small muted' }, w.description) : null),
        h('td', {}, (w.events || []).join(', ')), h('td', {}, w.enabled ? 'enabled' : 'disabled'), h('td', {}, h('div', { class: 'row' }, acts)));
    }));
    if (!list.length) body.append(h('tr', {}, h('td', { colspan: 4, class: 'empty' }, 'No endpoints.')));
  };
  async function showDeliveries(w) {
    const dBody = h('tbody');
    const more = h('button', { type: 'button', class: 'secondary' }, 'Load more');
    const filter = select('status', [['', 'Any'], 'pending', 'succeeded', 'failed', 'dead'].map(s => Array.isArray(s) ? s : [s, s]));
    let pages;
    const row = d => {
      const cells = [h('td', {}, when(d.created_at)), h('td', {}, d.event_type), h('td', {}, status(d.status)), h('td', {}, String(d.attempts)),
        h('td', {}, d.response_status ? String(d.response_status) : ''), h('td', { class: 'small' }, d.error || '')];
      if (manage && (d.status === 'failed' || d.status === 'dead')) {
        const r = h('button', { type: 'button', class: 'secondary' }, 'Retry');
        r.addEventListener('click', () => busy(r, out, async () => { await api.post(wsPath('/webhook-deliveries/' + d.id + '/retry')); r.disabled = true; r.textContent = 'Queued'; }));
        cells.push(h('td', {}, r));
      } else cells.push(h('td'));
      return h('tr', {}, cells);
    };
    const loadD = async next => {
      if (!next) { pages = api.pager(wsPath('/webhook-endpoints/' + w.id + '/deliveries'), { status: filter.value, limit: 50 }); dBody.replaceChildren(); }
      dBody.append(...(await pages.next()).map(row));
      more.hidden = !pages.more;
    };
    more.addEventListener('click', () => busy(more, out, () => loadD(true)));
    filter.addEventListener('change', () => busy(null, out, () => loadD()));
    mount(deliveries, h('h2', {}, 'Deliveries to ' + w.url), field('Status', filter),
      table(['When', 'Event', 'Status', 'Attempts', 'Response', 'Error', ''], dBody), more);
    await loadD();
  }
  const parts = [out, table(['URL', 'Events', 'State', ''], body), deliveries];
  if (manage) {
    const cOut = h('div');
    const btn = h('button', { type: 'submit' }, 'Add endpoint');
    const form = h('form', {
      onsubmit: e => {
        e.preventDefault();
        const d = formData(form);
        busy(btn, cOut, async () => {
          const w = await api.post(wsPath('/webhook-endpoints'), { url: d.url, description: d.description || undefined,
            events: d.events.split(',').map(s => s.trim()).filter(Boolean) });
          cOut.replaceChildren(h('p', { class: 'ok' }, 'Copy the signing secret now: it is shown only once.'), h('p', { class: 'secret' }, w.secret));
          form.reset(); await load();
        });
      },
    }, field('URL', h('input', { name: 'url', type: 'url', required: true, placeholder: 'https://example.com/hooks/whatsapp', size: 40 })),
    field('Events', h('input', { name: 'events', value: '*', required: true }), 'Comma-separated (message.received, message.read, …) or * for all.'),
    field('Description', h('input', { name: 'description' })), btn, cOut);
    parts.push(h('div', { class: 'card' }, h('h2', {}, 'New endpoint'), form));
  }
  mount(el, parts);
  await load();
}

async function automation(el) {
  const manage = can('automation.manage');
  const parts = [];
  for (const [kind, title, hint] of [['away', 'Away message', 'Sent outside working hours, at most once per conversation per 12 hours.'],
    ['welcome', 'Welcome message', "Sent to a contact's first message ever."]]) {
    const out = h('div');
    const box = h('div', { class: 'card' }, h('h2', {}, title), h('p', { class: 'muted small' }, hint), out);
    parts.push(box);
    try {
      const cur = await api.get(wsPath('/automation/' + kind));
      const enabled = h('input', { type: 'checkbox', name: 'enabled', checked: !!cur.enabled, disabled: !manage });
      const text = h('textarea', { name: 'text', value: cur.text || '', disabled: !manage });
      box.append(h('label', { class: 'inline' }, enabled, 'Enabled'), field('Text', text));
      if (manage) {
        const save = h('button', { type: 'button' }, 'Save');
        save.addEventListener('click', () => busy(save, out, async () => {
          await api.put(wsPath('/automation/' + kind), { enabled: enabled.checked, text: text.value });
          out.replaceChildren(h('p', { class: 'ok' }, 'Saved.'));
        }));
        box.append(save);
      }
    } catch (e) { out.replaceChildren(unavailable(e)); }
  }
  const rOut = h('div');
  const rBody = h('tbody');
  const loadRules = async () => {
    const rules = (await api.get(wsPath('/automation/rules'))).data || [];
    rBody.replaceChildren(...rules.map(r => {
      const cells = [h('td', {}, r.name), h('td', {}, r.match + ': ' + (r.keywords || []).join(', ')),
        h('td', {}, (r.actions || []).map(a => a.type).join(', ')), h('td', {}, String(r.priority ?? '')), h('td', {}, r.enabled ? 'on' : 'off')];
      if (manage) {
        const del = h('button', { type: 'button', class: 'danger' }, 'Delete');
        del.addEventListener('click', () => busy(del, rOut, async () => { await api.del(wsPath('/automation/rules/' + r.id)); await loadRules(); }));
        cells.push(h('td', {}, del));
      }
      return h('tr', {}, cells);
    }));
    if (!rules.length) rBody.append(h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No rules.')));
  };
  const rules = h('div', { class: 'card' }, h('h2', {}, 'Keyword rules'), rOut, table(['Name', 'Matches', 'Actions', 'Priority', 'State', ''], rBody));
  parts.push(rules);
  mount(el, parts);
  try { await loadRules(); } catch (e) { rOut.replaceChildren(unavailable(e)); return; }
  if (manage) {
    const cOut = h('div');
    const btn = h('button', { type: 'submit' }, 'Add rule');
    const form = h('form', {
      onsubmit: e => {
        e.preventDefault();
        const d = formData(form);
        const actions = [];
        if (d.reply) actions.push({ type: 'reply_text', text: d.reply });
        if (d.tag) actions.push({ type: 'add_tag', tag: d.tag });
        busy(btn, cOut, async () => {
          await api.post(wsPath('/automation/rules'), { name: d.name, match: d.match, keywords: d.keywords.split(',').map(s => s.trim()).filter(Boolean),
            actions, priority: Number(d.priority) || 0, enabled: true });
          form.reset(); await loadRules();
        });
      },
    }, h('div', { class: 'row' }, field('Name', h('input', { name: 'name', required: true })),
      field('Match', select('match', ['contains', 'exact', 'regex'], 'contains')),
      field('Keywords', h('input', { name: 'keywords', required: true, placeholder: 'price, cost' })),
      field('Priority', h('input', { name: 'priority', type: 'number', value: '0', size: 4 }))),
    h('div', { class: 'row' }, field('Reply with text', h('input', { name: 'reply', size: 40 })), field('Add tag', h('input', { name: 'tag' }))), btn, cOut);
    const tOut = h('div');
    const tBtn = h('button', { type: 'submit', class: 'secondary' }, 'Test');
    const test = h('form', {
      onsubmit: e => {
        e.preventDefault();
        busy(tBtn, tOut, async () => {
          const r = await api.post(wsPath('/automation/rules/test'), formData(test));
          tOut.replaceChildren(h('p', { class: 'ok' }, r.rule_id ? 'Matches rule ' + r.rule_id + ': ' + (r.actions || []).map(a => a.type).join(', ') : 'No rule matches.'));
        });
      },
    }, h('div', { class: 'row' }, field('A customer message', h('input', { name: 'text', required: true })), tBtn), tOut);
    rules.append(h('h3', {}, 'New rule'), form, h('h3', {}, 'Try a message'), test);
  }
}

const days = [['mon', 'Monday'], ['tue', 'Tuesday'], ['wed', 'Wednesday'], ['thu', 'Thursday'], ['fri', 'Friday'], ['sat', 'Saturday'], ['sun', 'Sunday']];

async function hours(el) {
  const manage = can('automation.manage');
  const cur = await api.get(wsPath('/settings/working-hours'));
  const out = h('div');
  const tz = h('input', { name: 'timezone', value: cur.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone, disabled: !manage });
  const rows = days.map(([k, label]) => {
    const iv = ((cur.days || {})[k] || [])[0] || {};
    const from = h('input', { type: 'time', name: k + '_from', value: iv.from || '', disabled: !manage, 'aria-label': label + ' from' });
    const to = h('input', { type: 'time', name: k + '_to', value: iv.to || '', disabled: !manage, 'aria-label': label + ' to' });
    return { k, from, to, el: h('tr', {}, h('th', { scope: 'row' }, label), h('td', {}, from), h('td', {}, to)) };
  });
  const hol = h('input', { name: 'holidays', value: (cur.holidays || []).join(', '), disabled: !manage, size: 40 });
  const parts = [field('Timezone (IANA)', tz), table(['Day', 'Opens', 'Closes'], rows.map(r => r.el)),
    h('p', { class: 'muted small' }, 'A day without hours is closed.'), field('Holidays', hol, 'Dates as 2026-12-25, comma-separated.'), out];
  if (manage) {
    const save = h('button', { type: 'button' }, 'Save');
    save.addEventListener('click', () => busy(save, out, async () => {
      const d = {};
      for (const r of rows) if (r.from.value && r.to.value) d[r.k] = [{ from: r.from.value, to: r.to.value }];
      await api.put(wsPath('/settings/working-hours'), { timezone: tz.value, days: d, holidays: hol.value.split(',').map(s => s.trim()).filter(Boolean) });
      out.replaceChildren(h('p', { class: 'ok' }, 'Saved.'));
    }));
    parts.push(save);
  }
  mount(el, parts);
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
