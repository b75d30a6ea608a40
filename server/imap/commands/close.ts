// CLOSE (RFC 9051 §6.4.1: expunges silently unless read-only) and UNSELECT (RFC 3691).
import type { CommandSpec, ImapSession } from '../session.js';
import { expungeDeleted } from '../../store/mailbox-messages.js';

export async function expungeAndPublish(session: ImapSession, ranges?: Array<[number, number]>) {
  const { services } = session.ctx;
  const selected = session.selected!;
  const result = await services.writes.run((tx) => expungeDeleted(tx, selected.mailbox, ranges));
  await services.blobs.unlinkUnreferenced(services.db, result.freed);
  if (result.uids.length) session.publish({ mailboxId: selected.mailbox.id, kind: 'expunge', uids: result.uids, modseq: result.modseq });
  return result;
}

function leave(expunge: boolean): CommandSpec {
  return {
    states: ['selected'],
    async handler(session) {
      if (expunge && !session.selected!.readOnly) await expungeAndPublish(session);
      session.selected = null;
      session.state = 'authenticated';
    }
  };
}

export const close = leave(true);
export const unselect = leave(false);
