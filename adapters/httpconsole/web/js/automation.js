// Settings › Automation and Working hours (API.md "Automation"): the away and welcome
// messages, keyword rules with their actions and a dry-run tester, and the workspace's
// working hours. Viewers read (and may try a message); owners and managers change.
import { h, mount, field, busy, select, table, errorBox } from './dom.js';
import * as api from './api.js';
import { can, wsPath } from './app.js';
import { templatePicker } from './tplform.js';

const split = v => v.split(',').map(s => s.trim()).filter(Boolean);

export async function automation(el) {
  const manage = can('automation.manage');
  const autoCards = [['away', 'Away message', 'Sent outside working hours, at most once per conversation per 12 hours. It needs working hours.'],
    ['welcome', 'Welcome message', "Sent to a contact's first message ever."]].map(([kind, title, hint]) => {
    const out = h('div');
    const card = h('div', { class: 'card', 'data-auto': kind }, h('h2', {}, title), h('p', { class: 'muted small' }, hint), out);
    return { kind, card, out };
  });
  const rOut = h('div');
  const rBody = h('tbody');
  const rulesCard = h('div', { class: 'card' }, h('h2', {}, 'Keyword rules'),
    h('p', { class: 'muted small' }, 'Tried in this order (higher priority first) on each customer message; the first that matches runs its actions.'),
    rOut, table(['Name', 'Matches', 'Actions', 'Priority', 'State', ''], rBody));
  mount(el, autoCards.map(a => a.card), rulesCard);

  // Names for the actions: members (assign) and approved templates (reply_template).
  const members = new Map();
  let templates = [];
  const extras = manage ? Promise.all([
    api.get(wsPath('/members')).then(r => { for (const m of r.data) members.set(m.user_id, m.name); }).catch(() => {}),
    api.get(wsPath('/templates?status=APPROVED&limit=200')).then(r => { templates = r.data || []; }).catch(() => {}),
  ]) : Promise.resolve();

  const autoLoads = autoCards.map(async ({ kind, card, out }) => {
    try {
      const cur = await api.get(wsPath('/automation/' + kind));
      const enabled = h('input', { type: 'checkbox', name: 'enabled', checked: !!cur.enabled, disabled: !manage });
      const text = h('textarea', { name: 'text', value: cur.text || '', disabled: !manage, maxlength: 4096 });
      card.append(h('label', { class: 'inline' }, enabled, 'Enabled'), field('Text', text));
      if (manage) {
        const save = h('button', { type: 'button' }, 'Save');
        save.addEventListener('click', () => busy(save, out, async () => {
          const r = await api.put(wsPath('/automation/' + kind), { enabled: enabled.checked, text: text.value });
          enabled.checked = r.enabled; text.value = r.text;
          out.replaceChildren(h('p', { class: 'ok' }, 'Saved.'));
        }));
        card.append(save);
      }
    } catch (e) { out.replaceChildren(errorBox(e)); }
  });

  let rules = [];
  const describe = a => {
    switch (a.type) {
      case 'reply_text': return 'reply “' + a.text + '”';
      case 'reply_template': return 'reply with template ' + ((a.template && a.template.name) || '');
      case 'assign': return 'assign to ' + (members.get(a.user_id) || 'a member');
      case 'add_tag': return 'tag ' + a.tag;
      case 'set_attribute': return 'set ' + a.key + ' = ' + JSON.stringify(a.value);
      default: return a.type;
    }
  };
  const editor = manage ? ruleEditor(() => templates, () => members, async () => { await loadRules(); }) : null;
  const loadRules = async () => {
    rules = (await api.get(wsPath('/automation/rules?limit=200'))).data || [];
    rBody.replaceChildren(...rules.map(r => {
      const cells = [h('td', {}, r.name), h('td', { class: 'wrap' }, r.match + ': ' + (r.keywords || []).join(', ')),
        h('td', { class: 'small wrap' }, (r.actions || []).map(describe).join('; ')), h('td', {}, String(r.priority ?? 0))];
      if (manage) {
        const tog = h('input', { type: 'checkbox', checked: r.enabled, 'aria-label': 'Rule ' + r.name + ' enabled' });
        tog.addEventListener('change', () => busy(tog, rOut, async () => { await api.patch(wsPath('/automation/rules/' + r.id), { enabled: tog.checked }); await loadRules(); }));
        const edit = h('button', { type: 'button', class: 'secondary' }, 'Edit');
        edit.addEventListener('click', () => editor.edit(r));
        const del = h('button', { type: 'button', class: 'danger' }, 'Delete');
        del.addEventListener('click', () => busy(del, rOut, async () => {
          if (!confirm('Delete the rule ' + r.name + '?')) return;
          await api.del(wsPath('/automation/rules/' + r.id)); await loadRules();
        }));
        cells.push(h('td', {}, h('label', { class: 'inline' }, tog, 'on')), h('td', {}, h('div', { class: 'row' }, edit, del)));
      } else cells.push(h('td', {}, r.enabled ? 'on' : 'off'), h('td'));
      return h('tr', { 'data-rule': r.name }, cells);
    }));
    if (!rules.length) rBody.append(h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No rules yet.')));
  };

  // The dry run: which rule a message would trigger, and what it would do (viewers too).
  const tOut = h('div', { 'data-dry-run': '' });
  const tBtn = h('button', { type: 'submit', class: 'secondary' }, 'Try it');
  const tText = h('input', { name: 'text', required: true, size: 40 });
  const tester = h('form', {
    onsubmit: e => {
      e.preventDefault();
      busy(tBtn, tOut, async () => {
        const r = await api.post(wsPath('/automation/rules/test'), { text: tText.value });
        if (!r.rule_id) { tOut.replaceChildren(h('p', { class: 'ok' }, 'No rule matches: the welcome or away message may still answer.')); return; }
        const rule = rules.find(x => x.id === r.rule_id);
        tOut.replaceChildren(h('div', { class: 'ok' }, h('p', {}, 'Matches the rule “' + (rule ? rule.name : r.rule_id) + '”, which would:'),
          h('ul', {}, (r.actions || []).map(a => h('li', {}, describe(a))))));
        tOut.scrollIntoView({ block: 'nearest' });
      });
    },
  }, h('div', { class: 'row' }, field('A customer message', tText), tBtn), h('p', { class: 'muted small' }, 'A dry run: nothing is sent or changed.'), tOut);

  try { await loadRules(); } catch (e) { rOut.replaceChildren(errorBox(e)); }
  await extras;
  if (rules.some(r => (r.actions || []).some(a => a.type === 'assign'))) await loadRules().catch(() => {});
  if (editor) rulesCard.append(editor.el);
  rulesCard.append(h('h3', {}, 'Try a message'), tester);
  await Promise.all(autoLoads);
}

// ruleEditor is the form that creates a rule or edits one: name, match, keywords,
// priority, enabled and a list of actions.
function ruleEditor(templates, members, saved) {
  const out = h('div');
  const title = h('h3', {}, 'New rule');
  const name = h('input', { name: 'name', required: true, maxlength: 200 });
  const match = select('match', [['contains', 'contains a keyword'], ['exact', 'is exactly a keyword'], ['regex', 'matches a regular expression (RE2)']], 'contains');
  const keywords = h('textarea', { name: 'keywords', required: true, placeholder: 'price, cost', rows: 2 });
  const priority = h('input', { name: 'priority', type: 'number', value: '0', min: 0, max: 1000000, size: 6 });
  const enabled = h('input', { type: 'checkbox', name: 'enabled', checked: true });
  const actionsEl = h('div', { class: 'actions' });
  const addType = select('add_action', [['reply_text', 'Reply with text'], ['reply_template', 'Reply with a template'], ['assign', 'Assign to a member'],
    ['add_tag', 'Add a tag'], ['set_attribute', 'Set a contact attribute']], 'reply_text');
  const addBtn = h('button', { type: 'button', class: 'secondary' }, 'Add action');
  const save = h('button', { type: 'submit' }, 'Add rule');
  const cancel = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Cancel');
  let editing = null;
  let actions = []; // {el, value()}

  function actionRow(type, cur = {}) {
    let control, value;
    switch (type) {
      case 'reply_text': {
        const t = h('textarea', { name: 'action_text', required: true, rows: 2, maxlength: 4096, value: cur.text || '' });
        control = field('Reply text', t); value = () => ({ type, text: t.value });
        break;
      }
      case 'reply_template': {
        const list = templates();
        const p = templatePicker(list);
        if (cur.template) {
          const i = list.findIndex(x => x.name === cur.template.name && x.language === (cur.template.language && cur.template.language.code || cur.template.language));
          if (i >= 0) { p.select.value = String(i); p.select.dispatchEvent(new Event('change')); }
        }
        control = p.el;
        value = () => {
          const v = p.value();
          if (!v) throw new Error('Choose the template of the reply.');
          return { type, template: v };
        };
        break;
      }
      case 'assign': {
        const s = select('action_user', [['', 'Choose a member…'], ...[...members()].map(([id, n]) => [id, n])], cur.user_id || '');
        s.required = true;
        control = field('Member', s); value = () => ({ type, user_id: s.value });
        break;
      }
      case 'add_tag': {
        const t = h('input', { name: 'action_tag', required: true, maxlength: 64, value: cur.tag || '' });
        control = field('Tag', t); value = () => ({ type, tag: t.value });
        break;
      }
      case 'set_attribute': {
        const k = h('input', { name: 'action_key', required: true, maxlength: 100, value: cur.key || '' });
        const v = h('input', { name: 'action_value', value: cur.value === undefined ? '' : typeof cur.value === 'string' ? cur.value : JSON.stringify(cur.value) });
        control = h('div', { class: 'row' }, field('Attribute', k), field('Value', v, 'Text, or JSON (42, true, {"a":1}).'));
        value = () => {
          let val = v.value;
          try { const j = JSON.parse(val); if (typeof j !== 'string') val = j; } catch { /* plain text */ }
          return { type, key: k.value, value: val };
        };
        break;
      }
      default: control = h('p', {}, type); value = () => ({ ...cur, type });
    }
    const rm = h('button', { type: 'button', class: 'link' }, 'Remove');
    const a = { value, el: h('div', { class: 'action', 'data-type': type }, h('div', { class: 'small muted' }, addType.querySelector(`option[value="${type}"]`)?.textContent || type), control, rm) };
    rm.addEventListener('click', () => { actions = actions.filter(x => x !== a); a.el.remove(); });
    actions.push(a);
    actionsEl.append(a.el);
  }
  addBtn.addEventListener('click', () => actionRow(addType.value));

  function reset() {
    editing = null; form.reset(); actions = []; actionsEl.replaceChildren();
    title.textContent = 'New rule'; save.textContent = 'Add rule'; cancel.hidden = true;
  }
  cancel.addEventListener('click', () => { reset(); out.replaceChildren(); });

  const form = h('form', {
    'data-rule-form': '',
    onsubmit: e => {
      e.preventDefault();
      busy(save, out, async () => {
        if (!actions.length) throw new Error('Add at least one action.');
        const body = { name: name.value, match: match.value, keywords: match.value === 'regex' ? keywords.value.split('\n').map(s => s.trim()).filter(Boolean) : keywords.value.split(/[,\n]/).map(s => s.trim()).filter(Boolean),
          actions: actions.map(a => a.value()), priority: Number(priority.value) || 0, enabled: enabled.checked };
        if (editing) await api.patch(wsPath('/automation/rules/' + editing.id), body);
        else await api.post(wsPath('/automation/rules'), body);
        const what = editing ? 'Saved the rule ' : 'Added the rule ';
        reset();
        out.replaceChildren(h('p', { class: 'ok' }, what + body.name + '.'));
        await saved();
      });
    },
  }, title, h('div', { class: 'row' }, field('Name', name), field('When the message', match), field('Keywords', keywords, 'Comma-separated or one a line; regular expressions one a line.'),
    field('Priority', priority)), h('label', { class: 'inline' }, enabled, 'Enabled'),
  h('fieldset', {}, h('legend', {}, 'Actions (one reply at most)'), actionsEl, h('div', { class: 'row' }, field('Action', addType), addBtn)),
  h('div', { class: 'row' }, save, cancel), out);

  return {
    el: form,
    edit(r) {
      reset();
      editing = r;
      title.textContent = 'Edit the rule ' + r.name; save.textContent = 'Save rule'; cancel.hidden = false;
      name.value = r.name; match.value = r.match; keywords.value = (r.keywords || []).join(r.match === 'regex' ? '\n' : ', ');
      priority.value = String(r.priority ?? 0); enabled.checked = r.enabled;
      for (const a of r.actions || []) actionRow(a.type, a);
      form.scrollIntoView({ block: 'start' });
      name.focus();
    },
  };
}

const days = [['mon', 'Monday'], ['tue', 'Tuesday'], ['wed', 'Wednesday'], ['thu', 'Thursday'], ['fri', 'Friday'], ['sat', 'Saturday'], ['sun', 'Sunday']];

export async function hours(el) {
  const manage = can('automation.manage');
  const cur = await api.get(wsPath('/settings/working-hours'));
  const out = h('div');
  const here = Intl.DateTimeFormat().resolvedOptions().timeZone;
  let zones = [];
  try { zones = Intl.supportedValuesOf('timeZone'); } catch { /* an older browser: type it */ }
  const zone = cur.timezone || here;
  if (!zones.includes(zone)) zones = [zone, ...zones];
  if (!zones.includes('UTC')) zones = ['UTC', ...zones];
  const tz = zones.length > 2 ? select('timezone', zones, zone) : h('input', { name: 'timezone', value: zone });
  tz.disabled = !manage;

  const dayRows = days.map(([k, label]) => {
    const list = h('div', { class: 'intervals' });
    const add = (iv = {}) => {
      const from = h('input', { type: 'time', name: k + '_from', value: iv.from || '09:00', disabled: !manage, required: true, 'aria-label': label + ' opens' });
      // "24:00" (the end of the day) is not a time input's value: shown as 23:59 is wrong, so a text input takes it.
      const to = h('input', { type: iv.to === '24:00' ? 'text' : 'time', name: k + '_to', value: iv.to || '18:00', disabled: !manage, required: true, size: 5, 'aria-label': label + ' closes' });
      const row = h('div', { class: 'row interval' }, from, h('span', {}, '–'), to);
      if (manage) {
        const rm = h('button', { type: 'button', class: 'link', 'aria-label': 'Remove this interval of ' + label }, 'Remove');
        rm.addEventListener('click', () => { row.remove(); paint(); });
        row.append(rm);
      }
      list.append(row);
      paint();
    };
    const closed = h('span', { class: 'muted small' }, 'Closed');
    const paint = () => { closed.hidden = !!list.querySelector('.interval'); };
    for (const iv of (cur.days || {})[k] || []) add(iv);
    paint();
    const cells = [h('th', { scope: 'row' }, label), h('td', {}, closed, list)];
    if (manage) {
      const b = h('button', { type: 'button', class: 'secondary', 'aria-label': 'Add hours on ' + label }, 'Add hours');
      b.addEventListener('click', () => add());
      cells.push(h('td', {}, b));
    } else cells.push(h('td'));
    return { k, list, el: h('tr', { 'data-day': k }, cells) };
  });

  const holidays = h('ul', { class: 'holidays' });
  const addHoliday = d => {
    const li = h('li', { 'data-date': d }, d, ' ');
    if (manage) {
      const rm = h('button', { type: 'button', class: 'link', 'aria-label': 'Remove the holiday ' + d }, 'Remove');
      rm.addEventListener('click', () => li.remove());
      li.append(rm);
    }
    holidays.append(li);
  };
  for (const d of cur.holidays || []) addHoliday(d);

  const parts = [h('div', { class: 'card' },
    cur.timezone ? null : h('p', { class: 'muted small' }, 'No working hours are set: the workspace is never outside them, and the away message is not sent.'),
    field('Timezone', tz, 'Hours are read on this zone\'s wall clock.'),
    table(['Day', 'Open', ''], dayRows.map(r => r.el)),
    h('h3', {}, 'Holidays'), h('p', { class: 'muted small' }, 'Closed all day, in the timezone above.'), holidays)];
  if (manage) {
    const date = h('input', { type: 'date', name: 'holiday' });
    const addB = h('button', { type: 'button', class: 'secondary' }, 'Add holiday');
    addB.addEventListener('click', () => {
      if (date.value && !holidays.querySelector(`li[data-date="${date.value}"]`)) addHoliday(date.value);
      date.value = '';
    });
    const save = h('button', { type: 'button' }, 'Save working hours');
    save.addEventListener('click', () => busy(save, out, async () => {
      const d = {};
      for (const r of dayRows) {
        const ivs = [...r.list.querySelectorAll('.interval')].map(row => {
          const [from, to] = row.querySelectorAll('input');
          return { from: from.value, to: to.value };
        });
        if (ivs.length) d[r.k] = ivs;
      }
      const hol = [...holidays.querySelectorAll('li')].map(li => li.dataset.date);
      await api.put(wsPath('/settings/working-hours'), { timezone: tz.value, days: d, holidays: hol });
      out.replaceChildren(h('p', { class: 'ok' }, 'Saved.'));
    }));
    parts[0].append(h('div', { class: 'row' }, field('Date', date), addB), out, save);
  } else parts[0].append(out);
  mount(el, parts);
}
