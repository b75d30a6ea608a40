// TOP (RFC 1939 §7): the header, the blank line and the first n lines of the body; flags are left alone.
import { malformed } from '../errors.js';
import { sendMessage } from '../message.js';
import type { CommandSpec } from '../session.js';

export const top: CommandSpec = {
  states: ['transaction'],
  async handler(session, command) {
    if (command.args.length !== 2) throw malformed('TOP takes a message number and a number of lines');
    const { number, message } = session.message(command.args[0]);
    if (!/^\d{1,10}$/.test(command.args[1])) throw malformed('The number of lines must be a non-negative integer');
    await sendMessage(session, number, message, Number(command.args[1]));
  }
};
