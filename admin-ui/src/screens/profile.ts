// The logged-in admin user's own settings: a new password and the optional second factor (TOTP).
import { api } from '../api.js';
import type { AppContext, Screen } from '../app.js';
import { copyable } from '../copy.js';
import { confirmDialog } from '../dialog.js';
import { button, field, form, h, section, submitButton } from '../dom.js';
import { announce, errorArea } from '../feedback.js';
import { t } from '../i18n.js';
import { passwordField } from '../password.js';
import { heading } from './common.js';

function passwordSection(ctx: AppContext): HTMLElement {
  const current = field(t('profile.current'), h('input', { type: 'password', autocomplete: 'current-password' }));
  const next = passwordField(t('account.newPassword'), ctx.policy, { address: () => ctx.admin.login });
  const error = errorArea();
  return section(
    t('profile.passwordTitle'),
    h('p', null, t('profile.passwordIntro')),
    form(
      async () => {
        error.clear();
        if (!current.control.value) return current.setError(t('profile.currentMissing'));
        current.setError(null);
        if (!next.valid()) return next.setError(t('password.notYet'));
        try {
          await api('PUT', '/session/password', { currentPassword: current.control.value, newPassword: next.control.value });
          current.control.value = '';
          next.control.value = '';
          next.refresh();
          announce(t('profile.passwordChanged'));
        } catch (err) {
          error.show(err);
        }
      },
      h('input', { type: 'email', autocomplete: 'username', value: ctx.admin.login, hidden: true, readOnly: true, tabIndex: -1, 'aria-hidden': 'true' }),
      current.element,
      next.element,
      error.element,
      h('div', { class: 'actions' }, submitButton(t('profile.changePassword')))
    )
  );
}

const codeInput = () => h('input', { type: 'text', inputMode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxLength: 6 });

function totpSection(ctx: AppContext): HTMLElement {
  const area = h('div');
  const error = errorArea();
  if (ctx.admin.totp) {
    const code = field(t('login.totp'), codeInput());
    area.append(
      h('p', null, t('profile.totpOn')),
      form(
        async () => {
          error.clear();
          const ok = await confirmDialog({ title: t('profile.totpOffTitle'), message: [t('profile.totpOffConfirm')], confirm: t('admins.totpOff'), danger: true, action: () => api('DELETE', '/session/totp', { code: code.control.value.trim() }) });
          if (ok) {
            ctx.admin.totp = false;
            await ctx.refresh(t('profile.totpDisabled'));
          }
        },
        code.element,
        error.element,
        h('div', { class: 'actions' }, submitButton(t('admins.totpOff'), 'danger'))
      )
    );
  } else {
    area.append(
      h('p', null, t('profile.totpIntro')),
      button(t('profile.totpStart'), async () => {
        error.clear();
        try {
          const { secret, uri } = await api<{ secret: string; uri: string }>('POST', '/session/totp');
          const code = field(t('login.totp'), codeInput(), { hint: t('login.totpHint') });
          area.replaceChildren(
            h('p', null, t('profile.totpScan')),
            h('dl', null, h('dt', null, t('profile.totpSecret')), h('dd', null, copyable(secret, t('profile.totpSecret'))), h('dt', null, t('profile.totpUri')), h('dd', null, copyable(uri, t('profile.totpUri')))),
            form(
              async () => {
                error.clear();
                try {
                  await api('POST', '/session/totp/confirm', { code: code.control.value.trim() });
                  ctx.admin.totp = true;
                  await ctx.refresh(t('profile.totpEnabled'));
                } catch (err) {
                  error.show(err);
                }
              },
              code.element,
              error.element,
              h('div', { class: 'actions' }, submitButton(t('profile.totpConfirm')))
            )
          );
          code.control.focus();
        } catch (err) {
          error.show(err);
        }
      }, 'primary'),
      error.element
    );
  }
  return section(t('profile.totpTitle'), area);
}

export const profileScreen: Screen = {
  path: '/profile',
  async render(ctx) {
    return [...heading(t('profile.title'), t('profile.intro', { login: ctx.admin.login, role: t(ctx.isOwner ? 'role.owner' : 'role.admin') })), passwordSection(ctx), totpSection(ctx)];
  }
};
