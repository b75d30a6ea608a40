// Mailbox names on the wire: UTF-8 once the client enabled UTF8=ACCEPT or IMAP4rev2, modified UTF-7 before.
import type { ImapValue } from '../parser.js';
import type { ImapSession } from '../session.js';
import { bad } from '../errors.js';
import { decodeMutf7, encodeMutf7 } from '../mutf7.js';
import { normalizeMailboxName } from '../../store/mailboxes.js';
import { mailboxName } from './args.js';

export function readMailboxName(session: ImapSession, value: ImapValue | undefined): string {
  const raw = mailboxName(value);
  if (session.utf8) return normalizeMailboxName(raw);
  const decoded = decodeMutf7(raw);
  if (decoded === null) {
    // 8-bit names from clients that never enabled UTF-8 are still taken as UTF-8 (they cannot mean anything else)
    if (/[^\x00-\x7f]/.test(raw) && !raw.includes('&')) return normalizeMailboxName(raw);
    throw bad('Mailbox name is not valid modified UTF-7');
  }
  return normalizeMailboxName(decoded);
}

/** A mailbox name as an IMAP quoted string. */
export function quoteMailboxName(session: ImapSession, name: string): string {
  const wire = session.utf8 ? name : encodeMutf7(name);
  return '"' + wire.replace(/["\\]/g, (c) => '\\' + c) + '"';
}
