// More addresses: aliases (another address for an account), forwards (mail passed on, with or without a copy) and
// the catch-all per domain (only for addresses that match nothing else).
import { api, seg, type Account, type Alias, type Domain, type Forward } from '../api.js';
import type { AppContext, Screen } from '../app.js';
import { confirmDialog } from '../dialog.js';
import { button, field, form, h, section, submitButton, switchField, table } from '../dom.js';
import { announce, describeError, errorArea } from '../feedback.js';
import { t } from '../i18n.js';
import { accountHref, addressInputs, heading, localPartProblem } from './common.js';

function accountSelect(accounts: Account[], selected = ''): HTMLSelectElement {
  return h('select', null, h('option', { value: '' }, t('common.choose')), accounts.map((a) => h('option', { value: a.address, selected: a.address === selected }, a.address)));
}

function remove(ctx: AppContext, label: string, title: string, message: string, action: () => Promise<unknown>, done: string): HTMLButtonElement {
  return button(label, async () => {
    if (await confirmDialog({ title, message: [message], confirm: label, danger: true, action: async () => void (await action()) })) {
      await ctx.refresh(done);
    }
  }, 'danger small');
}

function aliasSection(ctx: AppContext, aliases: Alias[], accounts: Account[], domains: Domain[]): HTMLElement {
  const columns = [
    { label: t('alias.address'), cell: (a: Alias) => h('code', null, a.address) },
    { label: t('alias.account'), cell: (a: Alias) => h('a', { href: accountHref(a.account) }, a.account) }
  ];
  if (ctx.isOwner) {
    columns.push({
      label: t('common.actions'),
      cell: (a: Alias) => remove(ctx, t('common.remove'), t('alias.removeTitle', { address: a.address }), t('alias.removeConfirm', { address: a.address, account: a.account }), () => api('DELETE', `/aliases/${seg(a.address)}`), t('alias.removed', { address: a.address }))
    });
  }
  const parts: Node[] = [h('p', null, t('alias.intro')), table(t('alias.title'), columns, aliases, t('alias.empty'))];
  if (ctx.isOwner && domains.length && accounts.length) {
    const address = addressInputs(domains, 'alias');
    const addressField = field(t('alias.address'), address.local, { wrap: address.group });
    address.local.addEventListener('input', () => addressField.setError(localPartProblem(address.local.value.trim())));
    const account = field(t('alias.account'), accountSelect(accounts));
    const error = errorArea();
    parts.push(
      h('h3', null, t('alias.add')),
      form(
        async () => {
          error.clear();
          if (!address.local.value.trim()) return addressField.setError(t('address.required'));
          if (!account.control.value) return account.setError(t('alias.chooseAccount'));
          account.setError(null);
          try {
            await api('POST', '/aliases', { address: address.address(), account: account.control.value });
            await ctx.refresh(t('alias.added', { address: address.address(), account: account.control.value }));
          } catch (err) {
            error.show(err);
          }
        },
        h('div', { class: 'inline-fields' }, addressField.element, account.element),
        error.element,
        h('div', { class: 'actions' }, submitButton(t('alias.addButton')))
      )
    );
  }
  return section(t('alias.title'), ...parts);
}

/** Destinations typed one per line (or separated by commas or spaces). */
const splitAddresses = (text: string) => text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean);

function forwardSection(ctx: AppContext, forwards: Forward[], accounts: Account[]): HTMLElement {
  const keepCopyCell = (f: Forward) => {
    if (!ctx.isOwner) return f.keepCopy ? t('common.yes') : t('common.no');
    const toggle = h('input', { type: 'checkbox', role: 'switch', checked: f.keepCopy, 'aria-label': t('forward.keepCopyFor', { address: f.source }) });
    toggle.addEventListener('change', async () => {
      toggle.disabled = true;
      try {
        await api('PUT', `/forwards/${seg(f.source)}`, { destinations: f.destinations, keepCopy: toggle.checked });
        announce(t(toggle.checked ? 'forward.keepOn' : 'forward.keepOff', { address: f.source }));
      } catch (err) {
        toggle.checked = !toggle.checked;
        announce(describeError(err));
      } finally {
        toggle.disabled = false;
      }
    });
    return h('label', { class: 'switch inline' }, toggle, h('span', null, t('forward.keepCopyShort')));
  };
  const columns = [
    { label: t('forward.source'), cell: (f: Forward) => h('code', null, f.source) },
    { label: t('forward.destinations'), cell: (f: Forward) => h('ul', { class: 'plain' }, f.destinations.map((d) => h('li', null, d))) },
    { label: t('forward.keepCopy'), cell: keepCopyCell }
  ];
  if (ctx.isOwner) {
    columns.push({
      label: t('common.actions'),
      cell: (f: Forward) => remove(ctx, t('forward.remove'), t('forward.removeTitle', { address: f.source }), t('forward.removeConfirm', { address: f.source }), () => api('DELETE', `/forwards/${seg(f.source)}`), t('forward.removed', { address: f.source }))
    });
  }
  const parts: Node[] = [h('p', null, t('forward.intro')), table(t('forward.title'), columns, forwards, t('forward.empty'))];
  if (ctx.isOwner) {
    const listId = 'forward-accounts';
    const source = field(t('forward.source'), h('input', { type: 'email', list: listId, autocomplete: 'off', spellcheck: false, autocapitalize: 'none' }), {
      hint: t('forward.sourceHint'),
      after: h('datalist', { id: listId }, accounts.map((a) => h('option', { value: a.address })))
    });
    source.control.addEventListener('input', () => {
      const lower = source.control.value.toLowerCase();
      if (lower !== source.control.value) source.control.value = lower;
    });
    const destinations = field(t('forward.destinations'), h('textarea', { rows: 3, spellcheck: false, autocapitalize: 'none' }), { hint: t('forward.destinationsHint') });
    const keep = switchField(t('forward.keepCopy'), true, t('forward.keepCopyHint'));
    const error = errorArea();
    parts.push(
      h('h3', null, t('forward.add')),
      form(
        async () => {
          error.clear();
          const list = splitAddresses(destinations.control.value);
          if (!source.control.value.trim()) return source.setError(t('address.required'));
          source.setError(null);
          if (!list.length) return destinations.setError(t('forward.needDestination'));
          destinations.setError(null);
          try {
            await api('POST', '/forwards', { source: source.control.value.trim(), destinations: list, keepCopy: keep.control.checked });
            await ctx.refresh(t('forward.added', { address: source.control.value.trim() }));
          } catch (err) {
            error.show(err);
          }
        },
        source.element,
        destinations.element,
        keep.element,
        error.element,
        h('div', { class: 'actions' }, submitButton(t('forward.addButton')))
      )
    );
  }
  return section(t('forward.title'), ...parts);
}

function catchAllSection(ctx: AppContext, domains: Domain[], accounts: Account[], aliases: Alias[]): HTMLElement {
  const rows = domains.map((domain) => {
    const inDomain = [...accounts.map((a) => a.address), ...aliases.map((a) => a.address)].filter((a) => a.endsWith(`@${domain.name}`)).sort();
    if (!ctx.isOwner) return h('div', { class: 'catchall-row' }, h('strong', null, domain.name), h('span', null, domain.catchAll ?? t('catchall.off')));
    const select = h(
      'select',
      { id: `catchall-${domain.ascii}` },
      h('option', { value: '' }, t('catchall.off')),
      inDomain.map((a) => h('option', { value: a, selected: a === domain.catchAll }, a))
    );
    const error = errorArea();
    return form(
      async () => {
        error.clear();
        try {
          if (select.value) await api('PUT', `/domains/${seg(domain.name)}/catch-all`, { target: select.value });
          else await api('DELETE', `/domains/${seg(domain.name)}/catch-all`);
          await ctx.refresh(select.value ? t('catchall.set', { domain: domain.name, target: select.value }) : t('catchall.cleared', { domain: domain.name }));
        } catch (err) {
          error.show(err);
        }
      },
      h('div', { class: 'catchall-row' }, h('label', { for: select.id }, t('catchall.for', { domain: domain.name })), select, submitButton(t('common.save'))),
      error.element
    );
  });
  return section(t('catchall.title'), h('p', null, t('catchall.intro')), h('p', { class: 'hint' }, t('catchall.spam')), domains.length ? rows : h('p', { class: 'empty' }, t('domains.empty')));
}

export const addressesScreen: Screen = {
  path: '/addresses',
  async render(ctx) {
    const [{ aliases }, { forwards }, { accounts }, { domains }] = await Promise.all([
      api<{ aliases: Alias[] }>('GET', '/aliases'),
      api<{ forwards: Forward[] }>('GET', '/forwards'),
      api<{ accounts: Account[] }>('GET', '/accounts'),
      api<{ domains: Domain[] }>('GET', '/domains')
    ]);
    return [...heading(t('addresses.title'), t('addresses.intro')), aliasSection(ctx, aliases, accounts, domains), forwardSection(ctx, forwards, accounts), catchAllSection(ctx, domains, accounts, aliases)];
  }
};
