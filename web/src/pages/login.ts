// Sign in: e-mail and password; errors are shown in the page. On success, back to where the
// browser was sent from (`next`), or the overview.
import { api, errorText, setCsrf, type Me } from '../api';
import { field, h, replace } from '../dom';
import { navigate, type Page } from '../router';
import { session } from '../session';

export function loginPage(app: HTMLElement, url: URL): Page {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    {
      class: 'login card',
      'aria-labelledby': 'login-title',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        error.hidden = true;
        submit.disabled = true;
        submit.textContent = 'Signing in…';
        try {
          const r = await api<{ csrf_token: string }>('POST', '/api/v1/auth/login', {
            body: { email: email.value.trim(), password: password.value },
          });
          setCsrf(r.csrf_token);
          session.me = await api<Me>('GET', '/api/v1/me');
          const next = url.searchParams.get('next');
          navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : '/threats', { replace: true });
        } catch (err) {
          error.textContent = errorText(err);
          error.hidden = false;
          password.select();
        } finally {
          submit.disabled = false;
          submit.textContent = 'Sign in';
        }
      },
    },
    h('div', { class: 'brand big' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), 'ThreatDesk'),
    h('h1', { id: 'login-title' }, 'Sign in'),
    field('E-mail', email),
    field('Password', password),
    error,
    submit,
  );
  replace(app, h('main', { id: 'main', class: 'login-page' }, form));
  email.focus();
  return { destroy() {} };
}
