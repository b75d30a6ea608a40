// NOOP and CHECK (RFC 9051 §6.1.2, RFC 3501 §6.4.1): nothing to do; pending updates go out with the reply.
import type { CommandSpec } from '../session.js';

export const noop: CommandSpec = {
  states: ['not-authenticated', 'authenticated', 'selected'],
  async handler() {}
};

export const check: CommandSpec = {
  states: ['selected'],
  async handler() {}
};
