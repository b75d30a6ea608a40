// NOOP (RFC 1939 §5): keeps the session alive (the autologout timer restarts with every command).
import type { CommandSpec } from '../session.js';
import { noArguments } from './list.js';

export const noop: CommandSpec = {
  states: ['transaction'],
  async handler(session, command) {
    noArguments(command);
    return 'Still here';
  }
};
