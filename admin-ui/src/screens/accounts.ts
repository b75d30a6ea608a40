// Accounts: the list (address, name, status, usage) and creating one (lower case as typed, password rules live,
// generated password, active switch, quota).
import { api, type Account, type Domain } from '../api.js';
import type { Screen } from '../app.js';
import { field, form, h, link, section, submitButton, switchField, table } from '../dom.js';
import { announce, errorArea } from '../feedback.js';
import { formatNumber, t } from '../i18n.js';
import { passwordField } from '../password.js';
import { accountHref, addressInputs, heading, localPartProblem, quotaField, statusBadge, usageView } from './common.js';

export const accountsScreen: Screen = {
  path: '/accounts',
  async render(ctx) {
    const { accounts } = await api<{ accounts: Account[] }>('GET', '/accounts');
    return [
      ...heading(t('accounts.title'), t('accounts.intro')),
      ctx.isOwner ? h('div', { class: 'actions start' }, link('#/accounts/new', t('accounts.new'), { class: 'btn primary' })) : null,
      section(
        t('accounts.list'),
        table<Account>(
          t('accounts.list'),
          [
            { label: t('accounts.address'), cell: (a) => h('a', { href: accountHref(a.address) }, a.address) },
            { label: t('accounts.displayName'), cell: (a) => a.displayName || h('span', { class: 'muted' }, '–') },
            { label: t('accounts.status'), cell: (a) => statusBadge(a.active) },
            { label: t('accounts.usage'), cell: (a) => usageView(a) },
            { label: t('accounts.messages'), cell: (a) => formatNumber(a.messages), class: 'num' }
          ],
          accounts,
          t('accounts.empty')
        )
      )
    ].filter(Boolean) as Node[];
  }
};

export const newAccountScreen: Screen = {
  path: '/accounts/new',
  ownerOnly: true,
  async render(ctx) {
    const { domains } = await api<{ domains: Domain[] }>('GET', '/domains');
    const nodes: Node[] = [h('p', { class: 'back' }, link('#/accounts', `← ${t('accounts.title')}`)), ...heading(t('accounts.newTitle'))];
    if (!domains.length) {
      nodes.push(h('p', { class: 'notice' }, t('accounts.noDomain'), ' ', link('#/domains', t('accounts.addDomainFirst'))));
      return nodes;
    }
    const address = addressInputs(domains, 'new-account');
    // the label points at the local part; the domain select carries its own aria-label
    const addressField = field(t('accounts.address'), address.local, { hint: t('accounts.addressHint'), wrap: address.group });
    const name = field(t('accounts.displayName'), h('input', { type: 'text', autocomplete: 'off', maxLength: 200 }), { hint: t('accounts.displayNameHint') });
    const password = passwordField(t('accounts.password'), ctx.policy, { address: address.address });
    const quota = quotaField(null, t('accounts.quotaHint'));
    const active = switchField(t('accounts.activeSwitch'), true, t('accounts.activeHint'));
    const error = errorArea();

    const checkLocal = () => {
      const problem = localPartProblem(address.local.value.trim());
      addressField.setError(problem);
      return !problem;
    };
    address.local.addEventListener('input', () => {
      checkLocal();
      password.refresh();
    });
    address.domain.addEventListener('change', () => password.refresh());

    nodes.push(
      section(
        t('accounts.newTitle'),
        form(
          async () => {
            error.clear();
            if (!address.local.value.trim()) {
              addressField.setError(t('address.required'));
              address.local.focus();
              return;
            }
            if (!checkLocal()) return address.local.focus();
            if (!password.valid()) {
              password.setError(t('password.notYet'));
              return password.control.focus();
            }
            const bytes = quota.read();
            if (Number.isNaN(bytes)) return;
            try {
              const created = await api<{ account: Account }>('POST', '/accounts', {
                address: address.address(),
                password: password.control.value,
                displayName: name.control.value.trim(),
                active: active.control.checked,
                ...(bytes === null ? {} : { quota: bytes })
              });
              announce(t('accounts.created', { address: created.account.address }));
              ctx.navigate(`/accounts/${encodeURIComponent(created.account.address)}`);
            } catch (err) {
              error.show(err);
            }
          },
          addressField.element,
          name.element,
          password.element,
          quota.element,
          active.element,
          error.element,
          h('div', { class: 'actions' }, submitButton(t('accounts.create')))
        )
      )
    );
    return nodes;
  }
};
