// Pieces several screens share: page headings, usage with a meter, status badges, address inputs, quota inputs.
import type { Account, Domain } from '../api.js';
import { badge, field, h } from '../dom.js';
import { formatBytes, t } from '../i18n.js';

export function heading(title: string, lead?: string | Node): Node[] {
  return [h('h1', null, title), lead ? h('p', { class: 'lead' }, lead) : null].filter(Boolean) as Node[];
}

export function backLink(href: string, text: string): HTMLElement {
  return h('p', { class: 'back' }, h('a', { href }, `← ${text}`));
}

export function statusBadge(active: boolean): HTMLElement {
  return active ? badge(t('account.active'), 'ok') : badge(t('account.inactive'), 'neutral');
}

/** "1,2 MB of 1 GB" with a meter, or "1,2 MB (no limit)". */
export function usageView(account: Pick<Account, 'usedBytes' | 'quota'>): HTMLElement {
  if (!account.quota) return h('span', { class: 'usage' }, t('usage.unlimited', { used: formatBytes(account.usedBytes) }));
  const text = t('usage.of', { used: formatBytes(account.usedBytes), quota: formatBytes(account.quota) });
  return h(
    'span',
    { class: 'usage' },
    h('meter', { min: 0, max: account.quota, value: Math.min(account.usedBytes, account.quota), low: account.quota * 0.8, high: account.quota * 0.95, optimum: 0, 'aria-label': text }),
    h('span', null, text)
  );
}

/** Local parts are lower case: applied while typing, keeping the cursor where it was. */
export function lowercaseAsYouType(input: HTMLInputElement): void {
  input.addEventListener('input', () => {
    const lower = input.value.toLowerCase();
    if (lower === input.value) return;
    const start = input.selectionStart;
    const end = input.selectionEnd;
    input.value = lower;
    if (start !== null && end !== null) input.setSelectionRange(start, end);
  });
}

/** The rule the server applies to local parts (server/directory/address.ts), for the live hint. */
const LOCAL_PART = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/;

export function localPartProblem(local: string): string | null {
  if (!local) return null;
  if (local.includes('+')) return t('address.plus');
  if (local.length > 64) return t('address.tooLong');
  if (!LOCAL_PART.test(local)) return t('address.characters');
  return null;
}

/** name @ [domain ▾]: a local-part input (lower case as typed) and the hosted domains. */
export function addressInputs(domains: Domain[], prefix: string): { local: HTMLInputElement; domain: HTMLSelectElement; group: HTMLElement; address(): string } {
  const local = h('input', { type: 'text', id: `${prefix}-local`, autocomplete: 'off', spellcheck: false, autocapitalize: 'none', maxLength: 64, required: true });
  lowercaseAsYouType(local);
  const domain = h('select', { id: `${prefix}-domain`, 'aria-label': t('address.domain') }, domains.map((d) => h('option', { value: d.name }, d.name)));
  const group = h('div', { class: 'address-input' }, local, h('span', { class: 'at', 'aria-hidden': 'true' }, '@'), domain);
  return { local, domain, group, address: () => `${local.value.trim()}@${domain.value}` };
}

/**
 * The storage limit field: a number and a unit (MB/GB). Empty means "the default" for new accounts and "no limit"
 * when editing. read() gives bytes, null when empty, or NaN after showing the error and focusing the field.
 */
export function quotaField(bytes: number | null, hint: string): { element: HTMLElement; read(): number | null } {
  const gb = bytes && bytes % 1024 ** 3 === 0;
  const input = h('input', { type: 'number', min: 0, step: 'any', inputMode: 'decimal', value: bytes ? String(bytes / (gb ? 1024 ** 3 : 1024 ** 2)) : '' });
  const unit = h('select', { 'aria-label': t('quota.unit') }, h('option', { value: 'MB', selected: !gb }, 'MB'), h('option', { value: 'GB', selected: Boolean(gb) }, 'GB'));
  const f = field(t('accounts.quota'), input, { hint, wrap: h('div', { class: 'quota-input' }, input, unit) });
  return {
    element: f.element,
    read() {
      if (input.value.trim() === '') return null;
      const n = Number(input.value);
      const valid = Number.isFinite(n) && n >= 0;
      f.setError(valid ? null : t('quota.invalid'));
      if (!valid) input.focus();
      return valid ? Math.round(n * (unit.value === 'GB' ? 1024 ** 3 : 1024 ** 2)) : NaN;
    }
  };
}

export const accountHref = (address: string) => `#/accounts/${encodeURIComponent(address)}`;
export const domainHref = (name: string) => `#/domains/${encodeURIComponent(name)}`;
