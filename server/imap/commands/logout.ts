// LOGOUT (RFC 9051 §6.1.3): BYE, then the tagged OK, then the connection closes.
import type { CommandSpec } from '../session.js';

export const logout: CommandSpec = {
  states: ['not-authenticated', 'authenticated', 'selected'],
  async handler(session, command) {
    session.write('* BYE Postfach logging out\r\n');
    session.write(`${command.tag} OK LOGOUT completed\r\n`);
    session.end();
  }
};
