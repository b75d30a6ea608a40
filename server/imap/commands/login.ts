// LOGIN (RFC 9051 §6.2.3) and what AUTHENTICATE shares with it: the full address as user name, rate limits,
// inactive accounts refused, LOGINDISABLED before TLS when the configuration asks for it.
import { authenticateUser } from '../../auth/login.js';
import type { CommandResult, CommandSpec, ImapSession } from '../session.js';
import { no } from '../errors.js';
import { argCount, astring } from './args.js';

export async function completeLogin(session: ImapSession, username: string, password: string): Promise<CommandResult> {
  if (session.loginDisabled) throw no('PRIVACYREQUIRED', 'Use STARTTLS (or port 993) before logging in');
  const { services } = session.ctx;
  const result = await authenticateUser(
    { db: services.db, limiter: session.ctx.limiter, log: session.log, metrics: services.metrics },
    { username, password, ip: session.remoteAddress, protocol: 'imap' }
  );
  if (!result.ok) {
    if (result.reason === 'locked') throw no('UNAVAILABLE', 'Too many failed logins; try again later');
    if (result.reason === 'inactive') throw no('AUTHENTICATIONFAILED', 'Account is disabled');
    throw no('AUTHENTICATIONFAILED', 'Invalid credentials');
  }
  session.account = result.account;
  session.state = 'authenticated';
  session.raiseParserLimits();
  session.watchAccount(result.account.id);
  session.log.info({ user: result.account.address }, 'logged in');
  return { code: `CAPABILITY ${session.capabilities().join(' ')}`, text: 'Logged in' };
}

export const login: CommandSpec = {
  states: ['not-authenticated'],
  async handler(session, command) {
    argCount(command, 2);
    return completeLogin(session, astring(command.args[0], 'a user name'), astring(command.args[1], 'a password'));
  }
};
