// UIDL (RFC 1939 §7): unique ids that stay the same across sessions (UIDVALIDITY.UID of the INBOX message).
import { uniqueId } from '../../store/maildrop.js';
import type { CommandSpec } from '../session.js';
import { listing } from './list.js';

export const uidl: CommandSpec = {
  states: ['transaction'],
  async handler(session, command) {
    const mailbox = session.maildrop!.mailbox;
    return listing(session, command, (message) => uniqueId(mailbox, message.uid), 'Unique-id listing follows');
  }
};
