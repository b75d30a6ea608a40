// DELE (RFC 1939 §5): marks the message; it is removed only when QUIT enters the UPDATE state.
import { malformed } from '../errors.js';
import type { CommandSpec } from '../session.js';

export const dele: CommandSpec = {
  states: ['transaction'],
  async handler(session, command) {
    if (command.args.length !== 1) throw malformed('DELE takes one message number');
    const { number } = session.message(command.args[0]);
    session.deleted.add(number);
    return `Message ${number} deleted`;
  }
};
