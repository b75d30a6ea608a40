// GETQUOTA and GETQUOTAROOT (RFC 9208): one storage quota per account (root ""), in KiB as the RFC counts.
import type { CommandSpec, ImapSession } from '../session.js';
import { no } from '../errors.js';
import { astring } from './args.js';
import { quoteMailboxName, readMailboxName } from './names.js';
import { findMailbox } from '../../store/mailboxes.js';
import { quotaUsage } from '../../store/mailbox-messages.js';

/** The QUOTA line, or null for an account without a limit (RFC 9208 §5.1 needs at least one resource). */
async function quotaLine(session: ImapSession): Promise<string | null> {
  const account = await quotaUsage(session.ctx.services.db, session.account!.id);
  if (!account.quota) return null;
  return `* QUOTA "" (STORAGE ${Math.ceil(account.used_bytes / 1024)} ${Math.floor(account.quota / 1024)})`;
}

export const getquota: CommandSpec = {
  states: ['authenticated', 'selected'],
  async handler(session, command) {
    if (astring(command.args[0], 'a quota root') !== '') throw no('NONEXISTENT', 'No such quota root');
    const line = await quotaLine(session);
    if (!line) throw no('NONEXISTENT', 'This account has no quota');
    session.write(line + '\r\n');
  }
};

export const getquotaroot: CommandSpec = {
  states: ['authenticated', 'selected'],
  async handler(session, command) {
    const name = readMailboxName(session, command.args[0]);
    const mailbox = await findMailbox(session.ctx.services.db, session.account!.id, name);
    if (!mailbox) throw no('NONEXISTENT', 'No such mailbox');
    const line = await quotaLine(session);
    // an account without a limit has no quota root (RFC 9208 §4.3.2)
    session.write(line ? `* QUOTAROOT ${quoteMailboxName(session, mailbox.name)} ""\r\n${line}\r\n` : `* QUOTAROOT ${quoteMailboxName(session, mailbox.name)}\r\n`);
  }
};
