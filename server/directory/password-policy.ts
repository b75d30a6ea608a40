// The password policy's rules, free of Node APIs: the server enforces them and the admin UI bundles this same module
// to show them live while the owner types (GET /api/v1/password-policy gives the configured minimum length).

export interface PasswordPolicy {
  minLength: number;
}

export type PolicyRule = 'minLength' | 'maxLength' | 'characters' | 'containsName' | 'common' | 'whitespace';

export interface PolicyViolation {
  rule: PolicyRule;
  message: string;
}

export const PASSWORD_MAX_LENGTH = 256;
/** A mailbox name shorter than this may well appear in a good password by chance ("al" in "Walnuss"). */
export const NAME_MIN_LENGTH = 3;

/** The most used passwords (and their German favourites): refused whatever their length. */
const COMMON = new Set([
  'password', 'password1', 'password123', 'passwort', 'passwort1', 'passwort123', '1234567890', '12345678910',
  'qwertzuiop', 'qwertyuiop', 'hallo12345', 'sommer2024', 'sommer2025', 'sommer2026', 'winter2025', 'winter2026',
  'letmein123', 'welcome123', 'willkommen', 'willkommen1', 'iloveyou12', 'administrator', 'changeme123', '0123456789'
]);

/** Every rule in the order they are checked, with the English sentence the API and CLI give. */
export function policyRules(policy: PasswordPolicy): PolicyViolation[] {
  return [
    { rule: 'minLength', message: `at least ${policy.minLength} characters` },
    { rule: 'maxLength', message: `at most ${PASSWORD_MAX_LENGTH} characters` },
    { rule: 'characters', message: 'letters and at least one digit or symbol' },
    { rule: 'whitespace', message: 'no space at the start or end' },
    { rule: 'containsName', message: 'must not contain the mailbox name' },
    { rule: 'common', message: 'is one of the most common passwords' }
  ];
}

/** Every rule the password breaks; empty when it is acceptable. */
export function checkPasswordPolicy(password: string, policy: PasswordPolicy, address?: string): PolicyViolation[] {
  const length = [...password].length;
  const local = address?.split('@')[0]?.toLowerCase();
  const broken: Record<PolicyRule, boolean> = {
    minLength: length < policy.minLength,
    maxLength: length > PASSWORD_MAX_LENGTH,
    characters: !/\p{L}/u.test(password) || !/[\p{N}\p{P}\p{S}]/u.test(password),
    whitespace: /^\s|\s$/.test(password),
    containsName: Boolean(local && local.length >= NAME_MIN_LENGTH && password.toLowerCase().includes(local)),
    common: COMMON.has(password.toLowerCase())
  };
  return policyRules(policy).filter((r) => broken[r.rule]);
}
