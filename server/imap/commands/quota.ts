// GETQUOTA and GETQUOTAROOT (RFC 9208): one storage quota per account (root ""), in KiB as the RFC counts.
import type { CommandSpec, ImapSession } from '../session.js';
import { no } from '../errors.js';
import { astring } from './args.js';
import { quoteMailboxName, readMailboxName } from './names.js';
import { findMailbox } from '../../store/mailboxes.js';

async function quotaLine(session: ImapSession): Promise<string> {
  const account = await session.ctx.services.db.selectFrom('accounts').select(['quota', 'used_bytes']).where('id', '=', session.account!.id).executeTakeFirstOrThrow();
  if (!account.quota) return '* QUOTA "" ()';
  return `* QUOTA "" (STORAGE ${Math.ceil(account.used_bytes / 1024)} ${Math.floor(account.quota / 1024)})`;
}

export const getquota: CommandSpec = {
  states: ['authenticated', 'selected'],
  async handler(session, command) {
    if (astring(command.args[0], 'a quota root') !== '') throw no('NONEXISTENT', 'No such quota root');
    session.write((await quotaLine(session)) + '\r\n');
  }
};

export const getquotaroot: CommandSpec = {
  states: ['authenticated', 'selected'],
  async handler(session, command) {
    const name = readMailboxName(session, command.args[0]);
    const mailbox = await findMailbox(session.ctx.services.db, session.account!.id, name);
    if (!mailbox) throw no('NONEXISTENT', 'No such mailbox');
    session.write(`* QUOTAROOT ${quoteMailboxName(session, mailbox.name)} ""\r\n${await quotaLine(session)}\r\n`);
  }
};
