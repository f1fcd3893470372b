// The one DOM helper: h(tag, attrs, ...children). Strings become text nodes, never HTML,
// so whatever a customer writes is shown as the characters they wrote.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    // The defaults too, so that form.reset() comes back to them.
    else if (k === 'value') { el.value = v; if ('defaultValue' in el) el.defaultValue = v; }
    else if (k === 'checked') { el.checked = el.defaultChecked = v; }
    else if (k === 'selected') { el.selected = el.defaultSelected = v; }
    else if (k === 'disabled') el.disabled = v;
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// mount replaces el's content.
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let seq = 0;
// field is a labelled control: every input has its label.
export function field(label, control, hint) {
  if (!control.id) control.id = 'f' + (++seq);
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control,
    hint ? h('div', { class: 'muted small' }, hint) : null);
}

export function select(name, options, value) {
  return h('select', { name }, options.map(o => {
    const [v, label] = Array.isArray(o) ? o : [o, o];
    return h('option', { value: v, selected: v === value }, label);
  }));
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });

// when formats an RFC 3339 time in the browser's timezone.
export function when(s, short) {
  if (!s) return '';
  const d = new Date(s);
  if (isNaN(d)) return '';
  return short && d.toDateString() === new Date().toDateString() ? timeOnly.format(d) : dateTime.format(d);
}

export function money(m) {
  if (!m) return '';
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency: m.currency }).format(m.amount_micros / 1e6);
  } catch { return (m.amount_micros / 1e6) + ' ' + m.currency; }
}

// errorBox shows an API problem (or any error) in words.
export function errorBox(err) {
  if (!err) return null;
  const items = (err.errors || []).map(e => h('li', {}, (e.field ? e.field + ': ' : '') + e.message));
  return h('div', { class: 'error', role: 'alert' }, err.message || String(err), items.length ? h('ul', {}, items) : null);
}

export function status(s) { return h('span', { class: 'status ' + s }, s || 'unknown'); }

// busy disables a button while fn runs and shows its error in out.
export async function busy(button, out, fn) {
  if (button) button.disabled = true;
  if (out) out.replaceChildren();
  try { return await fn(); }
  catch (e) { if (out) out.replaceChildren(errorBox(e)); else console.error(e); }
  finally { if (button) button.disabled = false; }
}

// formData reads a form's named controls into an object of strings.
export function formData(form) {
  return Object.fromEntries(new FormData(form).entries());
}

// download saves a blob under name.
export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// table wraps rows (an array of tr, or a tbody the caller fills later) with headers.
export function table(headers, rows) {
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, headers.map(x => h('th', { scope: 'col' }, x)))),
    rows instanceof HTMLElement && rows.tagName === 'TBODY' ? rows : h('tbody', {}, rows)));
}
