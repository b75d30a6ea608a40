// QUIT (RFC 1939 §6): in TRANSACTION the UPDATE state removes DELE'd messages and marks retrieved ones \Seen in one
// transaction, tells IMAP sessions through the notifier, then the connection closes.
import { commitMaildrop } from '../../store/maildrop.js';
import type { CommandSpec, Pop3Session } from '../session.js';

/** The UPDATE state; answers the line QUIT ends with. */
async function update(session: Pop3Session): Promise<string> {
  const { services } = session.ctx;
  const maildrop = session.maildrop!;
  const uidOf = (number: number) => maildrop.messages[number - 1].uid;
  const deleted = [...session.deleted].map(uidOf);
  const retrieved = [...session.retrieved].filter((n) => !session.deleted.has(n)).map(uidOf);
  const { count } = session.summary();
  try {
    const result = await services.writes.run((tx) => commitMaildrop(tx, maildrop.mailbox.id, { deleted, retrieved }));
    const base = { accountId: session.account!.id, mailboxId: maildrop.mailbox.id, origin: session.id };
    if (result.seen.length) services.notifier.publish({ ...base, kind: 'flags', uids: result.seen.map((c) => c.uid), modseq: Math.max(...result.seen.map((c) => c.modseq)) });
    if (result.expunged.uids.length) services.notifier.publish({ ...base, kind: 'expunge', uids: result.expunged.uids, modseq: result.expunged.modseq });
    // committed: a file left behind by a failed unlink is swept at the next start, the reply stays +OK
    await services.blobs.unlinkUnreferenced(services.db, result.expunged.freed).catch((err: unknown) => session.log.error({ err }, 'unlinking message files failed'));
    session.log.info({ deleted: result.expunged.uids.length, seen: result.seen.length }, 'maildrop updated');
    return `+OK Postfach POP3 signing off (${count} messages left)`;
  } catch (err) {
    session.log.error({ err }, 'maildrop update failed');
    // RFC 1939 §6: the connection closes either way; the transaction rolled back, so nothing was removed
    return '-ERR [SYS/TEMP] Deleted messages were not removed; try again';
  }
}

export const quit: CommandSpec = {
  states: ['authorization', 'transaction'],
  async handler(session) {
    let reply = '+OK Postfach POP3 signing off';
    if (session.state === 'transaction') {
      session.state = 'update';
      reply = await update(session);
    }
    session.write(`${reply}\r\n`);
    session.end();
  }
};
