// Mailbox user login shared by IMAP, POP3 and SMTP submission: address normalisation, rate limits, argon2id check.
import net from 'node:net';
import type { Kysely } from 'kysely';
import type { PlaintextLogin } from '../config/schema.js';
import type { Account, Database } from '../db/schema.js';
import { normalizeAddress } from '../directory/address.js';
import { verifyPassword } from '../directory/password.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { LoginLimiter } from './rate-limit.js';

export type LoginProtocol = 'imap' | 'pop3' | 'submission';

export interface LoginContext {
  db: Kysely<Database>;
  limiter: LoginLimiter;
  log: Logger;
  /** counts failures by protocol and reason (postfach_login_failures_total) */
  metrics?: Pick<Metrics, 'loginFailed'>;
}

export interface LoginInput {
  /** the account's full address, any case, domain in Unicode or punycode */
  username: string;
  password: string;
  /** the client's IP address */
  ip: string;
  protocol: LoginProtocol;
}

export type LoginResult = { ok: true; account: Account } | { ok: false; reason: 'invalid' | 'locked' | 'inactive' };

/**
 * Whether a password may be sent on this connection (imap.plaintextLogin, pop3.plaintextLogin): always inside TLS; in
 * clear only when the mode allows it, 'loopback' meaning from 127.0.0.0/8 or ::1 (a webmail or fetchmail on the box).
 */
export function loginAllowed(mode: PlaintextLogin, secure: boolean, remoteAddress: string): boolean {
  if (secure || mode === 'always') return true;
  if (mode === 'never') return false;
  const ip = remoteAddress.replace(/^::ffff:/, '');
  return net.isIP(ip) !== 0 && (ip.startsWith('127.') || ip === '::1');
}

/**
 * Longest password worth verifying: the policy allows 256 characters, at most 4 UTF-8 bytes each. Anything longer
 * cannot be right and is refused without hashing it.
 */
const MAX_PASSWORD_BYTES = 1024;

/**
 * Checks a mailbox user's credentials.
 *
 * The login name is the account's own address. Aliases are not login names: each one would be one more name to guess
 * under, with its own failure counter, and a client configured with an alias would break when the alias moves.
 * Subaddresses (name+tag@) are not login names either.
 *
 * Order matters: the limiter is asked first, so a locked client or name costs no argon2 work; the password is
 * verified (against a decoy hash when no such account exists, so timing does not tell) before the account's active
 * flag is looked at, so 'inactive' only ever answers someone who knows the password.
 */
export async function authenticateUser(ctx: LoginContext, input: LoginInput): Promise<LoginResult> {
  const { ip, protocol, password } = input;
  // A user name that is not an address is never logged: it is often a password typed into the wrong field.
  const parsed = normalizeAddress(input.username);
  const user = parsed?.address ?? null;
  const fields = { protocol, ip, user };

  const verdict = ctx.limiter.check(ip, user);
  if (verdict.locked) {
    ctx.log.info({ ...fields, scope: verdict.scope, retryAfter: Math.ceil(verdict.retryAfterMs / 1000) }, 'login refused: too many failures');
    ctx.metrics?.loginFailed(protocol, 'locked');
    await ctx.limiter.delay(ip, user);
    return { ok: false, reason: 'locked' };
  }

  const row = user
    ? await ctx.db
        .selectFrom('accounts')
        .innerJoin('domains', 'domains.id', 'accounts.domain_id')
        .selectAll('accounts')
        .select('domains.active as domain_active')
        .where('accounts.address', '=', user)
        .executeTakeFirst()
    : undefined;

  const plausible = Buffer.byteLength(password, 'utf8') <= MAX_PASSWORD_BYTES;
  const verified = plausible ? await verifyPassword(row?.password_hash, password) : false;
  if (!row || !verified) {
    ctx.limiter.recordFailure(ip, user);
    ctx.metrics?.loginFailed(protocol, 'invalid');
    ctx.log.info(parsed ? fields : { ...fields, malformedUser: true }, 'login failed');
    await ctx.limiter.delay(ip, user);
    return { ok: false, reason: 'invalid' };
  }

  const { domain_active: domainActive, ...account } = row;
  if (!account.active || !domainActive) {
    // The password was right: no failure is counted, and no success either (the counter is not cleared).
    ctx.metrics?.loginFailed(protocol, 'inactive');
    ctx.log.info({ ...fields, inactive: account.active ? 'domain' : 'account' }, 'login refused: inactive');
    return { ok: false, reason: 'inactive' };
  }

  ctx.limiter.recordSuccess(account.address);
  ctx.log.info(fields, 'login succeeded');
  return { ok: true, account };
}
