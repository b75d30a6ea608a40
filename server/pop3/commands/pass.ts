// PASS (RFC 1939 §7) and what AUTH shares with it: the login check, the maildrop lock, the move to TRANSACTION.
import { authenticateUser } from '../../auth/login.js';
import { openMaildrop } from '../../store/maildrop.js';
import { malformed, Pop3Error } from '../errors.js';
import type { CommandSpec, Pop3Session } from '../session.js';

/**
 * RFC 2595 §2.2 / pop3.plaintextLogin: no password in clear unless the configuration allows it here. RFC 3206 §5 counts
 * "an attempt to authenticate in violation of policy" among the [AUTH] failures (Dovecot answers the same way).
 */
export function requireLoginAllowed(session: Pop3Session): void {
  if (!session.loginAllowed) throw new Pop3Error('AUTH', 'Plaintext login is disabled: use STLS (or the POP3S port) first');
}

export async function completeLogin(session: Pop3Session, username: string, password: string): Promise<string> {
  requireLoginAllowed(session);
  const { services, limiter } = session.ctx;
  const result = await authenticateUser({ db: services.db, limiter, log: session.log, metrics: services.metrics }, { username, password, ip: session.remoteAddress, protocol: 'pop3' });
  if (!result.ok) {
    // RFC 3206: SYS/TEMP tells the client to retry later rather than ask the user for the password again
    if (result.reason === 'locked') throw new Pop3Error('SYS/TEMP', 'Too many failed logins; try again later');
    if (result.reason === 'inactive') throw new Pop3Error('AUTH', 'Account is disabled');
    throw new Pop3Error('AUTH', 'Invalid credentials');
  }
  const account = result.account;
  // RFC 1939 §8: the server takes an exclusive lock on the maildrop; RFC 2449 §8.1.2 names the refusal
  if (!session.lock(account)) throw new Pop3Error('IN-USE', 'Mailbox is in use by another POP3 session');
  session.account = account;
  session.watchAccount(account.id);
  try {
    session.maildrop = await openMaildrop(services.db, services.writes, services.blobs, account.id, session.log);
  } catch (err) {
    session.unlock();
    session.account = null;
    throw err;
  }
  session.state = 'transaction';
  const { count, octets } = session.summary();
  session.log.info({ user: account.address, messages: count }, 'logged in');
  return `Logged in, ${count} messages (${octets} octets)`;
}

export const pass: CommandSpec = {
  states: ['authorization'],
  async handler(session, command) {
    const username = session.user;
    if (username === null) throw malformed('Send USER first');
    // RFC 1939 §7: after a failed PASS the client starts again with USER
    session.user = null;
    if (!command.rest) throw malformed('PASS needs the password');
    return completeLogin(session, username, command.rest);
  }
};
