// LIST (RFC 1939 §5) and the scan-listing shape UIDL shares: one message with an argument, all live ones without.
import { malformed } from '../errors.js';
import type { CommandSpec, Pop3Command, Pop3Session } from '../session.js';
import type { MaildropMessage } from '../../store/maildrop.js';

export function noArguments(command: Pop3Command): void {
  if (command.args.length) throw malformed(`${command.name} takes no arguments`);
}

/** "+OK n value" for one message, or the multi-line listing of every message not marked deleted. */
export function listing(session: Pop3Session, command: Pop3Command, value: (message: MaildropMessage) => string | number, heading: string): string | void {
  if (command.args.length > 1) throw malformed(`${command.name} takes at most one message number`);
  if (command.args.length === 1) {
    const { number, message } = session.message(command.args[0]);
    return `${number} ${value(message)}`;
  }
  const lines: string[] = [];
  for (const [number, message] of session.live()) lines.push(`${number} ${value(message)}`);
  session.writeList(heading, lines);
}

export const list: CommandSpec = {
  states: ['transaction'],
  async handler(session, command) {
    const { count, octets } = session.summary();
    return listing(session, command, (message) => message.size, `${count} messages (${octets} octets)`);
  }
};
