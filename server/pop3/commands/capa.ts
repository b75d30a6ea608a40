// CAPA (RFC 2449 §5): what this server offers in the session's current state.
import type { CommandSpec, Pop3Session } from '../session.js';
import { noArguments } from './list.js';

/** RFC 2449 §6; USER and SASL only where a login may be sent (pop3.plaintextLogin), STLS only before TLS. */
export function capabilities(session: Pop3Session): string[] {
  const caps = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'EXPIRE NEVER', 'IMPLEMENTATION Postfach'];
  if (session.state !== 'authorization') return caps;
  if (!session.secure) caps.push('STLS');
  if (session.loginAllowed) caps.push('USER', `SASL ${SASL_MECHANISMS.join(' ')}`);
  return caps;
}

/** RFC 5034 PLAIN (RFC 4616) and LOGIN, which Outlook and older clients speak. */
export const SASL_MECHANISMS = ['PLAIN', 'LOGIN'];

export const capa: CommandSpec = {
  states: ['authorization', 'transaction'],
  async handler(session, command) {
    noArguments(command);
    session.writeList('Capability list follows', capabilities(session));
  }
};
