// Sign-up, login, and the password reset.
import { h, mount, field, busy, formData } from './dom.js';
import * as api from './api.js';
import { state, loadMe, chooseWorkspace, go } from './app.js';

function card(root, title, ...body) {
  mount(root, h('main', {}, h('div', { class: 'card narrow' }, h('h1', {}, title), body)));
}

// afterLogin accepts a pending invitation, then opens the only workspace or the picker.
export async function afterLogin() {
  if (state.pendingInvitation) {
    const token = state.pendingInvitation;
    state.pendingInvitation = null;
    await api.post('/v1/invitations/' + encodeURIComponent(token) + '/accept');
  }
  const me = await loadMe();
  if (me.memberships.length === 1) return chooseWorkspace(me.memberships[0]);
  go('#/workspaces');
}

export function login(root) {
  const out = h('div');
  const btn = h('button', { type: 'submit' }, 'Log in');
  const form = h('form', {
    onsubmit: e => {
      e.preventDefault();
      const d = formData(form);
      busy(btn, out, async () => { await api.login(d.email, d.password); await afterLogin(); });
    },
  },
  field('Email', h('input', { name: 'email', type: 'email', autocomplete: 'username', required: true })),
  field('Password', h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
  out, h('div', { class: 'row' }, btn, h('a', { href: '#/signup' }, 'Create an account'), h('a', { href: '#/forgot' }, 'Forgot your password?')));
  card(root, 'Log in', state.pendingInvitation ? h('p', { class: 'ok' }, 'Log in (or sign up) to accept your invitation.') : null, form);
  form.querySelector('input').focus();
}

export function signup(root) {
  const out = h('div');
  const btn = h('button', { type: 'submit' }, 'Sign up');
  const form = h('form', {
    onsubmit: e => {
      e.preventDefault();
      const d = formData(form);
      busy(btn, out, async () => {
        await api.request('POST', '/v1/auth/signup', d, { anonymous: true });
        await api.login(d.email, d.password);
        await afterLogin();
      });
    },
  },
  field('Your name', h('input', { name: 'name', autocomplete: 'name', required: true })),
  field('Email', h('input', { name: 'email', type: 'email', autocomplete: 'username', required: true })),
  field('Password', h('input', { name: 'password', type: 'password', autocomplete: 'new-password', minlength: 10, required: true }), 'At least 10 characters.'),
  out, h('div', { class: 'row' }, btn, h('a', { href: '#/login' }, 'I have an account')));
  card(root, 'Create your account', form);
  form.querySelector('input').focus();
}

export function forgot(root) {
  const out = h('div');
  const btn = h('button', { type: 'submit' }, 'Send the reset link');
  const form = h('form', {
    onsubmit: e => {
      e.preventDefault();
      busy(btn, out, async () => {
        await api.request('POST', '/v1/auth/password-reset', formData(form), { anonymous: true });
        out.replaceChildren(h('p', { class: 'ok' }, 'If an account has this email, a reset link is on its way.'));
      });
    },
  }, field('Email', h('input', { name: 'email', type: 'email', required: true })), out,
  h('div', { class: 'row' }, btn, h('a', { href: '#/login' }, 'Back to login')));
  card(root, 'Reset your password', form);
}

export function reset(root, [token]) {
  const out = h('div');
  const btn = h('button', { type: 'submit' }, 'Set the new password');
  const form = h('form', {
    onsubmit: e => {
      e.preventDefault();
      busy(btn, out, async () => {
        await api.request('POST', '/v1/auth/password-reset/confirm', { token, new_password: formData(form).new_password }, { anonymous: true });
        out.replaceChildren(h('p', { class: 'ok' }, 'Your password is changed. ', h('a', { href: '#/login' }, 'Log in')));
      });
    },
  }, field('New password', h('input', { name: 'new_password', type: 'password', minlength: 10, autocomplete: 'new-password', required: true })), out, btn);
  card(root, 'Choose a new password', form);
}
