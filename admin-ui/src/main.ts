// Start-up: language, the session (or the login page, or the first-start setup at /setup), then the app.
import './style.css';
import { api, setCsrfToken, whenSessionLost, type PolicyInfo, type SessionState } from './api.js';
import { startApp, type AppContext } from './app.js';
import { button, h, link } from './dom.js';
import { announce, clearAnnouncement, describeError } from './feedback.js';
import { initLanguage, t } from './i18n.js';
import { NAV, SCREENS } from './screens/index.js';
import { loginView, setupView, type LoginNotice } from './screens/login.js';
import { redrawOnLanguageChange, renderShell } from './shell.js';

initLanguage();
const root = document.getElementById('app')!;
let policy: PolicyInfo;
let running: { redraw(): void; stop(): void } | null = null;

function userBox(ctx: AppContext): Node {
  return h(
    'div',
    { class: 'who' },
    h('span', { class: 'login' }, ctx.admin.login),
    h('span', { class: 'role' }, t(ctx.isOwner ? 'role.owner' : 'role.admin')),
    link('#/profile', t('nav.profile')),
    button(t('shell.logout'), () => ctx.logout(), 'link')
  );
}

function enter(session: SessionState): void {
  setCsrfToken(session.csrfToken ?? null);
  running?.stop();
  running = startApp(root, session.admin!, policy, SCREENS, NAV, userBox, () => void logout());
  redrawOnLanguageChange(() => running?.redraw());
}

function leave(): void {
  clearAnnouncement();
  running?.stop();
  running = null;
  setCsrfToken(null);
}

async function logout(): Promise<void> {
  try {
    await api('DELETE', '/session');
  } catch {
    /* gone already */
  }
  leave();
  // the next person to log in starts at the beginning, not on the page the last one left open
  history.replaceState(null, '', '/');
  showLogin('loggedOut');
}

function showLogin(notice: LoginNotice): void {
  const draw = () => {
    const { main } = renderShell(root, null, null);
    main.append(...loginView(notice, (session) => enter(session)));
    document.title = `${t('login.title')} – Postfach`;
    main.querySelector<HTMLInputElement>('input')?.focus();
  };
  redrawOnLanguageChange(draw);
  draw();
}

function showSetup(state: SessionState): void {
  const draw = () => {
    const { main } = renderShell(root, null, null);
    main.append(
      ...setupView(state, policy, (session) => {
        // the token is spent: drop it from the address bar and the history
        history.replaceState(null, '', '/#/domains');
        enter(session);
        announce(t('setup.created'));
      })
    );
    document.title = `${t('setup.title')} – Postfach`;
    main.querySelector<HTMLInputElement>('input')?.focus();
  };
  redrawOnLanguageChange(draw);
  draw();
}

whenSessionLost(() => {
  if (!running) return;
  leave();
  showLogin('expired');
});

async function boot(): Promise<void> {
  let state: SessionState;
  try {
    [state, policy] = await Promise.all([api<SessionState>('GET', '/session'), api<PolicyInfo>('GET', '/password-policy')]);
  } catch (err) {
    const { main } = renderShell(root, null, null);
    main.append(h('div', { class: 'card narrow' }, h('h1', null, 'Postfach'), h('p', { class: 'form-error', role: 'alert' }, describeError(err)), button(t('common.retry'), () => void boot(), 'primary')));
    redrawOnLanguageChange(() => void boot());
    return;
  }
  if (location.pathname === '/setup' && !(state.authenticated && state.via === 'session')) return showSetup(state);
  if (state.authenticated && state.via === 'session') {
    if (location.pathname !== '/') history.replaceState(null, '', `/${location.hash || '#/domains'}`);
    return enter(state);
  }
  showLogin(state.setupRequired ? 'setupRequired' : null);
}

void boot();
