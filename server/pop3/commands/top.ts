// TOP (RFC 1939 §7): the header, the blank line and the first n lines of the body; flags are left alone.
import { malformed } from '../errors.js';
import { sendMessage } from '../message.js';
import { decimal, type CommandSpec } from '../session.js';

export const top: CommandSpec = {
  states: ['transaction'],
  async handler(session, command) {
    if (command.args.length !== 2) throw malformed('TOP takes a message number and a number of lines');
    const { number, message } = session.message(command.args[0]);
    const lines = decimal(command.args[1]);
    if (lines === null) throw malformed('The number of lines must be a non-negative integer');
    // RFC 1939 §7: more lines than the body has sends the whole message; fetchmail asks for 99999999 to read a message
    // without marking it seen, and any larger count means the same
    await sendMessage(session, number, message, Number(lines));
  }
};
