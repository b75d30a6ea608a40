// USER (RFC 1939 §7): the full address as mailbox name, answered +OK whether or not such an account exists.
import { malformed } from '../errors.js';
import type { CommandSpec } from '../session.js';
import { requireLoginAllowed } from './pass.js';

export const user: CommandSpec = {
  states: ['authorization'],
  async handler(session, command) {
    requireLoginAllowed(session);
    if (!command.rest.trim()) throw malformed('USER needs a mailbox name (the full address)');
    session.user = command.rest.trim();
    return 'Send PASS';
  }
};
