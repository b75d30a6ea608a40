// Password policy (a message per broken rule) and argon2id hashing for accounts and admin users.
import argon2 from 'argon2';
import { invalid } from './errors.js';

export interface PasswordPolicy {
  minLength: number;
}

export interface PolicyViolation {
  rule: 'minLength' | 'maxLength' | 'characters' | 'containsName' | 'common' | 'whitespace';
  message: string;
}

const MAX_LENGTH = 256;
/** The most used passwords (and their German favourites): refused whatever their length. */
const COMMON = new Set([
  'password', 'password1', 'password123', 'passwort', 'passwort1', 'passwort123', '1234567890', '12345678910',
  'qwertzuiop', 'qwertyuiop', 'hallo12345', 'sommer2024', 'sommer2025', 'sommer2026', 'winter2025', 'winter2026',
  'letmein123', 'welcome123', 'willkommen', 'willkommen1', 'iloveyou12', 'administrator', 'changeme123', '0123456789'
]);

/** Every rule the password breaks; empty when it is acceptable. */
export function checkPasswordPolicy(password: string, policy: PasswordPolicy, address?: string): PolicyViolation[] {
  const problems: PolicyViolation[] = [];
  const length = [...password].length;
  if (length < policy.minLength) problems.push({ rule: 'minLength', message: `at least ${policy.minLength} characters` });
  if (length > MAX_LENGTH) problems.push({ rule: 'maxLength', message: `at most ${MAX_LENGTH} characters` });
  if (!/\p{L}/u.test(password) || !/[\p{N}\p{P}\p{S}]/u.test(password)) {
    problems.push({ rule: 'characters', message: 'letters and at least one digit or symbol' });
  }
  if (/^\s|\s$/.test(password)) problems.push({ rule: 'whitespace', message: 'no space at the start or end' });
  const local = address?.split('@')[0]?.toLowerCase();
  if (local && local.length >= 3 && password.toLowerCase().includes(local)) {
    problems.push({ rule: 'containsName', message: 'must not contain the mailbox name' });
  }
  if (COMMON.has(password.toLowerCase())) problems.push({ rule: 'common', message: 'is one of the most common passwords' });
  return problems;
}

/** Throws a DirectoryError naming the field and every broken rule. */
export function assertPasswordPolicy(password: string, policy: PasswordPolicy, address?: string): void {
  const problems = checkPasswordPolicy(password, policy, address);
  if (problems.length) {
    const err = invalid('password', problems.map((p) => p.rule).join(','), `password needs: ${problems.map((p) => p.message).join('; ')}`);
    Object.assign(err, { violations: problems });
    throw err;
  }
}

/** OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane). */
const HASH_OPTIONS = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, HASH_OPTIONS);
}

/** A hash of nothing, verified against when the user does not exist, so timing does not reveal which addresses exist. */
let decoy: Promise<string> | undefined;

export async function verifyPassword(hash: string | null | undefined, password: string): Promise<boolean> {
  if (!hash) {
    decoy ??= hashPassword('decoy-password-never-matches');
    await argon2.verify(await decoy, password).catch(() => false);
    return false;
  }
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}
