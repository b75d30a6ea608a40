// Admin users (owner only): who may manage Postfach with which role; new users, password resets, second factor off,
// removal. API tokens for scripts live on their own screen (tokens.ts).
import { api, seg, type AdminUser, type Role } from '../api.js';
import type { AppContext, Screen } from '../app.js';
import { confirmDialog, formDialog } from '../dialog.js';
import { badge, button, field, form, h, section, submitButton, table } from '../dom.js';
import { announce, errorArea } from '../feedback.js';
import { formatDateTime, t } from '../i18n.js';
import { passwordField } from '../password.js';
import { heading } from './common.js';

export function roleSelect(selected: Role = 'admin'): HTMLSelectElement {
  return h('select', null, (['admin', 'owner'] as const).map((role) => h('option', { value: role, selected: role === selected }, t(`role.${role}`))));
}

function resetPassword(ctx: AppContext, admin: AdminUser): Promise<void> {
  return formDialog(t('admins.resetTitle', { login: admin.login }), (close) => {
    const password = passwordField(t('account.newPassword'), ctx.policy, { address: () => admin.login });
    const error = errorArea();
    return [
      h('p', null, t('admins.resetIntro')),
      form(
        async () => {
          error.clear();
          if (!password.valid()) return password.setError(t('password.notYet'));
          try {
            await api('POST', `/admins/${seg(admin.login)}/password`, { password: password.control.value });
            announce(t('admins.passwordSet', { login: admin.login }));
            close();
          } catch (err) {
            error.show(err);
          }
        },
        password.element,
        error.element,
        h('div', { class: 'actions' }, button(t('common.cancel'), close, 'secondary'), submitButton(t('account.setPassword')))
      )
    ];
  });
}

function actions(ctx: AppContext, admin: AdminUser): HTMLElement {
  const self = admin.login === ctx.admin.login;
  return h(
    'div',
    { class: 'row-actions' },
    self ? null : button(t('admins.reset'), () => void resetPassword(ctx, admin), 'secondary small', { 'aria-label': t('admins.resetFor', { login: admin.login }) }),
    admin.totp && !self
      ? button(t('admins.totpOff'), async () => {
          const done = await confirmDialog({ title: t('admins.totpOffTitle', { login: admin.login }), message: [t('admins.totpOffConfirm')], confirm: t('admins.totpOff'), action: () => api('DELETE', `/admins/${seg(admin.login)}/totp`) });
          if (done) {
            await ctx.refresh(t('admins.totpOffDone', { login: admin.login }));
          }
        }, 'secondary small')
      : null,
    self
      ? h('span', { class: 'muted' }, t('admins.you'))
      : button(t('common.remove'), async () => {
          const done = await confirmDialog({ title: t('admins.removeTitle', { login: admin.login }), message: [t('admins.removeConfirm', { login: admin.login })], confirm: t('common.remove'), danger: true, action: () => api('DELETE', `/admins/${seg(admin.login)}`) });
          if (done) {
            await ctx.refresh(t('admins.removed', { login: admin.login }));
          }
        }, 'danger small', { 'aria-label': t('admins.removeFor', { login: admin.login }) })
  );
}

function addSection(ctx: AppContext): HTMLElement {
  const login = field(t('admins.login'), h('input', { type: 'email', autocomplete: 'off', spellcheck: false, autocapitalize: 'none' }), { hint: t('admins.loginHint') });
  const role = field(t('admins.role'), roleSelect(), { hint: t('admins.roleHint') });
  const password = passwordField(t('login.password'), ctx.policy, { address: () => login.control.value.trim().toLowerCase() });
  login.control.addEventListener('input', () => password.refresh());
  const error = errorArea();
  return section(
    t('admins.add'),
    form(
      async () => {
        error.clear();
        if (!login.control.value.includes('@')) return login.setError(t('error.login.address'));
        login.setError(null);
        if (!password.valid()) return password.setError(t('password.notYet'));
        try {
          await api('POST', '/admins', { login: login.control.value.trim(), role: role.control.value, password: password.control.value });
          await ctx.refresh(t('admins.added', { login: login.control.value.trim() }));
        } catch (err) {
          error.show(err);
        }
      },
      login.element,
      role.element,
      password.element,
      error.element,
      h('div', { class: 'actions' }, submitButton(t('admins.addButton')))
    )
  );
}

export const adminsScreen: Screen = {
  path: '/admins',
  ownerOnly: true,
  async render(ctx) {
    const { admins } = await api<{ admins: AdminUser[] }>('GET', '/admins');
    return [
      ...heading(t('admins.title'), t('admins.intro')),
      section(
        t('admins.list'),
        table<AdminUser>(
          t('admins.list'),
          [
            { label: t('admins.login'), cell: (a) => a.login },
            { label: t('admins.role'), cell: (a) => badge(t(`role.${a.role}`), a.role === 'owner' ? 'info' : 'neutral') },
            { label: t('admins.totp'), cell: (a) => (a.totp ? t('common.on') : t('common.off')) },
            { label: t('admins.created'), cell: (a) => formatDateTime(a.createdAt) },
            { label: t('common.actions'), cell: (a) => actions(ctx, a) }
          ],
          admins,
          ''
        )
      ),
      addSection(ctx)
    ];
  }
};
