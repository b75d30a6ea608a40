// QUIT (RFC 1939 §6): in TRANSACTION the UPDATE state removes DELE'd messages and marks retrieved ones \Seen in one
// transaction, tells IMAP sessions through the notifier, answers, closes the connection, then unlinks freed files.
import { commitMaildrop } from '../../store/maildrop.js';
import type { CommandSpec, Pop3Session } from '../session.js';
import { noArguments } from './list.js';

/** The UPDATE state: the line QUIT ends with, and the message files the commit freed. */
async function update(session: Pop3Session): Promise<{ reply: string; freed: string[] }> {
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
    session.log.info({ deleted: result.expunged.uids.length, seen: result.seen.length }, 'maildrop updated');
    return { reply: `+OK Postfach POP3 signing off (${count} messages left)`, freed: result.expunged.freed };
  } catch (err) {
    session.log.error({ err }, 'maildrop update failed');
    // RFC 1939 §6: the connection closes either way; the transaction rolled back, so nothing was removed
    return { reply: '-ERR [SYS/TEMP] Deleted messages were not removed; try again', freed: [] };
  }
}

export const quit: CommandSpec = {
  states: ['authorization', 'transaction'],
  async handler(session, command) {
    noArguments(command);
    let outcome = { reply: '+OK Postfach POP3 signing off', freed: [] as string[] };
    if (session.state === 'transaction') {
      session.state = 'update';
      outcome = await update(session);
    }
    session.write(`${outcome.reply}\r\n`);
    session.end();
    // after the commit and the reply: a file whose unlink fails is swept at the next start
    const { blobs, db } = session.ctx.services;
    await blobs.unlinkUnreferenced(db, outcome.freed).catch((err: unknown) => session.log.error({ err }, 'unlinking message files failed'));
  }
};
