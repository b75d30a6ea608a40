// CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE (RFC 9051 §6.3.4-8), with USEOPT special-use on CREATE (RFC 6154 §3).
import type { CommandSpec } from '../session.js';
import { writeTransaction } from '../../db/transaction.js';
import { createMailbox, mailboxById, MailboxError, renameMailbox, requireMailbox, setSubscribed } from '../../store/mailboxes.js';
import { deleteMailbox, moveMessages } from '../../store/mailbox-messages.js';
import { bad, no } from '../errors.js';
import { argCount, atom, list } from './args.js';
import { readMailboxName } from './names.js';

const SPECIAL_USES = new Set(['\\All', '\\Archive', '\\Drafts', '\\Flagged', '\\Junk', '\\Sent', '\\Trash']);

/** Store errors carry the IMAP response code they map to. */
export function mailboxFailure(err: unknown): never {
  if (err instanceof MailboxError) throw no(err.code, err.message);
  throw err;
}

export const create: CommandSpec = {
  states: ['authenticated', 'selected'],
  async handler(session, command) {
    argCount(command, 1, 2);
    const name = readMailboxName(session, command.args[0]);
    let specialUse: string | null = null;
    if (command.args[1]) {
      const params = list(command.args[1], 'CREATE parameters');
      if (params.length !== 2 || atom(params[0], 'USE').toUpperCase() !== 'USE') throw bad('Unknown CREATE parameter');
      const uses = list(params[1], 'special-use list').map((v) => atom(v, 'a special use'));
      if (uses.length > 1) throw no('USEATTR', 'One special use per mailbox');
      const use = uses[0] ? [...SPECIAL_USES].find((u) => u.toLowerCase() === uses[0].toLowerCase()) : undefined;
      if (uses[0] && !use) throw no('USEATTR', `Unsupported special use ${uses[0]}`);
      specialUse = use ?? null;
    }
    if (name === 'INBOX') throw no('ALREADYEXISTS', 'INBOX always exists');
    await writeTransaction(session.ctx.services.db, (tx) => createMailbox(tx, session.account!.id, name, specialUse)).catch(mailboxFailure);
    session.publish({ mailboxId: 0, kind: 'mailboxes', uids: [], modseq: 0 });
  }
};

export const remove: CommandSpec = {
  states: ['authenticated', 'selected'],
  async handler(session, command) {
    argCount(command, 1);
    const name = readMailboxName(session, command.args[0]);
    const { services } = session.ctx;
    const result = await writeTransaction(services.db, (tx) => deleteMailbox(tx, session.account!.id, name)).catch(mailboxFailure);
    await services.blobs.unlinkUnreferenced(services.db, result.freed);
    if (session.selected?.mailbox.id === result.mailbox.id) {
      session.selected = null;
      session.state = 'authenticated';
    }
    session.publish({ mailboxId: result.mailbox.id, kind: 'expunge', uids: [], modseq: 0 });
  }
};

export const rename: CommandSpec = {
  states: ['authenticated', 'selected'],
  async handler(session, command) {
    argCount(command, 2);
    const from = readMailboxName(session, command.args[0]);
    const to = readMailboxName(session, command.args[1]);
    const { services } = session.ctx;
    const accountId = session.account!.id;
    let emptiedInbox = 0;
    await writeTransaction(services.db, async (tx) => {
      if (from === 'INBOX') {
        // RFC 9051 §6.3.6: renaming INBOX moves its messages to the new name and leaves INBOX empty
        const inbox = await requireMailbox(tx, accountId, 'INBOX');
        const target = await createMailbox(tx, accountId, to);
        await moveMessages(tx, inbox, [[1, 0xffffffff]], target);
        emptiedInbox = inbox.id;
      } else await renameMailbox(tx, accountId, from, to);
    }).catch(mailboxFailure);
    // sessions with INBOX selected learn that its messages left (they catch up through the expunge log)
    if (emptiedInbox) session.publish({ mailboxId: emptiedInbox, kind: 'expunge', uids: [], modseq: 0 });
    if (session.selected) {
      const fresh = await mailboxById(services.db, session.selected.mailbox.id);
      if (fresh) session.selected.mailbox = fresh;
      if (from === 'INBOX') session.selected.dirty = true;
    }
    session.publish({ mailboxId: 0, kind: 'mailboxes', uids: [], modseq: 0 });
  }
};

function subscription(subscribed: boolean): CommandSpec {
  return {
    states: ['authenticated', 'selected'],
    async handler(session, command) {
      argCount(command, 1);
      const name = readMailboxName(session, command.args[0]);
      await writeTransaction(session.ctx.services.db, (tx) => setSubscribed(tx, session.account!.id, name, subscribed)).catch(mailboxFailure);
    }
  };
}

export const subscribe = subscription(true);
export const unsubscribe = subscription(false);
