// COPY and MOVE (RFC 9051 §6.4.7-8, RFC 6851) with COPYUID (RFC 4315 §3).
import type { CommandSpec, ImapSession } from '../session.js';
import type { ImapCommand } from '../parser.js';
import { bad, no } from '../errors.js';
import { readMailboxName } from './names.js';
import { resolveSet } from './sets.js';
import { compactSet } from '../sequence.js';
import { findMailbox } from '../../store/mailboxes.js';
import { copyMessages, moveMessages, quotaUsage, type CopyResult } from '../../store/mailbox-messages.js';

export async function runCopy(session: ImapSession, command: ImapCommand, args: ImapCommand['args'], byUid: boolean, move: boolean) {
  if (args.length !== 2) throw bad(`Wrong number of arguments for ${byUid ? 'UID ' : ''}${move ? 'MOVE' : 'COPY'}`);
  const selected = session.selected!;
  if (move && selected.readOnly) throw no('READ-ONLY', 'Mailbox is read-only');
  const ranges = resolveSet(session, args[0], byUid);
  const { services } = session.ctx;
  const target = await findMailbox(services.db, session.account!.id, readMailboxName(session, args[1]));
  if (!target) throw no('TRYCREATE', 'No such mailbox');
  // quota: copies count against the account (RFC 9208 §4.1.1 OVERQUOTA)
  const account = await quotaUsage(services.db, session.account!.id);
  if (!move && account.quota && account.used_bytes >= account.quota) throw no('OVERQUOTA', 'Mailbox is full');
  const result: CopyResult & { expunged?: { uids: number[]; modseq: number; freed: string[] } } = await services.writes.run((tx) =>
    move ? moveMessages(tx, selected.mailbox, ranges, target) : copyMessages(tx, selected.mailbox, ranges, target)
  );
  const verb = move ? 'MOVE' : 'COPY';
  if (!result.sourceUids.length) return { text: `${byUid ? 'UID ' : ''}${verb} completed, nothing matched` };
  session.publish({ mailboxId: target.id, kind: 'exists', uids: result.targetUids, modseq: result.modseq });
  if (target.id === selected.mailbox.id) selected.dirty = true;
  const copyuid = `COPYUID ${result.uidvalidity} ${compactSet(result.sourceUids)} ${compactSet(result.targetUids)}`;
  if (!move) return { code: copyuid, text: `${byUid ? 'UID ' : ''}COPY completed` };
  // RFC 6851 §4.3: COPYUID goes in an untagged OK before the expunges
  session.write(`* OK [${copyuid}] Moved\r\n`);
  const expunged = result.expunged;
  if (expunged?.uids.length) {
    services.blobs.unlinkUnreferenced(services.db, expunged.freed).catch(() => 0);
    session.publish({ mailboxId: selected.mailbox.id, kind: 'expunge', uids: expunged.uids, modseq: expunged.modseq });
    const lines = selected.expungeLines(expunged.uids, session.enabled.has('QRESYNC'));
    if (lines.length) session.write(lines.join('\r\n') + '\r\n');
  }
  return { text: `${byUid ? 'UID ' : ''}MOVE completed` };
}

export const copy: CommandSpec = {
  states: ['selected'],
  holdsExpunge: true,
  handler: (session, command) => runCopy(session, command, command.args, false, false)
};

export const move: CommandSpec = {
  states: ['selected'],
  holdsExpunge: true,
  handler: (session, command) => runCopy(session, command, command.args, false, true)
};
