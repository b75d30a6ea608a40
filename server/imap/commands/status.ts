// STATUS (RFC 9051 §6.3.11) with SIZE (RFC 8438), HIGHESTMODSEQ (RFC 7162) and APPENDLIMIT (RFC 7889).
import type { Mailbox } from '../../db/schema.js';
import type { CommandSpec, ImapSession } from '../session.js';
import { bad, no } from '../errors.js';
import { argCount, atom, list } from './args.js';
import { quoteMailboxName, readMailboxName } from './names.js';
import { findMailbox } from '../../store/mailboxes.js';
import { mailboxCounts } from '../../store/mailbox-messages.js';

const ITEMS = new Set(['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'SIZE', 'RECENT', 'HIGHESTMODSEQ', 'APPENDLIMIT']);

export function statusItems(values: ReturnType<typeof list>): string[] {
  const items = values.map((v) => atom(v, 'a status item').toUpperCase());
  for (const item of items) if (!ITEMS.has(item)) throw bad(`Unknown STATUS item ${item}`);
  return items;
}

/** The "* STATUS name (…)" line for a folder. */
export async function statusLine(session: ImapSession, mailbox: Mailbox, items: string[]): Promise<string> {
  const counts = await mailboxCounts(session.ctx.services.db, mailbox.id);
  const value: Record<string, number> = {
    MESSAGES: counts.messages,
    UNSEEN: counts.unseen,
    DELETED: counts.deleted,
    SIZE: counts.size,
    UIDNEXT: mailbox.uidnext,
    UIDVALIDITY: mailbox.uidvalidity,
    RECENT: 0,
    HIGHESTMODSEQ: mailbox.highestmodseq,
    APPENDLIMIT: session.config.imap.appendLimit
  };
  if (items.includes('HIGHESTMODSEQ')) session.condstore = true;
  return `* STATUS ${quoteMailboxName(session, mailbox.name)} (${items.map((i) => `${i} ${value[i]}`).join(' ')})`;
}

export const status: CommandSpec = {
  states: ['authenticated', 'selected'],
  async handler(session, command) {
    argCount(command, 2);
    const name = readMailboxName(session, command.args[0]);
    const items = statusItems(list(command.args[1], 'status items'));
    const mailbox = await findMailbox(session.ctx.services.db, session.account!.id, name);
    if (!mailbox) throw no('NONEXISTENT', 'No such mailbox');
    session.write((await statusLine(session, mailbox, items)) + '\r\n');
  }
};
