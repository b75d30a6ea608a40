// RETR (RFC 1939 §5): the whole message; it is marked \Seen when the session ends with QUIT.
import { malformed } from '../errors.js';
import { sendMessage } from '../message.js';
import type { CommandSpec } from '../session.js';

export const retr: CommandSpec = {
  states: ['transaction'],
  async handler(session, command) {
    if (command.args.length !== 1) throw malformed('RETR takes one message number');
    const { number, message } = session.message(command.args[0]);
    await sendMessage(session, number, message);
    session.retrieved.add(number);
  }
};
