// Campaigns: create from a template and an audience, cost estimate, launch, pause, live
// stats, recipients with errors, export.
import { h, mount, field, busy, when, select, status, table, money, download, errorBox } from './dom.js';
import * as api from './api.js';
import { can, wsPath, onLive, go } from './app.js';
import { templatePicker } from './tplform.js';

const statNames = ['recipients', 'pending', 'sent', 'delivered', 'read', 'replied', 'failed', 'skipped', 'retry_scheduled'];

export function campaigns(root, [id]) { return id ? detail(root, id) : list(root); }

async function list(root) {
  const out = h('div');
  const body = h('tbody');
  const moreBtn = h('button', { type: 'button', class: 'secondary' }, 'Load more');
  let pages;
  const row = c => h('tr', {},
    h('td', {}, h('a', { href: '#/campaigns/' + c.id }, c.name)), h('td', {}, status(c.status)),
    h('td', {}, c.template.name), h('td', {}, `${c.stats.sent} sent · ${c.stats.delivered} delivered · ${c.stats.read} read · ${c.stats.failed} failed`),
    h('td', {}, String(c.stats.recipients)), h('td', {}, when(c.created_at)));
  async function load(more) {
    await busy(null, out, async () => {
      if (!more) { pages = api.pager(wsPath('/campaigns'), { limit: 50 }); body.replaceChildren(); }
      body.append(...(await pages.next()).map(row));
      if (!body.children.length) body.append(h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No campaigns yet.')));
      moreBtn.hidden = !pages.more;
    });
  }
  moreBtn.addEventListener('click', () => load(true));
  const parts = [h('h1', {}, 'Campaigns'), out, table(['Name', 'Status', 'Template', 'Progress', 'Recipients', 'Created'], body), moreBtn];
  if (can('campaigns.manage')) parts.push(await newCampaign());
  mount(root, parts);
  await load();
  let timer;
  const off = onLive(name => { if (name === 'campaign.updated') { clearTimeout(timer); timer = setTimeout(() => load(), 300); } });
  return () => { off(); clearTimeout(timer); };
}

async function newCampaign() {
  const out = h('div');
  const [nums, tpls] = await Promise.all([api.get(wsPath('/whatsapp/phone-numbers')), api.get(wsPath('/templates?status=APPROVED&limit=200'))]);
  const connected = nums.data.filter(n => n.status === 'connected');
  if (!connected.length) return h('div', { class: 'card' }, h('h2', {}, 'New campaign'), h('p', {}, 'Connect a number first: ', h('a', { href: '#/connect' }, 'Numbers'), '.'));
  const picker = templatePicker(tpls.data, 'Text, or a contact field such as {{contact.name|there}}.');
  const number = select('phone_number_id', connected.map(n => [n.phone_number_id, n.display_phone_number || n.phone_number_id]));
  const audience = select('audience', [['all', 'All contacts'], ['tags', 'Contacts with tags']], 'all');
  const tags = h('input', { name: 'tags', placeholder: 'vip, spring' });
  const tagsField = field('Tags', tags, 'Comma-separated: contacts with any of them.');
  tagsField.hidden = true;
  audience.addEventListener('change', () => { tagsField.hidden = audience.value !== 'tags'; });
  const estimateOut = h('div');
  const name = h('input', { name: 'name', required: true });
  const value = () => {
    const tpl = picker.value();
    if (!tpl) throw new Error('Choose a template.');
    const aud = audience.value === 'all' ? { all: true } : { tags: tags.value.split(',').map(s => s.trim()).filter(Boolean) };
    return { name: name.value, phone_number_id: number.value, template: { name: tpl.name, language: tpl.language.code, components: tpl.components }, audience: aud };
  };
  const estBtn = h('button', { type: 'button', class: 'secondary' }, 'Estimate cost');
  estBtn.addEventListener('click', () => busy(estBtn, estimateOut, async () => {
    const v = value();
    const e = await api.post(wsPath('/billing/estimate'), { template: { name: v.template.name, language: v.template.language }, audience: v.audience });
    estimateOut.replaceChildren(h('p', { class: 'ok' }, 'Estimated cost: ' + money(e) + ' (' +
      e.by_market.reduce((n, m) => n + m.messages, 0) + ' messages' + (e.by_market.length ? ': ' + e.by_market.map(m => m.market + ' ' + m.messages).join(', ') : '') + ')'));
  }));
  const btn = h('button', { type: 'submit' }, 'Create draft');
  const form = h('form', {
    onsubmit: e => {
      e.preventDefault();
      busy(btn, out, async () => { const c = await api.post(wsPath('/campaigns'), value()); go('#/campaigns/' + c.id); });
    },
  }, h('div', { class: 'row' }, field('Name', name), field('From number', number)), picker.el,
  h('div', { class: 'row' }, field('Audience', audience), tagsField), estimateOut, out, h('div', { class: 'row' }, estBtn, btn));
  return h('div', { class: 'card' }, h('h2', {}, 'New campaign'), form);
}

async function detail(root, id) {
  const base = wsPath('/campaigns/' + id);
  const out = h('div');
  const head = h('div');
  const statsEl = h('div', { class: 'stats' });
  const actions = h('div', { class: 'row' });
  const rBody = h('tbody');
  const moreBtn = h('button', { type: 'button', class: 'secondary' }, 'Load more');
  const rFilter = select('status', [['', 'Any'], 'pending', 'sent', 'delivered', 'read', 'replied', 'failed', 'skipped', 'retry_scheduled'].map(s => Array.isArray(s) ? s : [s, s]));
  let pages, c;

  const act = (label, path, body, cls) => {
    const b = h('button', { type: 'button', class: cls || '' }, label);
    b.addEventListener('click', () => busy(b, out, async () => {
      try { await api.post(base + path, body); }
      catch (e) {
        if (e.code !== 'capacity_exceeded') throw e;
        out.replaceChildren(errorBox(e), act('Launch with split (send up to the limit now, the rest as it frees)', '/launch', { split: true }));
        return;
      }
      await loadCampaign();
    }));
    return b;
  };

  async function loadCampaign() {
    c = await api.get(base);
    head.replaceChildren(h('h1', {}, c.name), h('p', {}, status(c.status),
      c.pause_reason ? ' paused: ' + c.pause_reason.replaceAll('_', ' ') : '', ' · template ', h('strong', {}, c.template.name),
      ' · ' + (c.audience.all ? 'all contacts' : c.audience.tags && c.audience.tags.length ? 'tags ' + c.audience.tags.join(', ') : 'chosen contacts'),
      c.estimated_cost ? ' · estimated ' + money(c.estimated_cost) : '',
      c.started_at ? ' · started ' + when(c.started_at) : '', c.completed_at ? ' · completed ' + when(c.completed_at) : ''));
    statsEl.replaceChildren(...statNames.map(k => h('div', { class: 'stat', 'data-stat': k }, h('b', {}, String(c.stats[k] ?? 0)), k.replace('_', ' '))));
    const a = [];
    if (can('campaigns.launch')) {
      if (c.status === 'draft' || c.status === 'scheduled') a.push(act('Launch', '/launch', {}));
      if (c.status === 'running') a.push(act('Pause', '/pause', undefined, 'secondary'));
      if (c.status === 'paused') a.push(act('Resume', '/resume'));
    }
    if (can('campaigns.manage') && ['draft', 'scheduled', 'running', 'paused'].includes(c.status)) a.push(act('Cancel', '/cancel', undefined, 'danger'));
    const exp = h('button', { type: 'button', class: 'secondary' }, 'Export recipients (CSV)');
    exp.addEventListener('click', () => busy(exp, out, async () => {
      const res = await api.request('GET', base + '/recipients/export', undefined, { raw: true });
      download(await res.blob(), 'campaign-' + c.name.replace(/\W+/g, '_') + '-recipients.csv');
    }));
    a.push(exp);
    actions.replaceChildren(...a);
  }
  const rRow = r => h('tr', {}, h('td', {}, r.phone || r.contact_id), h('td', {}, status(r.status)),
    h('td', {}, r.error ? `${r.error.code} ${r.error.title}` : (r.reason || '')), h('td', {}, String(r.attempts)), h('td', {}, when(r.updated_at)));
  async function loadRecipients(more) {
    if (!more) { pages = api.pager(base + '/recipients', { status: rFilter.value, limit: 50 }); rBody.replaceChildren(); }
    rBody.append(...(await pages.next()).map(rRow));
    if (!rBody.children.length) rBody.append(h('tr', {}, h('td', { colspan: 5, class: 'empty' }, 'No recipients yet.')));
    moreBtn.hidden = !pages.more;
  }
  const refresh = () => busy(null, out, async () => { await loadCampaign(); await loadRecipients(); });
  moreBtn.addEventListener('click', () => busy(moreBtn, out, () => loadRecipients(true)));
  rFilter.addEventListener('change', () => busy(null, out, () => loadRecipients()));

  const parts = [h('p', {}, h('a', { href: '#/campaigns' }, '← Campaigns')), head, out, statsEl, actions];
  if (can('campaigns.manage')) {
    const upOut = h('div');
    const file = h('input', { type: 'file', accept: '.csv,text/csv', required: true });
    const up = h('button', { type: 'submit', class: 'secondary' }, 'Upload');
    parts.push(h('details', {}, h('summary', {}, 'Add recipients from a CSV'), h('form', {
      onsubmit: e => {
        e.preventDefault();
        busy(up, upOut, async () => {
          const r = await api.request('POST', base + '/recipients', file.files[0]);
          upOut.replaceChildren(h('p', { class: 'ok' }, `Accepted ${r.accepted}, rejected ${r.rejected.length}.`));
          refresh();
        });
      },
    }, field('CSV file (phone, name, other columns)', file), up, upOut)));
  }
  parts.push(h('h2', {}, 'Recipients'), h('div', { class: 'row' }, field('Status', rFilter)),
    table(['Phone', 'Status', 'Error or reason', 'Attempts', 'Updated'], rBody), moreBtn);
  mount(root, parts);
  await refresh();
  let timer;
  const off = onLive((name, data) => {
    if (name === 'campaign.updated' && (!data.campaign_id || data.campaign_id === id)) { clearTimeout(timer); timer = setTimeout(refresh, 250); }
  });
  // Stats also move with message statuses after the last send: look every 2 s while it
  // runs, and every 4 s for a day after it completed (deliveries and reads keep coming).
  let ticks = 0;
  const poll = setInterval(() => {
    if (!c) return;
    ticks++;
    if (c.status === 'running' || c.status === 'scheduled') refresh();
    else if (c.status === 'completed' && ticks % 2 === 0 && Date.now() - new Date(c.completed_at) < 86400000) refresh();
  }, 2000);
  return () => { off(); clearTimeout(timer); clearInterval(poll); };
}
