// Settings › Webhooks: the workspace's endpoints (API.md "Outbound webhooks"), the signing
// secret shown once, enable/disable, rotate, a test ping, and each endpoint's delivery log
// with its status filter, paging and retry. Viewers read; owners and managers change.
import { h, mount, field, busy, select, status, table, when } from './dom.js';
import * as api from './api.js';
import { can, wsPath } from './app.js';

export const hookEvents = ['message.received', 'message.sent', 'message.delivered', 'message.read', 'message.failed',
  'contact.opted_out', 'contact.opted_in', 'conversation.assigned', 'conversation.resolved', 'template.status_changed',
  'campaign.completed'];

// secretBox shows a secret once, with a button that copies it.
export function secretBox(intro, secret) {
  const value = h('p', { class: 'secret', 'data-secret': '' }, secret);
  const copy = h('button', { type: 'button', class: 'secondary' }, 'Copy');
  copy.addEventListener('click', async () => {
    try { await navigator.clipboard.writeText(secret); copy.textContent = 'Copied'; } catch {
      // No clipboard (an insecure origin): select the text for the person to copy.
      getSelection().selectAllChildren(value); copy.textContent = 'Selected: press Ctrl+C';
    }
  });
  return h('div', { class: 'ok', role: 'status' }, h('p', {}, intro), value, copy);
}

export async function webhooks(el) {
  const manage = can('webhooks.manage');
  const out = h('div');
  const body = h('tbody');
  const deliveries = h('div', { class: 'deliveries' });
  let shown = null; // the endpoint whose deliveries are open: {id, reload}

  const load = async () => {
    const list = (await api.get(wsPath('/webhook-endpoints'))).data || [];
    body.replaceChildren(...list.map(w => {
      const btn = (label, fn, cls) => {
        const b = h('button', { type: 'button', class: cls || 'secondary', 'data-action': label.toLowerCase().replace(/\W+/g, '-') }, label);
        b.addEventListener('click', () => busy(b, out, fn));
        return b;
      };
      const acts = [btn('Deliveries', () => showDeliveries(w))];
      if (manage) {
        acts.push(
          btn(w.enabled ? 'Disable' : 'Enable', async () => {
            await api.patch(wsPath('/webhook-endpoints/' + w.id), { enabled: !w.enabled });
            out.replaceChildren(h('p', { class: 'ok' }, w.enabled ? 'Disabled: events wait until it is enabled again.' : 'Enabled: waiting deliveries go out now.'));
            await load();
          }),
          btn('Send test', async () => {
            await api.post(wsPath('/webhook-endpoints/' + w.id + '/test'));
            out.replaceChildren(h('p', { class: 'ok' }, 'A ping is on its way to ' + w.url + '.'));
            await showDeliveries(w, true);
          }),
          btn('Rotate secret', async () => {
            if (!confirm('Rotate the signing secret of ' + w.url + '? The old one keeps signing for 24 hours.')) return;
            const r = await api.post(wsPath('/webhook-endpoints/' + w.id + '/rotate-secret'));
            out.replaceChildren(secretBox('The new signing secret, shown only now: copy it to your receiver. The old one also signs for 24 hours more.', r.secret));
          }),
          btn('Delete', async () => {
            if (!confirm('Delete the endpoint ' + w.url + ' and its delivery log?')) return;
            await api.del(wsPath('/webhook-endpoints/' + w.id));
            if (shown && shown.id === w.id) { deliveries.replaceChildren(); shown = null; }
            out.replaceChildren(h('p', { class: 'ok' }, 'Deleted.'));
            await load();
          }, 'danger'));
      }
      const state = w.enabled
        ? [status(w.failing_since ? 'failing' : 'enabled'), w.failing_since ? h('div', { class: 'small muted' }, 'failing since ' + when(w.failing_since)) : null]
        : [status('disabled'), w.disabled_at ? h('div', { class: 'small muted' }, 'since ' + when(w.disabled_at)) : null];
      return h('tr', { 'data-id': w.id }, h('td', { class: 'wrap' }, w.url, w.description ? h('div', { class: 'small muted' }, w.description) : null),
        h('td', { class: 'small' }, (w.events || []).join(', ')), h('td', {}, state), h('td', {}, h('div', { class: 'row' }, acts)));
    }));
    if (!list.length) body.append(h('tr', {}, h('td', { colspan: 4, class: 'empty' }, 'No endpoints yet.')));
  };

  async function showDeliveries(w, watch) {
    const dOut = h('div');
    const dBody = h('tbody');
    const more = h('button', { type: 'button', class: 'secondary' }, 'Load more');
    const refresh = h('button', { type: 'button', class: 'secondary' }, 'Refresh');
    const filter = select('status', [['', 'Any status'], 'pending', 'succeeded', 'failed', 'dead']);
    let pages;
    const row = d => {
      const resp = d.response_status ? String(d.response_status) + (d.duration_ms != null ? ' in ' + d.duration_ms + ' ms' : '') : '';
      const cells = [h('td', {}, when(d.created_at)), h('td', {}, d.event_type), h('td', {}, status(d.status)), h('td', {}, String(d.attempts)),
        h('td', {}, resp), h('td', { class: 'small wrap' }, d.error || '', d.next_attempt_at ? h('div', { class: 'muted' }, 'next try ' + when(d.next_attempt_at)) : null)];
      if (manage && d.status !== 'succeeded') {
        const r = h('button', { type: 'button', class: 'secondary' }, 'Retry');
        r.addEventListener('click', () => busy(r, dOut, async () => {
          await api.post(wsPath('/webhook-deliveries/' + d.id + '/retry'));
          r.disabled = true; r.textContent = 'Queued';
          setTimeout(() => loadD().catch(() => {}), 1500);
        }));
        cells.push(h('td', {}, r));
      } else cells.push(h('td'));
      return h('tr', { 'data-delivery': d.id, 'data-status': d.status }, cells);
    };
    const loadD = async next => {
      if (!next) pages = api.pager(wsPath('/webhook-endpoints/' + w.id + '/deliveries'), { status: filter.value, limit: 25 });
      const rows = (await pages.next()).map(row);
      if (next) dBody.append(...rows);
      else dBody.replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'No deliveries.'))]));
      more.hidden = !pages.more;
      return rows;
    };
    more.addEventListener('click', () => busy(more, dOut, () => loadD(true)));
    refresh.addEventListener('click', () => busy(refresh, dOut, () => loadD()));
    filter.addEventListener('change', () => busy(filter, dOut, () => loadD()));
    mount(deliveries, h('div', { class: 'card' }, h('h2', {}, 'Deliveries to ' + w.url),
      h('div', { class: 'row' }, field('Status', filter), refresh), dOut,
      table(['When', 'Event', 'Status', 'Attempts', 'Response', 'Error', ''], dBody), more));
    shown = { id: w.id };
    await loadD();
    // After a test ping: follow it until it is no longer pending (a few seconds at most).
    if (watch) {
      const me = shown;
      for (let i = 0; i < 15 && shown === me && dBody.querySelector('tr[data-status=pending]'); i++) {
        await new Promise(r => setTimeout(r, 1000));
        if (shown === me && !filter.value) await loadD().catch(() => {});
      }
    }
  }

  const parts = [out, table(['URL', 'Events', 'State', ''], body), deliveries];
  if (manage) {
    const cOut = h('div');
    const btn = h('button', { type: 'submit' }, 'Add endpoint');
    const all = h('input', { type: 'checkbox', name: 'all', checked: true });
    const boxes = hookEvents.map(e => h('input', { type: 'checkbox', name: 'event', value: e }));
    const pick = h('div', { class: 'events' }, boxes.map(b => h('label', { class: 'inline' }, b, b.value)));
    const sync = () => { pick.hidden = all.checked; };
    all.addEventListener('change', sync);
    const url = h('input', { name: 'url', type: 'url', required: true, placeholder: 'https://example.com/hooks/whatsapp', size: 40 });
    const desc = h('input', { name: 'description', maxlength: 500 });
    const form = h('form', {
      onsubmit: e => {
        e.preventDefault();
        const events = all.checked ? ['*'] : boxes.filter(b => b.checked).map(b => b.value);
        busy(btn, cOut, async () => {
          const w = await api.post(wsPath('/webhook-endpoints'), { url: url.value, description: desc.value || undefined, events });
          cOut.replaceChildren(secretBox('Copy the signing secret now: it is shown only once. Your receiver checks each request\'s webhook-signature with it.', w.secret));
          form.reset(); sync(); await load();
        });
      },
    }, field('URL', url, 'https only; the server refuses private and loopback addresses unless its operator allows them.'),
    h('fieldset', {}, h('legend', {}, 'Events'), h('label', { class: 'inline' }, all, 'All events (a test ping is always sent)'), pick),
    field('Description', desc), btn, cOut);
    sync();
    parts.push(h('div', { class: 'card' }, h('h2', {}, 'New endpoint'), form));
  }
  mount(el, parts);
  await load();
}
