// Templates: the list with status and quality, create, sync.
import { h, mount, field, busy, formData, when, select, status, table } from './dom.js';
import * as api from './api.js';
import { can, wsPath } from './app.js';

export async function templates(root) {
  const out = h('div');
  const body = h('tbody');
  const moreBtn = h('button', { type: 'button', class: 'secondary' }, 'Load more');
  let pages;
  const filters = h('form', { class: 'row', onsubmit: e => { e.preventDefault(); load(); } },
    field('Status', select('status', ['', 'APPROVED', 'PENDING', 'REJECTED', 'PAUSED', 'DISABLED'].map(s => [s, s || 'Any']))),
    field('Category', select('category', [['', 'Any'], 'MARKETING', 'UTILITY', 'AUTHENTICATION'])),
    field('Name', h('input', { name: 'name', size: 12 })), h('button', { type: 'submit' }, 'Filter'));

  const bodyText = t => ((t.components || []).find(c => (c.type || '').toUpperCase() === 'BODY') || {}).text || '';
  const row = t => h('tr', { 'data-name': t.name },
    h('td', {}, h('strong', {}, t.name)), h('td', {}, t.language), h('td', {}, t.category),
    h('td', {}, status(t.status), t.rejected_reason && t.rejected_reason !== 'NONE' ? h('div', { class: 'small' }, t.rejected_reason) : null),
    h('td', {}, t.quality_rating ? status(t.quality_rating) : ''), h('td', { class: 'small' }, bodyText(t)), h('td', {}, when(t.updated_at)));

  async function load(more) {
    await busy(null, out, async () => {
      if (!more) { pages = api.pager(wsPath('/templates'), { ...formData(filters), limit: 50 }); body.replaceChildren(); }
      body.append(...(await pages.next()).map(row));
      if (!body.children.length) body.append(h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'No templates.')));
      moreBtn.hidden = !pages.more;
    });
  }
  moreBtn.addEventListener('click', () => load(true));

  const parts = [h('h1', {}, 'Templates')];
  if (can('templates.manage')) {
    const sync = h('button', { type: 'button', class: 'secondary' }, 'Sync from Meta');
    sync.addEventListener('click', () => busy(sync, out, async () => {
      await api.post(wsPath('/templates/sync'));
      out.replaceChildren(h('p', { class: 'ok' }, 'Sync started: the list refreshes in a moment.'));
      setTimeout(() => load(), 1500);
    }));
    parts.push(h('p', {}, sync));
  }
  parts.push(filters, out, table(['Name', 'Language', 'Category', 'Status', 'Quality', 'Body', 'Updated'], body), moreBtn);

  if (can('templates.manage')) {
    const cOut = h('div');
    const btn = h('button', { type: 'submit' }, 'Submit for review');
    const form = h('form', {
      onsubmit: e => {
        e.preventDefault();
        const d = formData(form);
        const components = [];
        if (d.header) components.push({ type: 'HEADER', format: 'TEXT', text: d.header });
        const bodyC = { type: 'BODY', text: d.body };
        const examples = d.examples.split(',').map(s => s.trim()).filter(Boolean);
        if (examples.length) bodyC.example = { body_text: [examples] };
        components.push(bodyC);
        if (d.footer) components.push({ type: 'FOOTER', text: d.footer });
        busy(btn, cOut, async () => {
          const t = await api.post(wsPath('/templates'), { name: d.name, language: d.language, category: d.category, components });
          cOut.replaceChildren(h('p', { class: 'ok' }, `Submitted ${t.name}: ${t.status}.`));
          form.reset(); load();
        });
      },
    },
    h('div', { class: 'row' },
      field('Name', h('input', { name: 'name', required: true, pattern: '[a-z0-9_]+', placeholder: 'order_update' })),
      field('Language', h('input', { name: 'language', required: true, value: 'en_US', size: 6 })),
      field('Category', select('category', ['MARKETING', 'UTILITY', 'AUTHENTICATION'], 'UTILITY'))),
    field('Header (optional)', h('input', { name: 'header', maxlength: 60 })),
    field('Body', h('textarea', { name: 'body', required: true, maxlength: 1024 }), 'Variables are {{1}}, {{2}}… in order.'),
    field('Examples of the variables', h('input', { name: 'examples', placeholder: 'Ana, 1234' }), 'Comma-separated, one per variable; Meta requires them.'),
    field('Footer (optional)', h('input', { name: 'footer', maxlength: 60 })), btn, cOut);
    parts.push(h('div', { class: 'card' }, h('h2', {}, 'New template'), form));
  }
  mount(root, parts);
  await load();
  // Meta's review arrives as a webhook, not as a live event: look again while one is pending.
  const poll = setInterval(() => { if (body.querySelector('.status.PENDING')) load(); }, 2000);
  return () => clearInterval(poll);
}
