// STARTTLS (RFC 9051 §6.2.1): only before login and only on a connection that is not already encrypted.
import type { CommandSpec } from '../session.js';
import { bad } from '../errors.js';

export const starttls: CommandSpec = {
  states: ['not-authenticated'],
  async handler(session, command) {
    if (session.secure) throw bad('Already using TLS');
    session.write(`${command.tag} OK Begin TLS negotiation now\r\n`);
    await session.startTls();
    return { sent: true };
  }
};
