// RSET (RFC 1939 §5): unmarks every deleted message, and forgets which were retrieved (no \Seen at QUIT for them).
import type { CommandSpec } from '../session.js';
import { noArguments } from './list.js';

export const rset: CommandSpec = {
  states: ['transaction'],
  async handler(session, command) {
    noArguments(command);
    session.deleted.clear();
    session.retrieved.clear();
    const { count, octets } = session.summary();
    return `Maildrop has ${count} messages (${octets} octets)`;
  }
};
