// API tokens (owner only): for scripts that call the admin API; the secret is shown once, then only its name.
import { api, seg, type ApiToken } from '../api.js';
import type { Screen } from '../app.js';
import { copyable } from '../copy.js';
import { confirmDialog, formDialog } from '../dialog.js';
import { badge, button, field, form, h, section, submitButton, table } from '../dom.js';
import { errorArea } from '../feedback.js';
import { formatDateTime, t } from '../i18n.js';
import { roleSelect } from './admins.js';
import { heading } from './common.js';

function showSecret(name: string, token: string): Promise<void> {
  return formDialog(t('tokens.createdTitle', { name }), (close) => [
    h('p', { class: 'notice' }, t('tokens.onlyNow')),
    copyable(token, t('tokens.secret')),
    h('p', { class: 'hint' }, t('tokens.usage')),
    h('div', { class: 'actions' }, button(t('tokens.copiedClose'), close, 'primary'))
  ]);
}

export const tokensScreen: Screen = {
  path: '/tokens',
  ownerOnly: true,
  async render(ctx) {
    const { tokens } = await api<{ tokens: ApiToken[] }>('GET', '/tokens');
    const name = field(t('tokens.name'), h('input', { type: 'text', maxLength: 100, autocomplete: 'off' }), { hint: t('tokens.nameHint') });
    const role = field(t('admins.role'), roleSelect('admin'), { hint: t('admins.roleHint') });
    const error = errorArea();
    return [
      ...heading(t('tokens.title'), t('tokens.intro')),
      section(
        t('tokens.list'),
        table<ApiToken>(
          t('tokens.list'),
          [
            { label: t('tokens.name'), cell: (k) => k.name },
            { label: t('admins.role'), cell: (k) => t(`role.${k.role}`) },
            { label: t('tokens.createdBy'), cell: (k) => k.createdBy ?? '–' },
            { label: t('tokens.lastUsed'), cell: (k) => (k.lastUsedAt ? formatDateTime(k.lastUsedAt) : t('tokens.never')) },
            { label: t('accounts.status'), cell: (k) => (k.revokedAt ? badge(t('tokens.revoked'), 'neutral') : badge(t('tokens.valid'), 'ok')) },
            {
              label: t('common.actions'),
              cell: (k) =>
                k.revokedAt
                  ? null
                  : button(t('tokens.revoke'), async () => {
                      const done = await confirmDialog({ title: t('tokens.revokeTitle', { name: k.name }), message: [t('tokens.revokeConfirm')], confirm: t('tokens.revoke'), danger: true, action: () => api('DELETE', `/tokens/${seg(k.id)}`) });
                      if (done) {
                        await ctx.refresh(t('tokens.revokedDone', { name: k.name }));
                      }
                    }, 'danger small', { 'aria-label': t('tokens.revokeFor', { name: k.name }) })
            }
          ],
          tokens,
          t('tokens.empty')
        )
      ),
      section(
        t('tokens.create'),
        form(
          async () => {
            error.clear();
            if (!name.control.value.trim()) return name.setError(t('tokens.nameRequired'));
            name.setError(null);
            try {
              const created = await api<{ token: string; name: string }>('POST', '/tokens', { name: name.control.value.trim(), role: role.control.value });
              await showSecret(created.name, created.token);
              ctx.refresh();
            } catch (err) {
              error.show(err);
            }
          },
          name.element,
          role.element,
          error.element,
          h('div', { class: 'actions' }, submitButton(t('tokens.createButton')))
        )
      )
    ];
  }
};
