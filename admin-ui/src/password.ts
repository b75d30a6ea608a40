// The password field: the policy's rules checked live as the user types (the very code the server runs), a
// show/hide switch and a generator whose passwords always pass.
import { checkPasswordPolicy, type PolicyRule } from '../../server/directory/password-policy.js';
import type { PolicyInfo } from './api.js';
import { copyButton } from './copy.js';
import { button, field, h, type Field } from './dom.js';
import { ruleText } from './feedback.js';
import { t } from './i18n.js';

/** Letters and digits that cannot be mistaken for each other when read aloud or typed from paper (no 0/O, 1/l/I). */
const ALPHABET = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const GROUP = 4;

function randomIndex(n: number): number {
  // rejection sampling: no modulo bias
  const limit = Math.floor(0x100000000 / n) * n;
  const buffer = new Uint32Array(1);
  for (;;) {
    crypto.getRandomValues(buffer);
    if (buffer[0] < limit) return buffer[0] % n;
  }
}

/** Groups of four separated by "-" (about 5.8 bits a character): e.g. "k7Qm-Xp3r-Wt9z-Hb4c". */
export function generatePassword(policy: PolicyInfo, address?: string): string {
  for (;;) {
    const groups = Math.max(4, Math.ceil(policy.minLength / (GROUP + 1)) + 1);
    const password = Array.from({ length: groups }, () => Array.from({ length: GROUP }, () => ALPHABET[randomIndex(ALPHABET.length)]).join('')).join('-');
    if (checkPasswordPolicy(password, policy, address).length === 0) return password;
  }
}

/** The rules shown as a checklist; maxLength and whitespace only appear once broken. */
const SHOWN: PolicyRule[] = ['minLength', 'characters', 'containsName', 'common'];

export interface PasswordField extends Field<HTMLInputElement> {
  /** true when the current value passes every rule */
  valid(): boolean;
  refresh(): void;
}

export function passwordField(label: string, policy: PolicyInfo, options: { address?: () => string | undefined; autocomplete?: string } = {}): PasswordField {
  const input = h('input', { type: 'password', autocomplete: options.autocomplete ?? 'new-password', spellcheck: false, autocapitalize: 'none', maxLength: policy.maxLength });
  const list = h('ul', { class: 'rules' });
  const toggle = button(t('password.show'), () => {
    const hidden = input.type === 'password';
    input.type = hidden ? 'text' : 'password';
    toggle.textContent = hidden ? t('password.hide') : t('password.show');
    toggle.setAttribute('aria-pressed', String(hidden));
  }, 'secondary', { 'aria-pressed': 'false' });
  const copySlot = h('span', { class: 'copy-slot' });
  const generate = button(t('password.generate'), () => {
    input.value = generatePassword(policy, options.address?.());
    input.type = 'text';
    toggle.textContent = t('password.hide');
    toggle.setAttribute('aria-pressed', 'true');
    copySlot.replaceChildren(copyButton(input.value, t('password.generated')));
    refresh();
    input.focus();
  });
  const f = field(label, input, { hint: list, after: h('span', { class: 'buttons' }, toggle, generate, copySlot) });

  function refresh(): void {
    const broken = new Set(checkPasswordPolicy(input.value, policy, options.address?.()).map((v) => v.rule));
    const rules: PolicyRule[] = [...SHOWN, ...(['whitespace', 'maxLength'] as const).filter((r) => broken.has(r))];
    list.replaceChildren(
      ...rules.map((rule) => {
        const met = input.value !== '' && !broken.has(rule);
        return h(
          'li',
          { class: met ? 'met' : input.value ? 'unmet' : '' },
          h('span', { class: 'mark', 'aria-hidden': 'true' }, met ? '✓' : input.value ? '✗' : '•'),
          ruleText(rule, { n: policy.minLength, max: policy.maxLength }) ?? rule,
          h('span', { class: 'visually-hidden' }, met ? ` (${t('password.met')})` : input.value ? ` (${t('password.unmet')})` : '')
        );
      })
    );
  }
  input.addEventListener('input', () => {
    copySlot.replaceChildren();
    refresh();
    f.setError(null);
  });
  refresh();
  return {
    ...f,
    refresh,
    valid: () => checkPasswordPolicy(input.value, policy, options.address?.()).length === 0
  };
}
