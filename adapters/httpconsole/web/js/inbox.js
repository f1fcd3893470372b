// The team inbox: conversations (views, status filter, search), a thread with delivery
// ticks, notes, assignment and status, and a composer that becomes a template picker when
// the 24-hour window is closed. Kept live by the event stream.
import { h, mount, field, busy, errorBox, when, select, status, download } from './dom.js';
import * as api from './api.js';
import { state, can, wsPath, onLive, go } from './app.js';
import { templatePicker } from './tplform.js';

const ticks = {
  queued: ['🕓', 'queued'], sent: ['✓', 'sent'], delivered: ['✓✓', 'delivered'], read: ['✓✓', 'read'], failed: ['!', 'failed'],
};

export function messageText(m) {
  const c = m.content || {};
  switch (m.type) {
    case 'text': return c.body || '';
    case 'template': return 'Template: ' + (c.name || '');
    case 'image': case 'video': case 'audio': case 'document': case 'sticker':
      return '[' + m.type + ']' + (c.caption ? ' ' + c.caption : '') + (c.filename ? ' ' + c.filename : '');
    case 'interactive': return (c.body && c.body.text) || (c.button_reply && c.button_reply.title) || (c.list_reply && c.list_reply.title) || '[interactive]';
    case 'button': return c.text || '[button]';
    case 'location': return '[location] ' + (c.name || '') + ' ' + (c.latitude ?? '') + ',' + (c.longitude ?? '');
    case 'reaction': return 'Reacted ' + (c.emoji || '');
    default: return '[' + m.type + ']';
  }
}

// mediaType is the message type that sends a file of this MIME type.
function mediaType(mime) {
  if (mime === 'image/webp') return 'sticker';
  const top = (mime || '').split('/')[0];
  return ['image', 'video', 'audio'].includes(top) ? top : 'document';
}

function tickMark(m) {
  if (m.direction !== 'outbound') return null;
  const [mark, label] = ticks[m.status] || ['', m.status];
  return h('span', { class: 'ticks ' + m.status, title: label, 'aria-label': label, 'data-ticks': m.status }, mark);
}

// mediaButton fetches a stored attachment with the bearer token (a plain link could not
// carry it): images are shown, other files downloaded.
function mediaButton(media) {
  if (media.status !== 'stored') return h('div', { class: 'small muted' }, 'Attachment ' + (media.status || ''));
  const b = h('button', { type: 'button', class: 'link' }, 'Show attachment (' + (media.mime_type || 'file') + ')');
  b.addEventListener('click', () => busy(b, null, async () => {
    const res = await api.request('GET', wsPath('/media/' + media.id + '/content'), undefined, { raw: true });
    const blob = await res.blob();
    if (/^image\/(jpeg|png|webp|gif)$/.test(blob.type)) {
      b.replaceWith(h('img', { src: URL.createObjectURL(blob), alt: 'Image from the conversation', class: 'attachment' }));
    } else download(blob, 'attachment');
  }));
  return h('div', {}, b);
}

export async function inbox(root, [convID]) {
  const me = state.me.user;
  const contacts = new Map();
  let members = new Map([[me.id, me.name + ' (you)']]);
  if (can('members.read')) {
    try { for (const m of (await api.get(wsPath('/members'))).data) members.set(m.user_id, m.user_id === me.id ? m.name + ' (you)' : m.name); } catch { /* names only */ }
  }
  const who = id => id ? (members.get(id) || 'a teammate') : 'nobody';
  async function contactOf(id) {
    if (!contacts.has(id)) contacts.set(id, api.get(wsPath('/contacts/' + id)).catch(() => ({ id })));
    return contacts.get(id);
  }
  const label = c => c.name || c.phone || c.bsuid || 'Customer';

  const f = { view: 'all', status: 'open', q: '' };
  const listEl = h('ul', { 'aria-label': 'Conversations' });
  const listOut = h('div');
  const moreBtn = h('button', { type: 'button', class: 'secondary' }, 'Load more');
  let pages = null, rows = [];

  async function renderRow(c) {
    const ct = await contactOf(c.contact_id);
    return h('li', {}, h('button', {
      type: 'button', class: 'conv', 'data-id': c.id, 'aria-current': c.id === convID ? 'true' : null,
      onclick: () => go('#/inbox/' + c.id),
    }, h('span', { class: 'name' }, h('span', {}, label(ct)),
      h('span', {}, c.unread_count ? h('span', { class: 'badge', 'aria-label': c.unread_count + ' unread' }, String(c.unread_count)) : null,
        ' ', h('span', { class: 'muted small' }, when(c.last_message_at, true)))),
    h('span', { class: 'preview' }, c.last_message_preview || ''),
    h('span', { class: 'muted small' }, c.status + ' · ' + who(c.assigned_to))));
  }
  async function loadList(more) {
    await busy(null, listOut, async () => {
      if (!more) { pages = api.pager(wsPath('/conversations'), { view: f.view, status: f.status, q: f.q, limit: 30 }); rows = []; }
      rows = rows.concat(await pages.next());
      const items = await Promise.all(rows.map(renderRow));
      listEl.replaceChildren(...(items.length ? items : [h('li', { class: 'empty' }, 'No conversations here.')]));
      moreBtn.hidden = !pages.more;
    });
  }
  moreBtn.addEventListener('click', () => loadList(true));

  const viewBtns = ['mine', 'unassigned', 'all'].map(v => h('button', {
    type: 'button', 'aria-pressed': String(v === f.view), 'data-view': v,
    onclick: e => { f.view = v; viewBtns.forEach(b => b.setAttribute('aria-pressed', String(b === e.currentTarget))); loadList(); },
  }, v[0].toUpperCase() + v.slice(1)));
  const statusSel = select('status', [['open', 'Open'], ['pending', 'Pending'], ['resolved', 'Resolved'], ['', 'Any status']], f.status);
  statusSel.addEventListener('change', () => { f.status = statusSel.value; loadList(); });
  const search = h('input', { type: 'search', name: 'q', placeholder: 'Name, phone or text' });
  let searchTimer;
  search.addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => { f.q = search.value.trim(); loadList(); }, 300); });

  const list = h('section', { class: 'list', 'aria-label': 'Conversation list' },
    h('div', { class: 'filters' },
      h('div', { class: 'tabs', role: 'group', 'aria-label': 'View' }, viewBtns),
      h('div', { class: 'row' }, field('Status', statusSel), field('Search', search))),
    listOut, listEl, h('div', { class: 'filters' }, moreBtn));

  const thread = h('section', { class: 'thread', 'aria-label': 'Conversation' });
  const layout = h('div', { class: 'inbox' + (convID ? ' has-thread' : '') }, list, thread);
  mount(root, layout);

  // ---- the thread ----
  const t = { conv: null, contact: null, msgs: null, composerFor: null, older: [], olderCursor: undefined };
  const olderBtn = h('button', { type: 'button', class: 'link' }, 'Load older messages');
  olderBtn.addEventListener('click', () => busy(olderBtn, threadOut, async () => {
    const page = await api.get(wsPath('/conversations/' + convID + '/messages') + api.qs({ limit: 50, cursor: t.olderCursor }));
    t.older = t.older.concat(page.data);
    t.olderCursor = page.next_cursor;
    const top = msgsEl.scrollHeight - msgsEl.scrollTop;
    await loadThread();
    msgsEl.scrollTop = msgsEl.scrollHeight - top;
  }));
  const head = h('div', { class: 'head' });
  const msgsEl = h('div', { class: 'messages', role: 'log', 'aria-label': 'Messages', tabindex: '0' });
  const threadOut = h('div');
  const composer = h('div', { class: 'composer' });

  async function loadThread() {
    await busy(null, threadOut, async () => {
      const base = wsPath('/conversations/' + convID);
      const [conv, page, notes] = await Promise.all([api.get(base), api.get(base + '/messages?limit=50'),
        api.get(base + '/notes').catch(() => ({ data: [] }))]);
      t.conv = conv; t.contact = await contactOf(conv.contact_id);
      renderHead();
      if (t.olderCursor === undefined) t.olderCursor = page.next_cursor;
      const seen = new Set(page.data.map(m => m.id));
      const msgs = page.data.concat(t.older.filter(m => !seen.has(m.id)));
      const items = [...msgs.map(m => ({ at: m.created_at, m })), ...(notes.data || []).map(n => ({ at: n.created_at, n }))]
        .sort((a, b) => a.at < b.at ? -1 : a.at > b.at ? 1 : 0);
      const stick = msgsEl.scrollHeight - msgsEl.scrollTop - msgsEl.clientHeight < 40;
      msgsEl.replaceChildren(...items.map(({ m, n }) => m
        ? h('div', { class: 'msg ' + m.direction, 'data-id': m.id, 'data-status': m.status },
          messageText(m), m.media ? mediaButton(m.media) : null,
          m.error ? h('div', { class: 'small error' }, 'Not delivered: ' + (m.error.title || m.error.detail || m.error.code)) : null,
          h('div', { class: 'meta' }, when(m.created_at, true), tickMark(m)))
        : h('div', { class: 'msg note', 'data-note': n.id }, h('strong', {}, 'Note by ' + who(n.author_id) + ': '), n.body,
          h('div', { class: 'meta' }, when(n.created_at, true)))));
      if (!items.length) msgsEl.append(h('div', { class: 'empty' }, 'No messages yet.'));
      if (t.olderCursor) msgsEl.prepend(h('div', { class: 'empty' }, olderBtn));
      if (stick || !t.msgs) msgsEl.scrollTop = msgsEl.scrollHeight;
      t.msgs = page.data;
      if (t.composerFor !== conv.can_send_freeform) renderComposer();
      if (conv.unread_count > 0 && can('conversations.reply')) api.post(base + '/read').catch(() => {});
    });
  }

  function renderHead() {
    const c = t.conv;
    const actions = [];
    const act = (label, fn) => {
      const b = h('button', { type: 'button', class: 'secondary' }, label);
      b.addEventListener('click', () => busy(b, threadOut, async () => { await fn(); await loadThread(); loadList(); }));
      return b;
    };
    if (can('conversations.assign') && members.size > 1) {
      const sel = select('assignee', [['', 'Unassigned'], ...[...members].map(([id, n]) => [id, n])], c.assigned_to || '');
      sel.addEventListener('change', () => busy(sel, threadOut, async () => {
        await api.post(wsPath('/conversations/' + c.id + '/assign'), { user_id: sel.value || null }); await loadThread(); loadList();
      }));
      actions.push(field('Assigned to', sel));
    } else if (can('conversations.take') && !c.assigned_to) {
      actions.push(act('Take', () => api.post(wsPath('/conversations/' + c.id + '/assign'), { user_id: me.id })));
    }
    if (can('conversations.close')) {
      if (c.status !== 'resolved') actions.push(act('Resolve', () => api.post(wsPath('/conversations/' + c.id + '/status'), { status: 'resolved' })));
      else actions.push(act('Reopen', () => api.post(wsPath('/conversations/' + c.id + '/status'), { status: 'open' })));
      if (c.status === 'open') actions.push(act('Mark pending', () => api.post(wsPath('/conversations/' + c.id + '/status'), { status: 'pending' })));
    }
    const ct = t.contact;
    head.replaceChildren(
      h('a', { href: '#/inbox', class: 'back' }, '← Conversations'),
      h('div', { class: 'who' }, h('strong', { 'data-contact': '' }, label(ct)), ' ',
        h('span', { class: 'muted small' }, [ct.phone, ct.opted_out ? 'opted out' : null].filter(Boolean).join(' · ')), h('br'),
        status(c.status), ' ', h('span', { class: 'small muted' }, 'Assigned to ' + who(c.assigned_to) +
          (c.service_window_expires_at ? ' · window ' + (c.can_send_freeform ? 'open until ' + when(c.service_window_expires_at, true) : 'closed') : ''))),
      ...actions);
  }

  function renderComposer() {
    const c = t.conv;
    t.composerFor = c.can_send_freeform;
    const out = h('div');
    const parts = [out];
    const sendMsg = body => api.request('POST', wsPath('/messages'), { to: c.contact_id, phone_number_id: c.phone_number_id, ...body },
      { headers: { 'Idempotency-Key': crypto.randomUUID() } });
    if (can('messages.send')) {
      if (c.can_send_freeform) {
        const text = h('textarea', { name: 'body', required: true, rows: 2, maxlength: 4096 });
        const btn = h('button', { type: 'submit', 'data-action': 'send' }, 'Send');
        // An attachment: uploaded when sent, then sent by our media id with the text as caption.
        const file = h('input', { type: 'file', name: 'file', class: 'sr-only', tabindex: '-1', 'aria-hidden': 'true' });
        const chosen = h('span', { class: 'small muted', 'data-file': '' });
        const attach = h('button', { type: 'button', class: 'secondary', 'data-action': 'attach' }, 'Attach');
        const drop = h('button', { type: 'button', class: 'link', hidden: true }, 'Remove');
        const paint = () => {
          const f = file.files[0];
          chosen.textContent = f ? f.name + ' (' + Math.ceil(f.size / 1024) + ' KB)' : '';
          drop.hidden = !f;
          text.required = !f;
        };
        attach.addEventListener('click', () => file.click());
        file.addEventListener('change', paint);
        drop.addEventListener('click', () => { file.value = ''; paint(); });
        const form = h('form', {
          onsubmit: e => {
            e.preventDefault();
            busy(btn, out, async () => {
              const f = file.files[0];
              if (f) {
                const fd = new FormData(); // the number before the file: the server streams the file
                fd.append('phone_number_id', c.phone_number_id);
                fd.append('file', f);
                const m = await api.post(wsPath('/media'), fd);
                const type = mediaType(m.mime_type);
                const obj = { media_id: m.id };
                if (text.value && type !== 'audio' && type !== 'sticker') obj.caption = text.value;
                if (type === 'document') obj.filename = m.filename || f.name;
                await sendMsg({ type, [type]: obj });
                file.value = ''; paint();
              } else await sendMsg({ type: 'text', text: { body: text.value } });
              text.value = ''; await loadThread();
            });
          },
        }, h('div', { class: 'row' }, h('div', { class: 'field' }, h('label', { for: 'reply' }, 'Reply'), text), btn),
        can('media.upload') ? h('div', { class: 'row attach' }, file, attach, chosen, drop) : null);
        text.id = 'reply';
        text.addEventListener('keydown', e => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) form.requestSubmit(); });
        parts.push(form);
      } else {
        const wrap = h('div', {}, h('p', { class: 'muted small' }, 'The 24-hour window is closed: only a template can be sent.'));
        parts.push(wrap);
        api.get(wsPath('/templates?status=APPROVED&limit=200')).then(list => {
          const picker = templatePicker(list.data);
          const btn = h('button', { type: 'submit', 'data-action': 'send-template' }, 'Send template');
          wrap.append(h('form', {
            onsubmit: e => {
              e.preventDefault();
              const tpl = picker.value();
              if (!tpl) { out.replaceChildren(errorBox(new Error('Choose a template.'))); return; }
              busy(btn, out, async () => { await sendMsg({ type: 'template', template: tpl }); await loadThread(); });
            },
          }, picker.el, btn));
        }, e => wrap.append(errorBox(e)));
      }
    }
    if (can('notes.create')) {
      const note = h('input', { name: 'note', required: true, maxlength: 4000 });
      const btn = h('button', { type: 'submit', class: 'secondary' }, 'Add note');
      parts.push(h('form', {
        onsubmit: e => {
          e.preventDefault();
          busy(btn, out, async () => { await api.post(wsPath('/conversations/' + c.id + '/notes'), { body: note.value }); note.value = ''; await loadThread(); });
        },
      }, h('div', { class: 'row' }, field('Internal note (never sent)', note), btn)));
    }
    composer.replaceChildren(...parts);
  }

  if (convID) {
    thread.append(head, threadOut, msgsEl, composer);
    loadThread();
  } else {
    thread.append(h('div', { class: 'empty' }, 'Choose a conversation.'));
  }
  loadList();

  // Live: reload what an event touches, a little after a burst.
  let listTimer, threadTimer;
  const off = onLive((name, data) => {
    clearTimeout(listTimer);
    listTimer = setTimeout(() => loadList(), 200);
    if (convID && (data.conversation_id === convID || (t.conv && data.contact_id === t.conv.contact_id))) {
      if (name === 'contact.updated') contacts.delete(t.conv.contact_id);
      clearTimeout(threadTimer);
      threadTimer = setTimeout(loadThread, 120);
    }
  });
  return () => { off(); clearTimeout(listTimer); clearTimeout(threadTimer); clearTimeout(searchTimer); };
}
