// A template picker with a field per parameter of the chosen template (the inbox's
// composer outside the 24-hour window, and campaigns).
import { h, field } from './dom.js';

function placeholders(text) {
  const out = [];
  for (const m of (text || '').matchAll(/\{\{\s*([\w.]+)\s*\}\}/g)) if (!out.includes(m[1])) out.push(m[1]);
  return out;
}

// templatePicker returns {el, value()}: value() is the API's {name, language, components}
// or null when no template is chosen. hint is shown under each parameter field.
export function templatePicker(templates, hint) {
  const params = h('div');
  const sel = h('select', { name: 'template' }, h('option', { value: '' }, 'Choose a template…'),
    templates.map((t, i) => h('option', { value: String(i) }, t.name + ' (' + t.language + ')')));
  let inputs = [];
  const preview = h('p', { class: 'muted small' });
  sel.addEventListener('change', () => {
    const t = templates[Number(sel.value)];
    inputs = [];
    params.replaceChildren();
    preview.textContent = '';
    if (!t) return;
    for (const c of t.components || []) {
      const type = (c.type || '').toLowerCase();
      if ((type === 'body' || (type === 'header' && (c.format || 'TEXT') === 'TEXT')) && c.text) {
        if (type === 'body') preview.textContent = c.text;
        for (const name of placeholders(c.text)) {
          const input = h('input', { name: type + '_' + name, required: true, 'data-part': type, 'data-name': name });
          inputs.push(input);
          params.append(field((type === 'header' ? 'Header ' : '') + '{{' + name + '}}', input, hint));
        }
      }
    }
  });
  return {
    el: h('div', {}, field('Template', sel), preview, params),
    select: sel,
    value() {
      const t = templates[Number(sel.value)];
      if (!sel.value || !t) return null;
      const named = t.parameter_format === 'named';
      const parts = {};
      for (const i of inputs) {
        const p = { type: 'text', text: i.value };
        if (named) p.parameter_name = i.dataset.name;
        (parts[i.dataset.part] ||= []).push(p);
      }
      const components = Object.entries(parts).map(([type, parameters]) => ({ type, parameters }));
      const tpl = { name: t.name, language: { code: t.language } };
      if (components.length) tpl.components = components;
      return tpl;
    },
  };
}
