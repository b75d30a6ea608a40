// STAT (RFC 1939 §5): messages not marked deleted and their size in octets.
import type { CommandSpec } from '../session.js';
import { noArguments } from './list.js';

export const stat: CommandSpec = {
  states: ['transaction'],
  async handler(session, command) {
    noArguments(command);
    const { count, octets } = session.summary();
    return `${count} ${octets}`;
  }
};
