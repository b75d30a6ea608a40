// CAPABILITY (RFC 9051 §6.1.1).
import type { CommandSpec } from '../session.js';

export const capability: CommandSpec = {
  states: ['not-authenticated', 'authenticated', 'selected'],
  async handler(session) {
    session.write(`* CAPABILITY ${session.capabilities().join(' ')}\r\n`);
  }
};
