// Password policy (a message per broken rule) and argon2id hashing for accounts and admin users.
import argon2 from 'argon2';
import { invalid } from './errors.js';
import { checkPasswordPolicy, type PasswordPolicy } from './password-policy.js';

export { checkPasswordPolicy, type PasswordPolicy, type PolicyViolation } from './password-policy.js';

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
