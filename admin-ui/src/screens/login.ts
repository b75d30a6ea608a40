// Before the app: the login (with the second factor when the admin user has one) and the first-start owner setup
// behind the one-time link /setup#token=….
import { api, ApiError, type PolicyInfo, type SessionState } from '../api.js';
import { errorArea } from '../feedback.js';
import { field, form, h, submitButton } from '../dom.js';
import { t } from '../i18n.js';
import { passwordField } from '../password.js';

export type LoginNotice = 'expired' | 'loggedOut' | 'setupRequired' | null;

/** The login card; `done` receives the new session. */
export function loginView(notice: LoginNotice, done: (session: SessionState) => void): Node[] {
  const login = field(t('login.email'), h('input', { type: 'email', autocomplete: 'username', required: true, spellcheck: false, autocapitalize: 'none' }));
  const password = field(t('login.password'), h('input', { type: 'password', autocomplete: 'current-password', required: true }));
  const totp = field(t('login.totp'), h('input', { type: 'text', inputMode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxLength: 6 }), { hint: t('login.totpHint') });
  totp.element.hidden = true;
  const error = errorArea();
  const notices: Record<Exclude<LoginNotice, null>, string> = {
    expired: t('login.expired'),
    loggedOut: t('login.loggedOut'),
    setupRequired: t('login.setupRequired')
  };
  const noticeElement = notice ? h('p', { class: notice === 'expired' ? 'notice' : 'notice info' }, notices[notice]) : null;
  const body = form(
    async () => {
      error.clear();
      noticeElement?.remove(); // what happened before this attempt no longer matters
      if (!login.control.value.trim() || !password.control.value) {
        error.show(t('login.missing'));
        return;
      }
      try {
        const session = await api<SessionState>('POST', '/session', {
          login: login.control.value.trim(),
          password: password.control.value,
          ...(totp.element.hidden ? {} : { totp: totp.control.value.trim() })
        });
        done(session);
      } catch (err) {
        if (err instanceof ApiError && err.code === 'totp_required') {
          totp.element.hidden = false;
          error.show(t('login.totpNeeded'));
          totp.control.focus();
          return;
        }
        error.show(err);
        if (err instanceof ApiError && err.code === 'invalid_credentials') password.control.select();
      }
    },
    login.element,
    password.element,
    totp.element,
    error.element,
    h('div', { class: 'actions' }, submitButton(t('login.submit')))
  );
  return [
    h(
      'div',
      { class: 'card narrow' },
      h('h1', null, t('login.title')),
      noticeElement,
      body
    )
  ];
}

/** The owner setup behind the printed link; the token is in the URL fragment, so it never reaches a log. */
export function setupView(state: SessionState, policy: PolicyInfo, done: (session: SessionState) => void): Node[] {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  const card = h('div', { class: 'card narrow' }, h('h1', null, t('setup.title')));
  if (state.authenticated || state.setupRequired === false) {
    card.append(h('p', { class: 'notice info' }, t('setup.done')), h('p', null, h('a', { href: '/' }, t('setup.toLogin'))));
    return [card];
  }
  if (!token) {
    card.append(h('p', { class: 'form-error', role: 'alert' }, t('setup.noToken')));
    return [card];
  }
  const login = field(t('setup.email'), h('input', { type: 'email', autocomplete: 'username', required: true, spellcheck: false, autocapitalize: 'none' }), { hint: t('setup.emailHint') });
  const password = passwordField(t('login.password'), policy, { address: () => login.control.value.trim().toLowerCase() });
  login.control.addEventListener('input', () => password.refresh());
  const error = errorArea();
  card.append(
    h('p', null, t('setup.intro')),
    form(
      async () => {
        error.clear();
        if (!login.control.value.includes('@')) {
          login.setError(t('error.login.address'));
          login.control.focus();
          return;
        }
        login.setError(null);
        if (!password.valid()) {
          password.setError(t('password.notYet'));
          password.control.focus();
          return;
        }
        try {
          done(await api<SessionState>('POST', '/setup', { token, login: login.control.value.trim(), password: password.control.value }));
        } catch (err) {
          error.show(err);
        }
      },
      login.element,
      password.element,
      error.element,
      h('div', { class: 'actions' }, submitButton(t('setup.submit')))
    )
  );
  return [card];
}
