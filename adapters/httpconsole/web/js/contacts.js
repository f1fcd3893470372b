// Contacts: search, tags, opt-out state, create, CSV import.
import { h, mount, field, busy, formData, when, select, table } from './dom.js';
import * as api from './api.js';
import { can, wsPath } from './app.js';

const splitTags = s => s.split(/[;,]/).map(x => x.trim()).filter(Boolean);

export async function contacts(root) {
  const out = h('div');
  const body = h('tbody');
  const moreBtn = h('button', { type: 'button', class: 'secondary' }, 'Load more');
  let pages;

  function row(c) {
    const tr = h('tr', { 'data-id': c.id });
    const paint = () => {
      const acts = [];
      if (can('contacts.optout')) {
        const b = c.opted_out
          ? h('button', { type: 'button', class: 'secondary' }, 'Opt in')
          : h('button', { type: 'button', class: 'danger' }, 'Opt out');
        b.addEventListener('click', () => busy(b, out, async () => {
          Object.assign(c, await api.post(wsPath('/contacts/' + c.id + (c.opted_out ? '/opt-in' : '/opt-out'))));
          paint();
        }));
        acts.push(b);
      }
      if (can('contacts.update')) {
        const input = h('input', { name: 'tags', value: (c.tags || []).join(', '), size: 14, 'aria-label': 'Tags of ' + (c.name || c.phone) });
        const save = h('button', { type: 'button', class: 'secondary' }, 'Save tags');
        save.addEventListener('click', () => busy(save, out, async () => {
          Object.assign(c, await api.patch(wsPath('/contacts/' + c.id), { tags: splitTags(input.value) })); paint();
        }));
        acts.unshift(h('span', { class: 'row' }, input, save));
      }
      tr.replaceChildren(
        h('td', {}, c.name || ''), h('td', {}, c.phone || c.bsuid || ''),
        h('td', {}, (c.tags || []).map(t => h('span', { class: 'tag' }, t))),
        h('td', {}, c.opted_out ? 'Opted out' + (c.opt_out_source ? ' (' + c.opt_out_source + ')' : '') + ' ' + when(c.opted_out_at)
          : c.marketing_opted_out ? 'No marketing' : 'Subscribed'),
        h('td', {}, when(c.last_inbound_at)),
        h('td', {}, acts));
    };
    paint();
    return tr;
  }

  const filters = h('form', { class: 'row', onsubmit: e => { e.preventDefault(); load(); } },
    field('Search', h('input', { type: 'search', name: 'q', placeholder: 'Name or phone' })),
    field('Tag', h('input', { name: 'tag', size: 10 })),
    field('Opt-out', select('opted_out', [['', 'Any'], ['false', 'Subscribed'], ['true', 'Opted out']])),
    h('button', { type: 'submit' }, 'Search'));

  async function load(more) {
    await busy(null, out, async () => {
      if (!more) { pages = api.pager(wsPath('/contacts'), { ...formData(filters), limit: 50 }); body.replaceChildren(); }
      const rows = await pages.next();
      body.append(...rows.map(row));
      if (!body.children.length) body.append(h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No contacts.')));
      moreBtn.hidden = !pages.more;
    });
  }
  moreBtn.addEventListener('click', () => load(true));

  const parts = [h('h1', {}, 'Contacts'), filters, out,
    table(['Name', 'Phone', 'Tags', 'Opt-out', 'Last message', ''], body), moreBtn];

  if (can('contacts.create')) {
    const cOut = h('div');
    const btn = h('button', { type: 'submit' }, 'Add contact');
    const form = h('form', {
      onsubmit: e => {
        e.preventDefault();
        const d = formData(form);
        busy(btn, cOut, async () => {
          const c = await api.post(wsPath('/contacts'), { phone: d.phone, name: d.name || undefined, tags: splitTags(d.tags) });
          body.prepend(row(c)); form.reset();
        });
      },
    }, h('div', { class: 'row' },
      field('Phone', h('input', { name: 'phone', type: 'tel', required: true, placeholder: '+1 415 555 0100' })),
      field('Name', h('input', { name: 'name' })),
      field('Tags', h('input', { name: 'tags', placeholder: 'vip, spring' })), btn), cOut);
    parts.push(h('div', { class: 'card' }, h('h2', {}, 'Add a contact'), form));
  }
  if (can('contacts.import')) {
    const iOut = h('div');
    const file = h('input', { type: 'file', name: 'file', accept: '.csv,text/csv', required: true });
    const btn = h('button', { type: 'submit' }, 'Import');
    const form = h('form', {
      onsubmit: e => {
        e.preventDefault();
        busy(btn, iOut, async () => {
          const r = await api.request('POST', wsPath('/contacts/import'), file.files[0]);
          iOut.replaceChildren(h('p', { class: 'ok' }, `Accepted ${r.accepted}: ${r.created} created, ${r.updated} updated, ${r.rejected.length} rejected.`),
            r.rejected.length ? table(['Line', 'Reason'], r.rejected.map(x => h('tr', {}, h('td', {}, String(x.line)), h('td', {}, x.reason)))) : null);
          load();
        });
      },
    }, field('CSV file', file, 'A header row with phone and optionally name, tags (separated by ;) and other columns (attributes).'), btn, iOut);
    parts.push(h('div', { class: 'card' }, h('h2', {}, 'Import contacts'), form));
  }
  mount(root, parts);
  await load();
}
