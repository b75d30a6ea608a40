// One account: its details and usage, editing name and quota, (de)activating, a new password (owner and admin),
// merging into another account and deleting it with two confirmations.
import { api, seg, type Account, type AccountDetail } from '../api.js';
import type { AppContext, Screen } from '../app.js';
import { confirmDialog } from '../dialog.js';
import { button, field, form, h, link, section, submitButton } from '../dom.js';
import { announce, errorArea } from '../feedback.js';
import { count, formatBytes, formatDateTime, formatNumber, t } from '../i18n.js';
import { passwordField } from '../password.js';
import { accountHref, backLink, heading, quotaField, statusBadge, usageView } from './common.js';

const path = (address: string) => `/accounts/${seg(address)}`;

function summary(detail: AccountDetail): HTMLElement {
  const { account, aliases, forward } = detail;
  return h(
    'dl',
    { class: 'summary' },
    h('dt', null, t('accounts.status')),
    h('dd', null, statusBadge(account.active)),
    h('dt', null, t('accounts.usage')),
    h('dd', null, usageView(account)),
    h('dt', null, t('accounts.messages')),
    h('dd', null, formatNumber(account.messages)),
    h('dt', null, t('account.aliases')),
    h('dd', null, aliases.length ? aliases.join(', ') : t('common.none')),
    h('dt', null, t('account.forward')),
    h('dd', null, forward ? t(forward.keepCopy ? 'account.forwardKeep' : 'account.forwardOnly', { destinations: forward.destinations.join(', ') }) : t('common.none')),
    h('dt', null, t('account.created')),
    h('dd', null, formatDateTime(account.createdAt))
  );
}

function detailsSection(ctx: AppContext, account: Account): HTMLElement {
  const name = field(t('accounts.displayName'), h('input', { type: 'text', value: account.displayName, maxLength: 200, autocomplete: 'off' }), { hint: t('accounts.displayNameHint') });
  const quota = quotaField(account.quota || null, t('account.quotaHint'));
  const error = errorArea();
  return section(
    t('account.details'),
    form(
      async () => {
        error.clear();
        const bytes = quota.read();
        if (Number.isNaN(bytes)) return;
        try {
          await api('PATCH', path(account.address), { displayName: name.control.value.trim(), quota: bytes ?? 0 });
          await ctx.refresh(t('account.saved'));
        } catch (err) {
          error.show(err);
        }
      },
      name.element,
      quota.element,
      error.element,
      h('div', { class: 'actions' }, submitButton(t('common.save')))
    )
  );
}

function passwordSection(ctx: AppContext, account: Account): HTMLElement {
  const password = passwordField(t('account.newPassword'), ctx.policy, { address: () => account.ascii });
  const error = errorArea();
  return section(
    t('account.passwordTitle'),
    h('p', null, t('account.passwordIntro')),
    form(
      async () => {
        error.clear();
        if (!password.valid()) {
          password.setError(t('password.notYet'));
          return password.control.focus();
        }
        try {
          await api('POST', `${path(account.address)}/password`, { password: password.control.value });
          password.control.value = '';
          password.refresh();
          announce(t('account.passwordSet', { address: account.address }));
        } catch (err) {
          error.show(err);
        }
      },
      password.element,
      error.element,
      h('div', { class: 'actions' }, submitButton(t('account.setPassword')))
    )
  );
}

function statusSection(ctx: AppContext, account: Account): HTMLElement {
  const verb = account.active ? 'deactivate' : 'activate';
  return section(
    t('account.statusTitle'),
    h('p', null, account.active ? t('account.deactivateIntro') : t('account.activateIntro')),
    button(
      t(account.active ? 'account.deactivate' : 'account.activate'),
      async () => {
        const done = await confirmDialog({
          title: t(account.active ? 'account.deactivateConfirmTitle' : 'account.activateConfirmTitle', { address: account.address }),
          message: [account.active ? t('account.deactivateIntro') : t('account.activateIntro')],
          confirm: t(account.active ? 'account.deactivate' : 'account.activate'),
          action: () => api('POST', `${path(account.address)}/${verb}`)
        });
        if (done) {
          await ctx.refresh(t(account.active ? 'account.deactivated' : 'account.activated', { address: account.address }));
        }
      },
      account.active ? 'secondary' : 'primary'
    )
  );
}

function mergeSection(ctx: AppContext, account: Account, others: Account[]): HTMLElement {
  if (!others.length) return section(t('account.mergeTitle'), h('p', null, t('account.mergeNone')));
  const target = field(t('account.mergeInto'), h('select', null, h('option', { value: '' }, t('common.choose')), others.map((a) => h('option', { value: a.address }, a.address))));
  const error = errorArea();
  return section(
    t('account.mergeTitle'),
    h('p', null, t('account.mergeIntro', { address: account.address })),
    form(
      async () => {
        error.clear();
        const into = target.control.value;
        if (!into) {
          target.setError(t('account.mergeChoose'));
          return target.control.focus();
        }
        target.setError(null);
        const merged = await confirmDialog({
          title: t('account.mergeConfirmTitle'),
          message: [t('account.mergeConfirm', { source: account.address, target: into, messages: count('messages', account.messages) })],
          confirm: t('account.mergeButton', { source: account.address, target: into }),
          danger: true,
          action: () => api('POST', `${path(account.address)}/merge`, { into })
        });
        if (merged) {
          announce(t('account.merged', { source: account.address, target: into }));
          ctx.navigate(`/accounts/${encodeURIComponent(into)}`);
        }
      },
      target.element,
      error.element,
      h('div', { class: 'actions' }, submitButton(t('account.mergeStart'), 'danger'))
    )
  );
}

/** Two confirmations, matching the API's two steps: the first asks for the confirmation token, the second spends it. */
async function deleteAccount(ctx: AppContext, account: Account): Promise<void> {
  let confirmation = '';
  const first = await confirmDialog({
    title: t('account.deleteTitle', { address: account.address }),
    message: [t('account.deleteWarning', { address: account.address, messages: count('messages', account.messages), size: formatBytes(account.usedBytes) })],
    confirm: t('account.deleteContinue'),
    danger: true,
    action: async () => {
      confirmation = (await api<{ confirmation: string }>('POST', `${path(account.address)}/deletion`)).confirmation;
    }
  });
  if (!first) return;
  let result: { messages: number } | null = null;
  const second = await confirmDialog({
    title: t('account.deleteFinalTitle'),
    message: [h('p', { class: 'warning' }, t('account.deleteFinal', { address: account.address }))],
    confirm: t('account.deleteButton'),
    danger: true,
    typeToConfirm: account.address,
    action: async () => {
      result = await api<{ messages: number }>('DELETE', path(account.address), { confirmation });
    }
  });
  if (!second || !result) return;
  announce(t('account.deleted', { address: account.address, messages: count('messages', (result as { messages: number }).messages) }));
  ctx.navigate('/accounts');
}

export const accountScreen: Screen = {
  path: '/accounts/:address',
  async render(ctx, params) {
    const detail = await api<AccountDetail>('GET', path(params.address));
    const { account } = detail;
    const nodes: Node[] = [
      backLink('#/accounts', t('accounts.title')),
      ...heading(account.address, account.displayName || undefined),
      h('div', { class: 'card' }, summary(detail), h('p', { class: 'actions start' }, link(`${accountHref(account.address)}/setup`, t('account.clientSetup'), { class: 'btn secondary' }), link(`${accountHref(account.address)}/import`, t('account.import'), { class: 'btn secondary' }))),
      passwordSection(ctx, account)
    ];
    if (ctx.isOwner) {
      const { accounts } = await api<{ accounts: Account[] }>('GET', '/accounts');
      nodes.push(
        detailsSection(ctx, account),
        statusSection(ctx, account),
        mergeSection(ctx, account, accounts.filter((a) => a.address !== account.address)),
        section(t('account.deleteSection'), h('p', null, t('account.deleteIntro')), button(t('account.deleteStart'), () => void deleteAccount(ctx, account), 'danger'))
      );
    }
    return nodes;
  }
};
