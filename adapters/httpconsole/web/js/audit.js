// The audit log with filters and CSV export.
import { h, mount, field, busy, formData, when, table, download } from './dom.js';
import * as api from './api.js';
import { can, wsPath } from './app.js';

export async function audit(root) {
  const out = h('div');
  const body = h('tbody');
  const moreBtn = h('button', { type: 'button', class: 'secondary' }, 'Load more');
  let pages;
  const filters = h('form', { class: 'row', onsubmit: e => { e.preventDefault(); load(); } },
    field('Action', h('input', { name: 'action', placeholder: 'contact.created', size: 16 })),
    field('Resource type', h('input', { name: 'resource_type', size: 10 })),
    field('Actor id', h('input', { name: 'actor_id', size: 12 })),
    field('From', h('input', { name: 'from', type: 'datetime-local' })),
    field('To', h('input', { name: 'to', type: 'datetime-local' })),
    h('button', { type: 'submit' }, 'Filter'));
  // datetime-local is the browser's local time; the API wants RFC 3339.
  const query = () => {
    const d = formData(filters);
    for (const k of ['from', 'to']) if (d[k]) d[k] = new Date(d[k]).toISOString();
    return d;
  };
  const row = e => h('tr', {}, h('td', { class: 'nowrap' }, when(e.created_at)), h('td', {}, e.action),
    h('td', {}, e.actor_type + (e.actor_id ? ' ' + e.actor_id.slice(0, 8) : '')),
    h('td', {}, (e.resource_type || '') + (e.resource_id ? ' ' + String(e.resource_id).slice(0, 8) : '')),
    h('td', { class: 'small' }, e.details && Object.keys(e.details).length ? JSON.stringify(e.details) : ''), h('td', {}, e.ip || ''));
  async function load(more) {
    await busy(null, out, async () => {
      if (!more) { pages = api.pager(wsPath('/audit-logs'), { ...query(), limit: 50 }); body.replaceChildren(); }
      body.append(...(await pages.next()).map(row));
      if (!body.children.length) body.append(h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'Nothing recorded for these filters.')));
      moreBtn.hidden = !pages.more;
    });
  }
  moreBtn.addEventListener('click', () => load(true));
  const parts = [h('h1', {}, 'Audit log'), filters];
  if (can('audit.export')) {
    const exp = h('button', { type: 'button', class: 'secondary' }, 'Export CSV');
    exp.addEventListener('click', () => busy(exp, out, async () => {
      const res = await api.request('GET', wsPath('/audit-logs/export') + api.qs(query()), undefined, { raw: true });
      download(await res.blob(), 'audit-log.csv');
    }));
    parts.push(h('p', {}, exp));
  }
  parts.push(out, table(['When', 'Action', 'Actor', 'Resource', 'Details', 'IP'], body), moreBtn);
  mount(root, parts);
  await load();
}
